"""Shared machinery of the HTTP benchmarks: child servers, CPU accounting, wrk runs, tables.

Every HTTP benchmark here works the same way so that its figures can be compared:

- the server under test is a child process on a free loopback port (``ServerProcess``), always
  stopped by its own pid (and, if it ignores SIGTERM, by the process group it was started in);
- the load client is ``wrk`` with one thread and 16 connections, running ``replay.lua``, which
  sends pre-built raw HTTP requests read from a file, each one once (or, for idempotent
  requests, in a cycle);
- server CPU is the utime+stime delta of the server's process tree, read from ``/proc``,
  before and after the wrk run, divided by the number of completed requests.

Nothing here asserts on a timing; it measures and reports.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
REPLAY_LUA = BENCH_DIR / "replay.lua"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

#: A fixed JSON body of about 600 bytes, shaped like an AssumeRole answer. It contains no
#: ``'``, ``$`` or ``\\`` so that nginx can serve it verbatim with ``return 200 '...'``.
FIXED_BODY: bytes = json.dumps(
    {
        "RequestId": "6894B13B-6D71-4EF5-88FA-F32781734A7F",
        "AssumedRoleUser": {
            "AssumedRoleId": "344584339364951186:bench-session",
            "Arn": "acs:ram::1234567890123456:role/bench-role/bench-session",
        },
        "Credentials": {
            "SecurityToken": "CAIS" + "T" * 236,
            "AccessKeyId": "STS.NUCzPZc7QWKJ5b8iQ8HLMGD4a",
            "AccessKeySecret": "8ETGwWZ7gXfGUs1F9yBz3zJ5e9VzGbZPnkUvHg3iZbUq",
            "Expiration": "2026-12-04T21:00:00Z",
        },
        "SourceIdentity": "",
    },
    separators=(",", ":"),
).encode()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require_tool(name: str, fallback: str | None = None) -> str:
    """The path of an executable, or SystemExit with an install hint."""
    path = shutil.which(name) or (fallback if fallback and Path(fallback).exists() else None)
    if path is None:
        raise SystemExit(f"bench: `{name}` not found (on Debian: apt-get install {name})")
    return path


# --------------------------------------------------------------------------- CPU accounting


@dataclass(frozen=True)
class ProcStat:
    ppid: int
    ticks: int  # utime + stime, all threads
    started: int  # start time in ticks after boot (tells a reused pid apart)


def _proc_stat(pid: int) -> ProcStat | None:
    """One process's ``/proc/<pid>/stat``, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = text[text.rindex(")") + 2 :].split()
    # fields[0] is field 3 of proc(5) (state): ppid is field 4, utime 14, stime 15, starttime 22
    return ProcStat(int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[19]))


def process_table() -> dict[int, ProcStat]:
    """Every process on the machine, by pid."""
    table: dict[int, ProcStat] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _proc_stat(int(entry))
            if stat is not None:
                table[int(entry)] = stat
    return table


def descendants(table: dict[int, ProcStat], root_pid: int) -> set[int]:
    """``root_pid`` and every process below it."""
    children: dict[int, list[int]] = {}
    for pid, stat in table.items():
        children.setdefault(stat.ppid, []).append(pid)
    found, stack = set(), [root_pid]
    while stack:
        pid = stack.pop()
        if pid in table:
            found.add(pid)
        stack.extend(children.get(pid, ()))
    return found


def tree_cpu_seconds(root_pid: int, table: dict[int, ProcStat] | None = None) -> float:
    """CPU time (user + system) used so far by ``root_pid`` and all its descendants."""
    table = process_table() if table is None else table
    return sum(table[pid].ticks for pid in descendants(table, root_pid)) / CLOCK_TICKS


def other_cpu_seconds(
    before: dict[int, ProcStat], after: dict[int, ProcStat], exclude: set[int]
) -> float:
    """CPU used between two process tables by user processes not in ``exclude`` (kernel
    threads — children of kthreadd, pid 2 — are left out: at high request rates they carry
    loopback network work for the benchmark itself). A process that ended in between is
    missed; one that started in between counts in full."""
    ticks = 0
    for pid, stat in after.items():
        if pid in exclude or pid == 2 or stat.ppid == 2:
            continue
        earlier = before.get(pid)
        start = earlier.ticks if earlier is not None and earlier.started == stat.started else 0
        ticks += stat.ticks - start
    return ticks / CLOCK_TICKS


