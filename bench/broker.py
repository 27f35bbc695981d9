"""Token broker: credential responses per second with the cache, and with every request a new
AssumeRole, and their ratio (target: cached >= 20x uncached).

One Tessera (``tessera serve``) and one ``tessera broker`` process, each on a free loopback
port with data in a temp dir. Set-up with the official RAM client and the root key, as
``assume_role.py`` does: a RAM user with ``AliyunSTSAssumeRoleAccess`` (the app server) and a
role trusting the account root. The broker config holds ``--users`` app users (default 1000),
each with its own API key, and two templates that differ only in ``cache``: ``cached``
(one token per user, reused while more than 1800 s of it remain) and ``uncached``
(``cache = false``: every request is an AssumeRole through ``alibabacloud-sts20150401`` to
Tessera). Both fill the same per-user-prefix session policy; rate limits are off.

Load client: ``wrk -t1 -c16 --latency`` replaying ``GET /v1/credentials/<template>`` with
``Authorization: Bearer <key>``, one request per user, round and round (``replay.lua``
cycle mode). Before the cached run every user's token is fetched once (so the run measures
the hit path; the count of AssumeRole calls during each measured run is read from the
broker's audit log and reported). Server CPU: the broker's and Tessera's process trees,
each per response. Run ``python bench/broker.py [--quick] [--duration S] [--users N]``;
writes ``bench/results/broker.md`` and ``broker.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from assume_role import setup_tessera, start_tessera
from benchlib import (
    ServerProcess,
    Wrk,
    WrkResult,
    free_port,
    machine_line,
    markdown_table,
    measure,
    ms,
    raw_request,
    source_state,
    tree_cpu_seconds,
    write_requests,
    write_results,
)

from tessera.broker.auth import generate_api_key, hash_api_key

POLICY = (
    '{"Version": "1", "Statement": [{"Effect": "Allow", "Action": ["oss:GetObject", '
    '"oss:PutObject"], "Resource": ["acs:oss:*:*:bench-bucket/users/${user_id}/*"]}]}'
)
TARGET_RATIO = 20.0


def broker_config(
    port: int, data_dir: Path, sts: str, key_id: str, secret: str, role_arn: str, keys: list[str]
) -> str:
    lines = [
        "[broker]",
        f"port = {port}",
        f'data_dir = "{data_dir}"',
        "[sts]",
        f'endpoint = "http://{sts}"',
        f'access_key_id = "{key_id}"',
        f'access_key_secret = "{secret}"',
        "[rate_limit]",
        "per_user_per_second = 0",
        "assume_role_per_second = 0",
    ]
    for template, cache in (("cached", "true"), ("uncached", "false")):
        lines += [
            f"[templates.{template}]",
            f'role_arn = "{role_arn}"',
            f"cache = {cache}",
            f"policy = '{POLICY}'",
        ]
    for index, key in enumerate(keys):
        lines += [
            "[[api_keys]]",
            f'user_id = "user{index:05d}"',
            f'key_sha256 = "{hash_api_key(key)}"',
        ]
    return "\n".join(lines) + "\n"


def token_requests(url: str, template: str, keys: list[str]) -> list[bytes]:
    return [
        raw_request(
            "GET", f"{url}/v1/credentials/{template}", [("Authorization", f"Bearer {key}")], None
        )
        for key in keys
    ]


def prime(url: str, keys: list[str]) -> int:
    """Fetch every user's cached token once (16 at a time); returns how many answered 200."""
    import httpx

    async def run() -> int:
        limit = asyncio.Semaphore(16)
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:

            async def one(key: str) -> int:
                async with limit:
                    response = await client.get(
                        "/v1/credentials/cached", headers={"Authorization": f"Bearer {key}"}
                    )
                    return response.status_code

            return sum(s == 200 for s in await asyncio.gather(*(one(k) for k in keys)))

    return asyncio.run(run())


def audit_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


@dataclass
class Run:
    key: str
    label: str
    result: WrkResult
    assume_role_calls: int
    tessera_cpu_us_per_response: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.key,
            "label": self.label,
            **self.result.as_dict(),
            "assume_role_calls_during_run": self.assume_role_calls,
            "tessera_cpu_us_per_response": round(self.tessera_cpu_us_per_response, 1),
        }


def run(
    key: str,
    label: str,
    wrk: Wrk,
    broker: ServerProcess,
    tessera: ServerProcess,
    url: str,
    requests_file: Path,
    audit: Path,
    args: argparse.Namespace,
) -> Run:
    if args.warmup > 0:
        wrk.run(url, requests_file, args.warmup, broker, cycle=True)
    calls_before = audit_lines(audit)
    tessera_before = tree_cpu_seconds(tessera.pid)
    result = measure(wrk, broker, url, requests_file, warmup=0, duration=args.duration, cycle=True)
    tessera_cpu = tree_cpu_seconds(tessera.pid) - tessera_before
    per_response = tessera_cpu / result.requests * 1e6 if result.requests else 0.0
    return Run(key, label, result, audit_lines(audit) - calls_before, per_response)


