"""Where Tessera spends its CPU on AssumeRole under load: py-spy on a real server.

Starts Tessera as ``assume_role.py`` does (fresh data dir, RAM user with
AliyunSTSAssumeRoleAccess, role trusting the root), drives it with ``wrk -t1 -c16`` replaying
pre-signed V1 or V3 AssumeRole requests, and meanwhile samples the server with
``py-spy record --format raw``. Prints the functions with the most samples, by self time and
by inclusive time (share of all samples), and writes the collapsed stacks (for a flame graph
tool or speedscope) to ``bench/results/profile_assume_role_<sig>.txt``.

``--mode inprocess`` needs no py-spy: it signs the requests against a real server (which
also sets up the RAM user and role), stops it, opens the same data directory in this process
with ``tessera.runtime.build_runtime`` and calls the ASGI app directly, without HTTP: it prints
the µs per request of the application alone, then a cProfile of the same loop in µs per
request (cProfile's own overhead inflates the figures; read them as shares).

Needs py-spy (``pip install py-spy``) and permission to ptrace the child server.
Run: ``python bench/profile_assume_role.py [--mode pyspy|inprocess] [--signature v1|v3]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import math
import multiprocessing
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from assume_role import (
    SignedSource,
    _v1_requests,
    _v3_requests,
    send_raw,
    setup_tessera,
    start_tessera,
)
from benchlib import RESULTS_DIR, Wrk, WrkResult


def frame_name(frame: str) -> str:
    """``func (path/to/module.py:123)`` → ``func (module.py)``; per-line detail dropped."""
    func, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    marker = "site-packages/"
    if marker in path:
        path = path.split(marker, 1)[1]
    elif "/src/" in path:
        path = path.split("/src/", 1)[1]
    return f"{func} ({path})"


def summarize(collapsed: str, top: int, cpu_us_per_request: float) -> str:
    """Self and inclusive sample shares per function; with the server's CPU per request,
    each share is also shown as µs per request (share x CPU/request)."""
    self_samples: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        if not stack.strip():
            # a thread running native code with no Python frame: granian's Rust I/O threads
            stack = "(native, no Python frame: granian I/O threads)"
        frames = [frame_name(f) for f in stack.split(";")]
        self_samples[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count

    def row(name: str, n: int) -> str:
        return f"  {n / total:6.1%} {n / total * cpu_us_per_request:7.1f} µs  {name}"

    lines = [
        f"{total} samples over all threads; server CPU {cpu_us_per_request:.0f} µs/request",
        "",
        "self time (share, ≈ µs/request):",
    ]
    lines += [row(name, n) for name, n in self_samples.most_common(top)]
    lines += ["", "inclusive time (share, ≈ µs/request):"]
    lines += [row(name, n) for name, n in inclusive.most_common(top * 2)]
    return "\n".join(lines)


def asgi_call(raw: bytes) -> tuple[dict[str, Any], bytes]:
    """An ASGI HTTP scope and body for one raw request."""
    head, _, body = raw.partition(b"\r\n\r\n")
    request_line, *header_lines = head.decode("latin-1").split("\r\n")
    method, target, _ = request_line.split(" ", 2)
    parts = urlsplit(target)
    headers = []
    for line in header_lines:
        name, _, value = line.partition(":")
        headers.append((name.strip().lower().encode("latin-1"), value.strip().encode("latin-1")))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": parts.path or "/",
        "raw_path": (parts.path or "/").encode(),
        "query_string": parts.query.encode("latin-1"),
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 80),
    }
    return scope, body


async def drive(
    app: Any, calls: list[tuple[dict[str, Any], bytes]], concurrency: int = 1
) -> Counter[int]:
    """Each call once, ``concurrency`` at a time, from tasks on the running loop; the
    statuses answered."""
    statuses: Counter[int] = Counter()
    queue = iter(calls)

    async def worker() -> None:
        for scope, body in queue:

            async def receive(body: bytes = body) -> dict[str, Any]:
                return {"type": "http.request", "body": body, "more_body": False}

            async def send(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    statuses[message["status"]] += 1

            await app(scope, receive, send)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return statuses


#: Pipeline stages timed in-process (inclusive wall time per call), "module:qualname".
STAGES = [
    "tessera.web.server:TesseraApp._dispatch",
    "tessera.web.server:read_body",
    "tessera.rpc.app:parse_query",
    "tessera.rpc.app:RpcApp.handle",
    "tessera.rpc.app:RpcApp._prepare",
    "tessera.rpc.app:RpcApp._classify_v1",
    "tessera.rpc.app:RpcApp._classify_v3",
    "tessera.signing.pop_v1:verify",
    "tessera.signing.acs3:verify",
    "tessera.identity.resolve:Authenticator.authenticate",
    "tessera.rpc.app:NonceCache.check_and_remember",
    "tessera.rpc.sts_handlers:condition_context",
    "tessera.sts.assume_role:AssumeRoleService.assume_role",
    "tessera.sts.assume_role:AssumeRoleService._authorize",
    "tessera.identity.authorize:authorize",
    "tessera.sts.assume_role:AssumeRoleService._trust",
    "tessera.sts.assume_role:AssumeRoleService._issue",
    "tessera.ids:sts_access_key_id",
    "tessera.sts.tokens:TokenService.mint",
    "tessera.rpc.render:success",
    "tessera.web.server:TesseraApp._respond",
    "tessera.accesslog:AccessRecord.emit",
    "tessera.accesslog:AccessLog.write",
    "tessera.ids:request_id",
]


class StageTimer:
    """Wraps functions named in ``STAGES`` (and every module-level alias of them in
    ``tessera.*``) with a perf_counter accumulator; ``restore`` puts the originals back."""

    def __init__(self, names: list[str]) -> None:
        self.totals: dict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()
        self._undo: list[tuple[Any, str, Any]] = []
        self.missing: list[str] = []
        for name in names:
            self._wrap(name)

    def _wrap(self, name: str) -> None:
        import importlib
        import inspect

        module_name, _, qualname = name.partition(":")
        module = importlib.import_module(module_name)
        owner: Any = module
        *path, attr = qualname.split(".")
        for part in path:
            owner = getattr(owner, part, None)
        original = inspect.getattr_static(owner, attr, None) if owner is not None else None
        if original is None:  # the code moved on; say so rather than fail
            self.missing.append(name)
            return
        function = original.__func__ if isinstance(original, staticmethod) else original
        totals, calls = self.totals, self.calls
        if inspect.iscoroutinefunction(function):

            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return await function(*args, **kwargs)
                finally:
                    totals[name] += time.perf_counter() - started
                    calls[name] += 1

            wrapper: Any = timed_async
        else:

            def timed(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return function(*args, **kwargs)
                finally:
                    totals[name] += time.perf_counter() - started
                    calls[name] += 1

            wrapper = timed
        if isinstance(original, staticmethod):
            wrapper = staticmethod(wrapper)
        targets = [(owner, attr)]
        if owner is module:  # also the names other modules imported it under
            targets += [
                (other, key)
                for mod_name, other in list(sys.modules.items())
                if mod_name.startswith("tessera") and other is not module
                for key, value in list(vars(other).items())
                if value is original
            ]
        for target, key in targets:
            self._undo.append((target, key, original))
            setattr(target, key, wrapper)

    def restore(self) -> None:
        for target, key, original in reversed(self._undo):
            setattr(target, key, original)

    def report(self, requests: int) -> str:
        lines = [f"{'stage (inclusive)':<58} {'calls/req':>9} {'µs/req':>8}"]
        for name, _ in sorted(self.totals.items(), key=lambda item: -item[1]):
            lines.append(
                f"{name:<58} {self.calls[name] / requests:9.2f} "
                f"{self.totals[name] / requests * 1e6:8.1f}"
            )
        if self.missing:
            lines.append(f"(not found, not timed: {', '.join(self.missing)})")
        return "\n".join(lines)


def in_process(source: SignedSource, data_dir: Path, port: int, count: int, top: int) -> None:
    from tessera.config import Settings
    from tessera.runtime import build_runtime, configure_logging

    calls = [asgi_call(raw) for raw in source.generate(3 * count)]
    settings = Settings(data_dir=data_dir, port=port)
    log_file = (data_dir.parent / "inprocess-access.log").open("w")
    with contextlib.redirect_stderr(log_file):  # the access log goes where stderr is now
        configure_logging(settings)
        runtime = build_runtime(settings)
    try:
        started, cpu_started = time.perf_counter(), time.process_time()
        statuses = asyncio.run(drive(runtime.app, calls[:count]))
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        print(
            f"in-process, no HTTP: {count} requests, statuses {dict(statuses)}, "
            f"{wall / count * 1e6:.1f} µs/request wall, {cpu / count * 1e6:.1f} µs CPU"
        )
        timer = StageTimer(STAGES)
        try:
            asyncio.run(drive(runtime.app, calls[count : 2 * count]))
        finally:
            timer.restore()
        print("\nstages (perf_counter around each; ~0.2 µs added per timed call):")
        print(timer.report(count))
        profiler = cProfile.Profile()
        profiler.enable()
        asyncio.run(drive(runtime.app, calls[2 * count :]))
        profiler.disable()
    finally:
        runtime.close()
        log_file.close()
    import pstats

    for order in ("tottime", "cumulative"):
        stream = io.StringIO()
        stats = pstats.Stats(profiler, stream=stream)
        stats.sort_stats(order).print_stats(top)
        print(f"\ncProfile by {order} (seconds for {count} requests; x{1e6 / count:.0f} = µs/req)")
        print(stream.getvalue().split("ncalls", 1)[-1].join(["   ncalls", ""]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--mode", choices=["pyspy", "inprocess"], default="pyspy")
    parser.add_argument("--signature", choices=["v1", "v3"], default="v1")
    parser.add_argument("--requests", type=int, default=5000, help="inprocess: requests per loop")
    parser.add_argument("--seconds", type=int, default=10, help="sampling time")
    parser.add_argument("--rate", type=int, default=250, help="samples per second")
    parser.add_argument("--expected-rps", type=float, default=4000.0, help="sizes the request list")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or ""
    if args.mode == "pyspy" and not py_spy:
        raise SystemExit("py-spy not found: pip install py-spy")

    wrk = Wrk()
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"profile_assume_role_{args.signature}.txt"
    context = multiprocessing.get_context("fork")
    with tempfile.TemporaryDirectory(prefix="tessera-profile-") as tmp, context.Pool(2) as pool:
        workdir = Path(tmp)
        server, endpoint = start_tessera(workdir, f"profile-{args.signature}")
        try:
            key_id, secret, role_arn = setup_tessera(endpoint)
            generator = _v1_requests if args.signature == "v1" else _v3_requests
            source = SignedSource(generator, endpoint, key_id, secret, role_arn, True, pool)
            status, body = send_raw(int(endpoint.rsplit(":", 1)[1]), source.generate(1)[0])
            if status != 200:
                raise SystemExit(f"probe answered {status}: {body[:300]!r}")
            if args.mode == "inprocess":
                server.stop()
                port = int(endpoint.rsplit(":", 1)[1])
                in_process(
                    source,
                    workdir / f"profile-{args.signature}-data",
                    port,
                    args.requests,
                    args.top,
                )
                return
            load_seconds = args.seconds + 2
            count = math.ceil(args.expected_rps * load_seconds * 1.5)
            requests_file = source.write(workdir / "profile.req", count)
            collapsed = workdir / "collapsed.txt"
            results: list[WrkResult] = []
            load = threading.Thread(
                target=lambda: results.append(
                    wrk.run(f"http://{endpoint}/", requests_file, load_seconds, server)
                ),
                daemon=True,
            )
            load.start()
            subprocess.run(
                [
                    py_spy,
                    "record",
                    "--pid",
                    str(server.pid),
                    "--duration",
                    str(args.seconds),
                    "--rate",
                    str(args.rate),
                    "--format",
                    "raw",
                    "--output",
                    str(collapsed),
                    "--nonblocking",
                ],
                check=True,
                capture_output=True,
            )
            load.join()
            text = collapsed.read_text()
        finally:
            server.stop()
    out.write_text(text)
    load_result = results[0]
    print(
        f"load: {load_result.rps:,.0f} req/s, {load_result.non_2xx} non-2xx, "
        f"{load_result.cpu_us_per_request:.0f} µs server CPU/request (py-spy running)\n"
    )
    print(summarize(text, args.top, load_result.cpu_us_per_request))
    print(f"\ncollapsed stacks: {out}")


if __name__ == "__main__":
    main()