def machine_busy_seconds() -> float:
    """CPU time all cores have spent in processes (user, nice, system) since boot, in seconds,
    from ``/proc/stat``; interrupt and softirq time (much of loopback networking at high
    request rates) is left out, since it is not charged to the processes either."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system = (int(f) for f in fields[:3])
    return (user + nice + system) / CLOCK_TICKS


def wait_for_quiet(max_wait: float, threshold: float = 0.15, window: float = 1.0) -> float:
    """Wait (at most ``max_wait`` s) for a ``window`` in which the machine is busy less than
    ``threshold`` of one core — other people's test runs share these cores. Returns the
    busy level (in cores) of the last window."""
    deadline = time.monotonic() + max_wait
    while True:
        before = machine_busy_seconds()
        time.sleep(window)
        level = (machine_busy_seconds() - before) / window
        if level < threshold or time.monotonic() >= deadline:
            return level


@contextlib.contextmanager
def exclusive_machine() -> Iterator[None]:
    """Hold the machine-wide benchmark lock: two benchmark runs (say, two engineers') never
    measure at the same time; the second waits for the first one's wrk run to end."""
    path = Path(tempfile.gettempdir()) / "tessera-bench.lock"
    with path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# --------------------------------------------------------------------------- child servers


@dataclass
class ServerProcess:
    """A server under test, run as a child process in its own session."""

    name: str
    args: Sequence[str]
    log_path: Path
    env: Mapping[str, str] | None = None
    cwd: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    def start(self, ready_url: str, timeout: float = 30.0) -> ServerProcess:
        env = dict(os.environ)
        env.update(self.env or {})
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                list(self.args),
                env=env,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        try:
            wait_http(ready_url, timeout, self)
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def cpu_seconds(self) -> float:
        return tree_cpu_seconds(self.pid)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        """SIGTERM to the server; SIGKILL to its process group if it does not exit in 10 s."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        # workers of a pre-fork server (granian CLI) share the session; make sure none stay
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        os.killpg(process.pid, signal.SIGKILL)


def wait_http(url: str, timeout: float, server: ServerProcess | None = None) -> None:
    """Wait until ``url`` answers with any HTTP status (the server is accepting requests)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server is not None and not server.alive():
            raise RuntimeError(f"{server.name} exited early:\n{server.log()[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.05)
    tail = server.log()[-4000:] if server is not None else ""
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s\n{tail}")


# --------------------------------------------------------------------------- raw requests


def raw_request(
    method: str,
    url: str,
    headers: Iterable[tuple[str, str | bytes]],
    body: bytes | str | None,
) -> bytes:
    """The bytes ``http.client`` puts on the wire for a request prepared by a client library.

    ``requests``, ``urllib3`` and ``botocore`` send the headers they were given in order,
    preceded, as ``http.client.putrequest`` does, by ``Host`` and ``Accept-Encoding: identity``
    when the caller set neither.
    """
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    pairs = [
        (name, value.decode("latin-1") if isinstance(value, bytes) else value)
        for name, value in headers
    ]
    names = {name.lower() for name, _ in pairs}
    auto: list[tuple[str, str]] = []
    if "host" not in names:
        auto.append(("Host", parts.netloc))
    if "accept-encoding" not in names:
        auto.append(("Accept-Encoding", "identity"))
    data = body.encode() if isinstance(body, str) else (body or b"")
    lines = [f"{method} {target} HTTP/1.1"] + [f"{k}: {v}" for k, v in auto + pairs]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data


def write_requests(path: Path, requests: Iterable[bytes]) -> int:
    """Write requests NUL-separated for ``replay.lua``; returns how many."""
    count = 0
    with path.open("wb") as out:
        for request in requests:
            if b"\0" in request:
                raise ValueError("a request contains a NUL byte")
            out.write(request)
            out.write(b"\0")
            count += 1
    return count


# --------------------------------------------------------------------------- wrk


@dataclass
class WrkResult:
    """What one wrk run measured (latencies in microseconds)."""

    requests: int
    duration_s: float
    non_2xx: int
    socket_errors: int
    exhausted: int
    p50_us: float
    p90_us: float
    p99_us: float
    max_us: float
    server_cpu_s: float
    client_cpu_s: float
    other_cpu_s: float  # CPU used meanwhile by processes other than the server and wrk

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def other_load_pct(self) -> float:
        """Other processes' CPU during the run, in % of one core."""
        return self.other_cpu_s / self.duration_s * 100 if self.duration_s else 0.0

    @property
    def cpu_us_per_request(self) -> float:
        return self.server_cpu_s / self.requests * 1e6 if self.requests else 0.0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            rps=round(self.rps, 1),
            server_cpu_us_per_request=round(self.cpu_us_per_request, 1),
            other_load_pct_of_one_core=round(self.other_load_pct, 1),
        )
        return data


@dataclass
class Wrk:
    """``wrk -t1 -c16 --latency`` driving ``replay.lua``."""

    threads: int = 1
    connections: int = 16
    #: before each run, wait up to this many seconds for the machine to be quiet
    quiet_wait: float = 0.0
    binary: str = field(default_factory=lambda: require_tool("wrk", "/usr/bin/wrk"))

    def run(
        self,
        url: str,
        requests_file: Path,
        duration: float,
        server: ServerProcess,
        *,
        cycle: bool = False,
    ) -> WrkResult:
        args = [
            self.binary,
            f"-t{self.threads}",
            f"-c{self.connections}",
            f"-d{max(1, round(duration))}s",
            "--timeout",
            "10s",
            "--latency",
            "-s",
            str(REPLAY_LUA),
            url,
            "--",
            str(requests_file),
            "cycle" if cycle else "once",
            str(self.threads),
        ]
        with exclusive_machine():
            if self.quiet_wait > 0:
                wait_for_quiet(self.quiet_wait)
            table_before = process_table()
            before = os.times()
            completed = subprocess.run(args, capture_output=True, text=True, check=False)
            after = os.times()
            table_after = process_table()
        cpu_before = tree_cpu_seconds(server.pid, table_before)
        cpu_after = tree_cpu_seconds(server.pid, table_after)
        ours = descendants(table_after, server.pid) | {os.getpid()}
        if completed.returncode != 0:
            raise RuntimeError(f"wrk failed ({completed.returncode}):\n{completed.stderr}")
        summary = _wrk_summary(completed.stdout)
        client_cpu = (after.children_user - before.children_user) + (
            after.children_system - before.children_system
        )
        return WrkResult(
            requests=summary["requests"],
            duration_s=summary["duration_us"] / 1e6,
            non_2xx=summary["status_errors"],
            socket_errors=summary["connect_errors"]
            + summary["read_errors"]
            + summary["write_errors"]
            + summary["timeouts"],
            exhausted=summary["exhausted"],
            p50_us=summary["p50_us"],
            p90_us=summary["p90_us"],
            p99_us=summary["p99_us"],
            max_us=summary["max_us"],
            server_cpu_s=cpu_after - cpu_before,
            client_cpu_s=client_cpu,
            other_cpu_s=other_cpu_seconds(table_before, table_after, ours),
        )


@dataclass(frozen=True)
class MedianRound:
    """Several rounds of one run summed up: the round with the median req/s (``index``; its
    latency and CPU figures belong to that run), every round's error codes added up, every
    round's notes once each in order, and every round's req/s."""

    index: int
    result: WrkResult
    error_codes: dict[str, int]
    notes: list[str]
    rounds_rps: list[float]


def median_round(
    rounds: Sequence[tuple[WrkResult, Mapping[str, int], Sequence[str]]],
) -> MedianRound:
    """``rounds``: (result, error codes, notes) of each round; the lower middle of an even
    count is the median."""
    order = sorted(range(len(rounds)), key=lambda i: rounds[i][0].rps)
    index = order[(len(order) - 1) // 2]
    codes: dict[str, int] = {}
    for _, round_codes, _ in rounds:
        for code, count in round_codes.items():
            codes[code] = codes.get(code, 0) + count
    return MedianRound(
        index,
        rounds[index][0],
        codes,
        list(dict.fromkeys(note for _, _, notes in rounds for note in notes)),
        [round(result.rps, 1) for result, _, _ in rounds],
    )


def _wrk_summary(stdout: str) -> dict[str, Any]:
    for line in stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return dict(json.loads(line.removeprefix("BENCH_JSON ")))
    raise RuntimeError(f"replay.lua printed no summary:\n{stdout}")


# --------------------------------------------------------------------------- output


def markdown_table(
    header: Sequence[str], rows: Iterable[Sequence[str]], text_columns: int = 1
) -> str:
    """A GitHub table; the first ``text_columns`` columns left-aligned, the rest right."""
    lines = [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---" if i < text_columns else "---:" for i in range(len(header))) + " |",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def ms(micros: float) -> str:
    return f"{micros / 1000:.2f}"


def machine_line() -> str:
    """A one-line description of the machine and tools, for result files."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    wrk = subprocess.run(
        [require_tool("wrk", "/usr/bin/wrk"), "-v"], capture_output=True, text=True, check=False
    )
    wrk_version = (wrk.stdout or wrk.stderr).split("[", 1)[0].strip()
    return f"{os.cpu_count()} cores ({cpu}); {wrk_version}; {time.strftime('%Y-%m-%d %H:%M %Z')}"


def source_state() -> str:
    """The commit benchmarked, and which files under src/ differ from it (work in progress)."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(REPO_DIR), *args], capture_output=True, text=True, check=False
        )
        return done.stdout.rstrip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD").strip() or "unknown commit"
    changed = [line[3:] for line in git("status", "--porcelain", "--", "src").splitlines()]
    if not changed:
        return f"source: {commit}, src/ clean"
    return f"source: {commit} + uncommitted changes in {', '.join(changed)}"


def write_results(name: str, markdown: str, raw: Mapping[str, Any]) -> tuple[Path, Path]:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    md_path = RESULTS_DIR / f"{name}.md"
    json_path = RESULTS_DIR / f"{name}.json"
    md_path.write_text(markdown)
    json_path.write_text(json.dumps(raw, indent=2) + "\n")
    return md_path, json_path


def measure(
    wrk: Wrk,
    server: ServerProcess,
    url: str,
    requests_file: Path,
    *,
    warmup: float,
    duration: float,
    cycle: bool,
    warmup_file: Path | None = None,
) -> WrkResult:
    """A warm-up run (result discarded), then the measured run."""
    if warmup > 0:
        wrk.run(url, warmup_file or requests_file, warmup, server, cycle=cycle)
    return wrk.run(url, requests_file, duration, server, cycle=cycle)
