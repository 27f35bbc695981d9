"""Run every benchmark in ``bench/`` and say where the results went (``make bench``).

In order: ``policy_decision.py`` (if present; its printed table is also saved to
``bench/results/policy_decision.txt``), ``http_stack.py``, ``assume_role.py``, ``oss.py``,
``broker.py``.
Each runs as its own process with this interpreter; ``--quick`` is passed on to each for a
smoke run. A failing benchmark does not stop the others; the exit status is non-zero if any
failed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"

BENCHMARKS: list[tuple[str, list[str]]] = [
    ("policy_decision.py", ["policy_decision.txt"]),
    ("http_stack.py", ["http_stack.md", "http_stack.json"]),
    ("assume_role.py", ["assume_role.md", "assume_role.json"]),
    ("oss.py", ["oss.md", "oss.json"]),
    ("broker.py", ["broker.md", "broker.json"]),
]


#: the benchmarks that measure over HTTP and take --quiet-wait
HTTP_BENCHMARKS = {"http_stack.py", "assume_role.py", "oss.py", "broker.py"}


def run(script: str, quick: bool, quiet_wait: float | None) -> tuple[int, str]:
    """Run one benchmark, streaming its output; (exit status, what it printed)."""
    args = [sys.executable, str(BENCH_DIR / script)] + (["--quick"] if quick else [])
    if quiet_wait is not None and script in HTTP_BENCHMARKS:
        args += ["--quiet-wait", str(quiet_wait)]
    process = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    assert process.stdout is not None
    printed: list[str] = []
    for line in process.stdout:
        print(line, end="", flush=True)
        printed.append(line)
    return process.wait(), "".join(printed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smoke run of every benchmark")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        help="passed on: wait up to S s before each wrk run for the machine to be idle",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=[script for script, _ in BENCHMARKS],
        help="run only these benchmarks",
    )
    args = parser.parse_args()
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)

    written: list[Path] = []
    failed: list[str] = []
    for script, outputs in BENCHMARKS:
        if args.only and script not in args.only:
            continue
        if not (BENCH_DIR / script).exists():
            print(f"== {script}: not present, skipped\n", flush=True)
            continue
        print(f"== {script}", flush=True)
        started = time.monotonic()
        status, printed = run(script, args.quick, args.quiet_wait)
        print(f"== {script}: exit {status} after {time.monotonic() - started:.0f} s\n", flush=True)
        if status != 0:
            failed.append(script)
            continue
        if script == "policy_decision.py":
            (RESULTS_DIR / "policy_decision.txt").write_text(printed)
        written += [RESULTS_DIR / name for name in outputs]

    print("results:")
    for path in written:
        print(f"  {path.relative_to(BENCH_DIR.parent)}")
    if failed:
        print(f"failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