def report(runs: list[Run], args: argparse.Namespace, wrk: Wrk) -> tuple[str, dict[str, Any]]:
    by_key = {r.key: r for r in runs}
    rows = [
        [
            r.label,
            f"{r.result.rps:,.0f}",
            ms(r.result.p50_us),
            ms(r.result.p99_us),
            f"{r.result.non_2xx:,}",
            f"{r.assume_role_calls:,}",
            f"{r.result.cpu_us_per_request:,.0f}",
            f"{r.tessera_cpu_us_per_response:,.0f}",
            f"{r.result.other_load_pct:.0f}",
        ]
        for r in runs
    ]
    table = markdown_table(
        [
            "scenario",
            "responses/s",
            "p50 ms",
            "p99 ms",
            "non-2xx",
            "AssumeRole calls in run",
            "broker CPU µs/resp",
            "Tessera CPU µs/resp",
            "other load %",
        ],
        rows,
    )
    ratio = None
    if "cached" in by_key and "uncached" in by_key and by_key["uncached"].result.rps:
        ratio = by_key["cached"].result.rps / by_key["uncached"].result.rps
    lines = [
        "# Token broker: cached vs uncached credential responses",
        "",
        f"`tessera broker` in front of `tessera serve` (both on this machine), {args.users:,} app "
        f"users with API keys, `GET /v1/credentials/<template>` with `Authorization: Bearer`, one "
        f"request per user in a cycle; load client `wrk -t{wrk.threads} -c{wrk.connections} "
        f"--latency`; {args.duration:.0f} s measured after {args.warmup:.0f} s warm-up. "
        "`cached`: every user's token fetched once before, then reused (renewed only when less "
        "than 1800 s of its 3600 s remain); `uncached`: the same template with `cache = false`, "
        "every response a new AssumeRole through alibabacloud-sts20150401. Rate limits off.",
        f"Machine: {machine_line()} — broker, Tessera and wrk share the cores; {source_state()}. "
        '"AssumeRole calls in run": audit-log records written during the measured run. '
        '"other load": CPU of other user processes during the run, in % of one core.',
        "",
        table,
        "",
    ]
    if ratio is not None:
        verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
        lines.append(
            f"Ratio cached/uncached: {ratio:.1f}x ({verdict} the target of {TARGET_RATIO:.0f}x)."
        )
        lines.append("")
    markdown = "\n".join(lines).rstrip() + "\n"
    raw = {
        "machine": machine_line(),
        "source": source_state(),
        "users": args.users,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "wrk": {"threads": wrk.threads, "connections": wrk.connections},
        "scenarios": [r.as_dict() for r in runs],
        "ratio_cached_over_uncached": round(ratio, 2) if ratio is not None else None,
        "target_ratio": TARGET_RATIO,
    }
    return markdown, raw


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds")
    parser.add_argument("--users", type=int, default=1000, help="app users (API keys)")
    parser.add_argument("--quick", action="store_true", help="3 s measured, 1 s warm-up")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=20.0,
        help="before each wrk run wait up to S s for the machine to be idle (0: never)",
    )
    args = parser.parse_args()
    if args.quick:
        args.duration, args.warmup = 3.0, 1.0
    wrk = Wrk(quiet_wait=args.quiet_wait)
    keys = [generate_api_key() for _ in range(args.users)]
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="tessera-bench-broker-") as tmp:
        workdir = Path(tmp)
        tessera, endpoint = start_tessera(workdir, "tessera")
        broker: ServerProcess | None = None
        try:
            key_id, secret, role_arn = setup_tessera(endpoint)
            port = free_port()
            config = workdir / "broker.toml"
            data_dir = workdir / "broker-data"
            config.write_text(
                broker_config(port, data_dir, endpoint, key_id, secret, role_arn, keys)
            )
            url = f"http://127.0.0.1:{port}"
            broker = ServerProcess(
                "broker",
                [sys.executable, "-m", "tessera", "broker", "--config", str(config)],
                workdir / "broker.log",
            )
            broker.start(f"{url}/-/health")
            audit = data_dir / "audit.jsonl"
            print(f"  priming {len(keys)} users' cached tokens ...", flush=True)
            primed = prime(url, keys)
            if primed != len(keys):
                raise SystemExit(f"bench: only {primed} of {len(keys)} priming requests got 200")
            for template, label in (
                ("cached", "cached: token reused per (user, template)"),
                ("uncached", "uncached: every response a new AssumeRole"),
            ):
                print(f"  {template} ...", flush=True)
                requests_file = workdir / f"{template}.req"
                write_requests(requests_file, token_requests(url, template, keys))
                runs.append(
                    run(template, label, wrk, broker, tessera, url, requests_file, audit, args)
                )
        finally:
            if broker is not None:
                broker.stop()
            tessera.stop()
    markdown, raw = report(runs, args, wrk)
    md_path, json_path = write_results("broker", markdown, raw)
    print()
    print(markdown)
    print(f"written: {md_path} and {json_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
