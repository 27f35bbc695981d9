"""Hello-world throughput of the Python HTTP stacks considered for Tessera, side by side.

Each server answers every request with the same fixed ~600-byte JSON body
(``benchlib.FIXED_BODY``), once from a bare ASGI callable and once from a Starlette route:

- granian's embedded server, run exactly as ``tessera serve`` runs it (``hello_apps.py``);
- the granian command line, ``granian --interface asgi`` (one worker, its default event loop);
- uvicorn with httptools and uvloop.

The load is ``wrk -t1 -c16`` replaying one GET request (``replay.lua``); server and client
share the machine's cores.

A hello world only shows a stack's own cost. The second table serves Tessera's real app on
each stack (``tessera serve`` itself, and ``tessera_stacks.py``) and drives it with pre-signed
V1 AssumeRole requests, as ``assume_role.py`` does: with a handler that holds the GIL for a few
hundred µs, how a stack hands requests to Python matters more than its hello-world figure.

Run: ``python bench/http_stack.py [--quick] [--hello-only]``; the tables go to
``bench/results/http_stack.md`` (raw figures in ``http_stack.json``).
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from assume_role import (
    TESSERA_STACKS,
    Plan,
    SignedSource,
    _v1_requests,
    run_signed,
    setup_tessera,
    start_tessera,
    tessera_error_codes,
)
from benchlib import (
    BENCH_DIR,
    ServerProcess,
    Wrk,
    WrkResult,
    free_port,
    machine_line,
    markdown_table,
    measure,
    ms,
    raw_request,
    require_tool,
    source_state,
    write_requests,
    write_results,
)


@dataclass(frozen=True)
class Stack:
    label: str
    app: str  # "raw" or "starlette"

    def command(self, port: int) -> list[str]:
        target = f"hello_apps:{self.app}_app"
        if self.label.startswith("granian embedded"):
            return [
                sys.executable,
                str(BENCH_DIR / "hello_apps.py"),
                "--app",
                self.app,
                "--port",
                str(port),
            ]
        if self.label.startswith("granian CLI"):
            return [
                require_tool("granian"),
                "--interface",
                "asgi",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
                "--no-ws",
                "--log-level",
                "warning",
                "--working-dir",
                str(BENCH_DIR),
                target,
            ]
        return [
            sys.executable,
            "-m",
            "uvicorn",
            "--http",
            "httptools",
            "--loop",
            "uvloop",
            "--no-access-log",
            "--log-level",
            "warning",
            "--app-dir",
            str(BENCH_DIR),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            target,
        ]


STACKS = [
    Stack(label, app)
    for label in (
        "granian embedded (as tessera serve)",
        "granian CLI --interface asgi",
        "uvicorn (httptools, uvloop)",
    )
    for app in ("raw", "starlette")
]


def run_stack(stack: Stack, wrk: Wrk, workdir: Path, warmup: float, duration: float) -> WrkResult:
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    requests_file = workdir / f"hello-{port}.req"
    write_requests(requests_file, [raw_request("GET", url, [], None)])
    server = ServerProcess(stack.label, stack.command(port), workdir / f"server-{port}.log")
    try:
        server.start(url)
        return measure(
            wrk, server, url, requests_file, warmup=warmup, duration=duration, cycle=True
        )
    finally:
        server.stop()


def run_tessera_stack(stack: str, plan: Plan) -> tuple[WrkResult, dict[str, int]]:
    server, endpoint = start_tessera(plan.workdir, f"stack-{stack}", stack)
    try:
        key_id, secret, role_arn = setup_tessera(endpoint)
        source = SignedSource(_v1_requests, endpoint, key_id, secret, role_arn, True, plan.pool)
        outcome = run_signed(
            plan, stack, TESSERA_STACKS[stack], server, source, tessera_error_codes, True
        )
        return outcome.result, outcome.error_codes
    finally:
        server.stop()


def result_row(label: str, app: str, result: WrkResult) -> list[str]:
    return [
        label,
        app,
        f"{result.rps:,.0f}",
        ms(result.p50_us),
        ms(result.p99_us),
        f"{result.cpu_us_per_request:.0f}",
        str(result.non_2xx + result.socket_errors),
        f"{result.other_load_pct:.0f}",
    ]


HEADER = [
    "server",
    "app",
    "req/s",
    "p50 ms",
    "p99 ms",
    "server CPU µs/req",
    "errors",
    "other load %",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per row")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per row")
    parser.add_argument("--quick", action="store_true", help="2 s per row (smoke run)")
    parser.add_argument(
        "--hello-only", action="store_true", help="skip the table with Tessera's own app"
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=20.0,
        help="before each wrk run wait up to S s for the machine to be idle (0: never)",
    )
    args = parser.parse_args()
    if args.quick:
        args.duration, args.warmup = 2.0, 1.0

    wrk = Wrk(quiet_wait=args.quiet_wait)
    rows: list[list[str]] = []
    tessera_rows: list[list[str]] = []
    raw: dict[str, Any] = {
        "machine": machine_line(),
        "source": source_state(),
        "duration_s": args.duration,
        "runs": [],
        "tessera_runs": [],
    }
    context = multiprocessing.get_context("fork")
    with (
        tempfile.TemporaryDirectory(prefix="tessera-bench-") as tmp,
        context.Pool(2) as pool,
    ):
        for stack in STACKS:
            print(f"  hello: {stack.label} / {stack.app} ...", flush=True)
            result = run_stack(stack, wrk, Path(tmp), args.warmup, args.duration)
            raw["runs"].append({"stack": stack.label, "app": stack.app, **result.as_dict()})
            app = "bare ASGI" if stack.app == "raw" else "Starlette route"
            rows.append(result_row(stack.label, app, result))
        if not args.hello_only:
            plan = Plan(args.warmup, args.duration, 6000.0, Path(tmp), wrk, pool)
            for key, label in TESSERA_STACKS.items():
                print(f"  tessera: {label} ...", flush=True)
                result, codes = run_tessera_stack(key, plan)
                raw["tessera_runs"].append(
                    {"stack": label, **result.as_dict(), "error_codes": codes}
                )
                tessera_rows.append(result_row(label, "Tessera, AssumeRole V1", result))
    markdown = (
        "# HTTP stack\n\n"
        f"wrk -t{wrk.threads} -c{wrk.connections}, {args.duration:.0f} s per row after "
        f"{args.warmup:.0f} s warm-up; one run, rows measured one after another, each on a "
        f'fresh server.\nMachine: {raw["machine"]}; {raw["source"]}. "other load": CPU '
        "used during the run by other user processes (not the server, not wrk), in % of one "
        "core; a row with more than a few % was disturbed.\n\n"
        "## Hello world (fixed ~600-byte JSON)\n\n"
        f"{markdown_table(HEADER, rows, 2)}\n"
    )
    if tessera_rows:
        markdown += (
            "\n## Tessera's app on each stack (pre-signed V1 AssumeRole, each sent once)\n\n"
            f"{markdown_table(HEADER, tessera_rows, 2)}\n"
        )
    md_path, json_path = write_results("http_stack", markdown, raw)
    print()
    print(markdown)
    print(f"written: {md_path} and {json_path}")


if __name__ == "__main__":
    main()
