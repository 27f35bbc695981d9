"""Where a small OSS PUT or GET spends its CPU: the ASGI app called in-process, without HTTP.

Sets up a fresh Tessera exactly as ``oss.py`` does (a child server, the official clients, a
bucket, a role with AliyunOSSFullAccess, an STS token, oss2's V4 presigned URLs for 4 KiB
objects), stops the server, then opens the same data directory in this process and calls the
app directly from ``--concurrency`` tasks on one uvloop loop, the way granian's loop runs it
under ``wrk -c16``. PUT URLs name fresh keys; GET URLs cycle over ``--objects`` stored ones.

Prints, per round, the CPU per request of each thread of this process (the event loop, the
commit writer, ...) and, with ``--profile``, cProfile of the last round. ``--keep DIR`` saves
the prepared data and requests; ``--data DIR`` runs on a fresh copy of them (for an hour, the
STS token's life). To compare two source trees, run each (``PYTHONPATH=<tree>/src``) on the
same ``--data``, alternating, several times: this machine's speed drifts from minute to minute.

Run: ``python bench/profile_oss.py put|get [--requests N] [--rounds R] [--profile]``.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from assume_role import start_tessera
from hello_apps import BODY_4K
from oss import put_small_objects, tessera_presigner, url_request
from profile_assume_role import asgi_call, drive

Call = tuple[dict[str, Any], bytes]


def thread_cpu() -> dict[str, float]:
    """CPU seconds (user + system) of each thread of this process: ``loop`` (the main thread,
    which runs the event loop) and the others by name and thread id."""
    ticks = os.sysconf("SC_CLK_TCK")
    cpu: Counter[str] = Counter()
    for task in os.listdir("/proc/self/task"):
        try:
            stat = Path(f"/proc/self/task/{task}/stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        name = "loop" if int(task) == os.getpid() else f"{comm}-{task}"
        fields = stat[stat.rindex(")") + 2 :].split()
        cpu[name] += (int(fields[11]) + int(fields[12])) / ticks
    return dict(cpu)


def prepare(workdir: Path, method: str, count: int, objects: int) -> list[Call]:
    """Set up a fresh server in ``workdir`` (data in ``workdir/profile-data``) and return
    ``count`` calls of ``method``; the server is stopped before returning."""
    import oss

    oss.URL_EXPIRES = 3600  # as long as the STS token: a kept --data serves for an hour
    server, endpoint = start_tessera(workdir, "profile")
    try:
        sign = tessera_presigner(endpoint)
        if method == "PUT":
            keys = (f"p/put-{n:08d}" for n in range(count))
            raws = [url_request("PUT", sign("PUT", key), BODY_4K) for key in keys]
        else:
            urls = put_small_objects(sign, endpoint, objects)
            raws = [url_request("GET", urls[n % objects]) for n in range(count)]
    finally:
        server.stop()
    return [asgi_call(raw) for raw in raws]


def run(data_dir: Path, calls: list[Call], rounds: int, concurrency: int, profile: bool) -> None:
    import uvloop

    from tessera.config import Settings
    from tessera.runtime import build_runtime, configure_logging

    settings = Settings(data_dir=data_dir, port=0)
    per_round = len(calls) // rounds
    sink = open(os.devnull, "w")  # noqa: SIM115 - the access log writes to it until the end
    with contextlib.redirect_stderr(sink):
        configure_logging(settings)  # the access log goes to /dev/null, as it is stderr now
        runtime = build_runtime(settings)
    profiler = cProfile.Profile() if profile else None
    try:
        loop = uvloop.new_event_loop()
        for index in range(rounds):
            batch = calls[index * per_round : (index + 1) * per_round]
            before, wall = thread_cpu(), time.perf_counter()
            if profiler is not None and index == rounds - 1:
                profiler.enable()
            statuses = loop.run_until_complete(drive(runtime.app, batch, concurrency))
            if profiler is not None:
                profiler.disable()
            wall = time.perf_counter() - wall
            after = thread_cpu()
            threads = {
                name: (after.get(name, 0.0) - before.get(name, 0.0)) / len(batch) * 1e6
                for name in after
            }
            shown = ", ".join(f"{name} {us:.0f}" for name, us in sorted(threads.items()) if us)
            print(
                f"round {index + 1}: {len(batch)} requests {dict(statuses)}, "
                f"{len(batch) / wall:,.0f} req/s; CPU µs/req {sum(threads.values()):.0f} "
                f"({shown})"
            )
        loop.close()
    finally:
        runtime.close()
        sink.close()
    if profiler is not None:
        for order in ("tottime", "cumulative"):
            stream = io.StringIO()
            pstats.Stats(profiler, stream=stream).sort_stats(order).print_stats(30)
            print(f"\ncProfile of the last round by {order} (seconds for {per_round} requests)")
            print(stream.getvalue().split("ncalls", 1)[-1].join(["   ncalls", ""]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("method", choices=["put", "get"])
    parser.add_argument("--requests", type=int, default=4000, help="per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--objects", type=int, default=200, help="GET: stored objects cycled")
    parser.add_argument("--profile", action="store_true", help="cProfile the last round")
    parser.add_argument(
        "--data",
        type=Path,
        help="reuse a prepared directory (made by --keep); its data is copied, never changed",
    )
    parser.add_argument("--keep", type=Path, help="prepare into this directory and keep it")
    args = parser.parse_args()
    method = args.method.upper()
    total = args.requests * args.rounds
    with tempfile.TemporaryDirectory(prefix="tessera-profile-") as tmp:
        workdir = Path(tmp)
        if args.data is not None:
            import pickle

            calls = pickle.loads((args.data / f"{args.method}.calls").read_bytes())[:total]
            shutil.copytree(args.data / "profile-data", workdir / "profile-data")
        else:
            target = args.keep or workdir
            target.mkdir(parents=True, exist_ok=True)
            calls = prepare(target, method, total, args.objects)
            if args.keep is not None:
                import pickle

                (args.keep / f"{args.method}.calls").write_bytes(pickle.dumps(calls))
                shutil.copytree(args.keep / "profile-data", workdir / "profile-data")
        run(workdir / "profile-data", calls, args.rounds, args.concurrency, args.profile)


if __name__ == "__main__":
    main()
