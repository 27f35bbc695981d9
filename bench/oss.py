"""OSS object throughput of Tessera next to moto's S3, with two HTTP ceilings, in one run.

Issue 3 §6. Small objects (4 KiB), driven by ``wrk -t1 -c16 --latency`` with ``replay.lua``:

- ``tessera``: ``tessera serve``; PUT and GET through V4-signed presigned URLs carrying an STS
  token. Set-up with the official clients and the root key: a bucket (oss2), a role trusting
  the account root with the System policy AliyunOSSFullAccess, a RAM user with
  AliyunSTSAssumeRoleAccess (RAM tea client), AssumeRole (STS tea client) as that user; then
  ``oss2.ProviderAuthV4`` on the STS credentials, region cn-hangzhou, ``Bucket.sign_url``.
  PUT URLs name distinct keys and are each sent once; GET URLs cover ``--get-objects``
  existing 4 KiB objects and are cycled.
- ``moto``: ``python -m moto.server``, boto3 ``generate_presigned_url`` (SigV4, path style)
  for put_object / get_object, the same way.
- ``ceiling-granian`` (GET only): the bare ASGI app of ``hello_apps.py --app raw-4k`` answering
  4 KiB on granian embedded as Tessera runs it.
- ``ceiling-nginx`` (GET only): nginx, one worker, serving the same 4 KiB files statically.
  nginx cannot store a PUT, so there is no nginx PUT row.

Large object (``--size`` MiB, default 1024): one file of random bytes is written once to a temp
dir; ``curl -T file URL`` through a presigned PUT URL, then ``curl -o /dev/null URL`` through a
presigned GET URL, for Tessera and moto; nginx GETs the same file statically. Throughput is
curl's own average speed; peak memory is VmHWM (the high-water mark of resident memory over the
process's life, so it includes everything before) read from ``/proc/<pid>/status`` after each
transfer, the largest over the server's process tree.

The small-object runs are repeated in ``--repeat`` rounds (default 3), each round running every
server afresh, one after another; each table row is the round with the median req/s, and the
req/s of every round are listed beside it (this machine drifts from minute to minute). The
large object is transferred in the first round only.

Run: ``python bench/oss.py [--quick] [--repeat N] [--duration S] [--warmup S] [--size MIB]``;
writes ``bench/results/oss.md`` and ``oss.json``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from assume_role import (
    ROLE_NAME,
    ROOT_ACCESS_KEY_ID,
    ROOT_ACCESS_KEY_SECRET,
    Plan,
    moto_error_codes,
    run_signed,
    send_raw,
    setup_tessera,
    start_moto,
    start_tessera,
    tessera_error_codes,
)
from benchlib import (
    BENCH_DIR,
    ServerProcess,
    Wrk,
    WrkResult,
    descendants,
    free_port,
    machine_line,
    markdown_table,
    measure,
    median_round,
    ms,
    process_table,
    raw_request,
    require_tool,
    source_state,
    write_requests,
    write_results,
)
from hello_apps import BODY_4K

BUCKET = "bench-bucket"
TESSERA_LABEL = "Tessera (V4 presigned URL + STS token, oss2)"
TESSERA_2W_LABEL = "Tessera, serve --workers 2 (same requests)"
SCENARIOS = ("tessera", "tessera-2w", "moto", "ceilings")
REGION = "cn-hangzhou"
MOTO_KEY_ID = "AKIDBENCHEXAMPLE"
MOTO_SECRET = "benchSecret"
URL_EXPIRES = 900
MIB = 1024 * 1024


# --------------------------------------------------------------------------- presigners


def tessera_presigner(endpoint: str) -> Callable[[str, str], str]:
    """Set up Tessera (bucket, user, role, STS token) and return ``sign(method, key) -> URL``:
    V4 presigned URLs with the STS token, signed by oss2 itself."""
    import oss2
    from alibabacloud_ram20150501 import models as ram
    from alibabacloud_ram20150501.client import Client as Ram
    from alibabacloud_sts20150401 import models as sts
    from alibabacloud_sts20150401.client import Client as Sts
    from alibabacloud_tea_openapi.models import Config

    url = f"http://{endpoint}"
    root = oss2.ProviderAuthV4(
        oss2.credentials.StaticCredentialsProvider(ROOT_ACCESS_KEY_ID, ROOT_ACCESS_KEY_SECRET)
    )
    oss2.Bucket(root, url, BUCKET, region=REGION).create_bucket()
    key_id, secret, role_arn = setup_tessera(endpoint)
    Ram(
        Config(
            access_key_id=ROOT_ACCESS_KEY_ID,
            access_key_secret=ROOT_ACCESS_KEY_SECRET,
            endpoint=endpoint,
            protocol="http",
        )
    ).attach_policy_to_role(
        ram.AttachPolicyToRoleRequest(
            policy_type="System", policy_name="AliyunOSSFullAccess", role_name=ROLE_NAME
        )
    )
    client = Sts(
        Config(access_key_id=key_id, access_key_secret=secret, endpoint=endpoint, protocol="http")
    )
    body = client.assume_role(
        sts.AssumeRoleRequest(
            role_arn=role_arn, role_session_name="bench-session", duration_seconds=3600
        )
    ).body
    assert body is not None and body.credentials is not None
    creds = body.credentials
    auth = oss2.ProviderAuthV4(
        oss2.credentials.StaticCredentialsProvider(
            creds.access_key_id, creds.access_key_secret, creds.security_token
        )
    )
    bucket = oss2.Bucket(auth, url, BUCKET, region=REGION)
    return lambda method, key: str(bucket.sign_url(method, key, URL_EXPIRES))


def moto_presigner(endpoint: str) -> Callable[[str, str], str]:
    """Create the bucket in moto and return ``sign(method, key) -> URL`` (boto3, SigV4)."""
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3",
        endpoint_url=f"http://{endpoint}",
        aws_access_key_id=MOTO_KEY_ID,
        aws_secret_access_key=MOTO_SECRET,
        region_name="us-east-1",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    client.create_bucket(Bucket=BUCKET)
    operations = {"PUT": "put_object", "GET": "get_object"}

    def sign(method: str, key: str) -> str:
        return str(
            client.generate_presigned_url(
                operations[method], Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=URL_EXPIRES
            )
        )

    return sign


def url_request(method: str, url: str, body: bytes | None = None) -> bytes:
    """The raw request for a presigned URL (as curl would send it, minus its User-Agent)."""
    headers: list[tuple[str, str]] = [("Host", urlsplit(url).netloc)]
    if body is not None:
        headers.append(("Content-Length", str(len(body))))
    return raw_request(method, url, headers, body)


@dataclass
class PutSource:
    """Presigned PUT requests of 4 KiB, each for a key never used before (duck-types
    ``assume_role.SignedSource`` for ``run_signed``)."""

    sign: Callable[[str, str], str]
    endpoint: str
    prefix: str
    made: int = 0

    def generate(self, count: int) -> list[bytes]:
        requests = []
        for _ in range(count):
            self.made += 1
            url = self.sign("PUT", f"{self.prefix}/put-{self.made:08d}")
            requests.append(url_request("PUT", url, BODY_4K))
        return requests

    def write(self, path: Path, count: int) -> Path:
        write_requests(path, self.generate(count))
        return path


def put_small_objects(sign: Callable[[str, str], str], endpoint: str, count: int) -> list[str]:
    """``count`` 4 KiB objects stored through presigned PUTs; their presigned GET URLs."""
    port = int(endpoint.rsplit(":", 1)[1])
    urls = []
    for index in range(count):
        key = f"get/obj-{index:05d}"
        status, body = send_raw(port, url_request("PUT", sign("PUT", key), BODY_4K))
        if status != 200:
            raise RuntimeError(f"PUT {key} answered {status}: {body[:500]!r}")
        urls.append(sign("GET", key))
    return urls


# --------------------------------------------------------------------------- nginx


NGINX_STATIC_CONF = """\
daemon off;
master_process on;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    keepalive_requests 1000000;
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location / {{ }}
    }}
}}
"""


def start_nginx_static(workdir: Path, root: Path) -> tuple[ServerProcess, str]:
    port = free_port()
    prefix = workdir / "nginx"
    prefix.mkdir(exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(NGINX_STATIC_CONF.format(prefix=prefix, port=port, root=root))
    nginx = require_tool("nginx", "/usr/sbin/nginx")
    server = ServerProcess(
        "nginx",
        [nginx, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")],
        workdir / "nginx.log",
    )
    server.start(f"http://127.0.0.1:{port}/")
    return server, f"127.0.0.1:{port}"


def start_granian_4k(workdir: Path) -> tuple[ServerProcess, str]:
    port = free_port()
    server = ServerProcess(
        "granian-4k",
        [sys.executable, str(BENCH_DIR / "hello_apps.py"), "--app", "raw-4k", "--port", str(port)],
        workdir / "granian-4k.log",
    )
    server.start(f"http://127.0.0.1:{port}/")
    return server, f"127.0.0.1:{port}"


# --------------------------------------------------------------------------- large objects


def peak_memory_kib(server: ServerProcess) -> int:
    """The largest VmHWM (KiB) over the server's process tree."""
    peak = 0
    for pid in descendants(process_table(), server.pid):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peak = max(peak, int(line.split()[1]))
    return peak


@dataclass
class Transfer:
    label: str
    operation: str
    size: int
    seconds: float
    mb_per_s: float
    http_code: int
    vmhwm_kib: int

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def curl(
    server: ServerProcess, label: str, operation: str, url: str, path: Path, size: int
) -> Transfer:
    """One curl transfer: ``PUT`` uploads ``path``, ``GET`` downloads to /dev/null."""
    args = [require_tool("curl"), "-sS", "-o", "/dev/null", "-H", "Expect:"]
    args += ["-T", str(path)] if operation == "PUT" else []
    args += ["-w", "%{http_code} %{time_total} %{speed_upload} %{speed_download}", url]
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{label} {operation}: curl failed: {done.stderr}")
    code, total, up, down = done.stdout.split()
    speed = float(up if operation == "PUT" else down)
    if int(code) != 200:
        raise RuntimeError(f"{label} {operation}: HTTP {code}")
    return Transfer(
        label, operation, size, float(total), speed / 1e6, int(code), peak_memory_kib(server)
    )


def make_big_file(path: Path, size: int) -> None:
    chunk = 8 * MIB
    with path.open("wb") as out:
        left = size
        while left > 0:
            out.write(os.urandom(min(chunk, left)))
            left -= chunk


# --------------------------------------------------------------------------- scenarios


@dataclass
class Row:
    key: str
    operation: str
    label: str
    result: WrkResult
    error_codes: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: req/s of every round, in order, when the row is the median of several
    rounds_rps: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.key,
            "operation": self.operation,
            "label": self.label,
            **self.result.as_dict(),
            "error_codes": self.error_codes,
            "notes": self.notes,
            "rounds_rps": self.rounds_rps,
        }


def median_rows(rows: list[Row]) -> list[Row]:
    """Per scenario and operation, in first-seen order: the round with the median req/s (its
    latency and CPU figures belong to that run), with every round's req/s, notes and error
    codes."""
    groups: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.key, row.operation), []).append(row)
    medians = []
    for runs in groups.values():
        median = median_round([(row.result, row.error_codes, row.notes) for row in runs])
        chosen = runs[median.index]
        medians.append(
            Row(
                chosen.key,
                chosen.operation,
                chosen.label,
                median.result,
                median.error_codes,
                median.notes,
                median.rounds_rps,
            )
        )
    return medians


def small_get(
    plan: Plan, key: str, server: ServerProcess, endpoint: str, urls: list[str]
) -> WrkResult:
    requests_file = plan.workdir / f"{key}-get.req"
    write_requests(requests_file, [url_request("GET", url) for url in urls])
    return measure(
        plan.wrk,
        server,
        f"http://{endpoint}/",
        requests_file,
        warmup=plan.warmup,
        duration=plan.duration,
        cycle=True,
    )


def run_store(
    key: str,
    plan: Plan,
    args: argparse.Namespace,
    big: Path,
    rows: list[Row],
    transfers: list[Transfer],
    *,
    large: bool = True,
) -> None:
    """Small PUT and GET, then (``large``) the large PUT and GET, on one fresh server (Tessera
    or moto)."""
    if key == "tessera":
        server, endpoint = start_tessera(plan.workdir, "tessera")
        errors = tessera_error_codes
        label = TESSERA_LABEL
        rate = args.rate_guess
    elif key == "tessera-2w":
        server, endpoint = start_tessera(plan.workdir, key, extra_args=["--workers", "2"])
        errors = tessera_error_codes
        label = TESSERA_2W_LABEL
        rate = args.rate_guess
    else:
        server, endpoint = start_moto(plan.workdir)
        errors = moto_error_codes
        label = "moto S3 (SigV4 presigned URL, boto3)"
        rate = args.moto_rate
    try:
        tessera = key.startswith("tessera")
        sign = tessera_presigner(endpoint) if tessera else moto_presigner(endpoint)
        source = PutSource(sign, endpoint, "small")
        put_plan = Plan(plan.warmup, plan.duration, rate, plan.workdir, plan.wrk, None)
        outcome = run_signed(put_plan, f"{key}-put", label, server, source, errors, True)
        rows.append(Row(key, "PUT", label, outcome.result, outcome.error_codes, outcome.notes))
        urls = put_small_objects(sign, endpoint, args.get_objects)
        offset = server.log_path.stat().st_size
        result = small_get(plan, key, server, endpoint, urls)
        rows.append(Row(key, "GET", label, result, errors(server, offset)))
        if large:
            transfers.append(curl(server, label, "PUT", sign("PUT", "big"), big, args.size * MIB))
            transfers.append(curl(server, label, "GET", sign("GET", "big"), big, args.size * MIB))
    except Exception:  # the work directory goes with the run: show why the server failed
        print(f"{key} failed; the end of its log:\n{server.log()[-4000:]}", file=sys.stderr)
        raise
    finally:
        server.stop()


def run_ceilings(
    plan: Plan,
    args: argparse.Namespace,
    root: Path,
    rows: list[Row],
    transfers: list[Transfer],
    *,
    large: bool = True,
) -> None:
    server, endpoint = start_granian_4k(plan.workdir)
    try:
        label = "ceiling: bare ASGI app, 4 KiB, granian embedded (as Tessera)"
        rows.append(
            Row(
                "ceiling-granian",
                "GET",
                label,
                small_get(plan, "granian", server, endpoint, [f"http://{endpoint}/"]),
            )
        )
    finally:
        server.stop()
    server, endpoint = start_nginx_static(plan.workdir, root)
    try:
        label = "ceiling: nginx static files (1 worker, sendfile)"
        urls = [f"http://{endpoint}/get/obj-{i:05d}" for i in range(args.get_objects)]
        rows.append(
            Row("ceiling-nginx", "GET", label, small_get(plan, "nginx", server, endpoint, urls))
        )
        if large:
            transfers.append(
                curl(server, label, "GET", f"http://{endpoint}/big", root / "big", args.size * MIB)
            )
    finally:
        server.stop()


# --------------------------------------------------------------------------- report


def ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 2) if denominator else None


def report(
    all_rows: list[Row], transfers: list[Transfer], args: argparse.Namespace, wrk: Wrk
) -> tuple[str, dict[str, Any]]:
    rows = median_rows(all_rows)

    def find(key: str, operation: str) -> Row | None:
        return next((r for r in rows if r.key == key and r.operation == operation), None)

    small_rows = []
    for row in rows:
        r = row.result
        small_rows.append(
            [
                row.label,
                row.operation,
                f"{r.rps:,.0f}",
                ms(r.p50_us),
                ms(r.p99_us),
                f"{r.non_2xx:,}" + (f" (+{r.socket_errors} socket)" if r.socket_errors else ""),
                f"{r.cpu_us_per_request:,.0f}",
                f"{r.other_load_pct:.0f}",
            ]
            + ([" / ".join(f"{v:,.0f}" for v in row.rounds_rps)] if args.repeat > 1 else [])
        )
    small_table = markdown_table(
        [
            "server",
            "op",
            "req/s",
            "p50 ms",
            "p99 ms",
            "non-2xx",
            "server CPU µs/req",
            "other load %",
        ]
        + (["req/s of each round"] if args.repeat > 1 else []),
        small_rows,
        text_columns=2,
    )
    big_table = markdown_table(
        ["server", "op", "MB/s", "seconds", "peak server memory (VmHWM) MiB"],
        [
            [
                t.label,
                t.operation,
                f"{t.mb_per_s:,.0f}",
                f"{t.seconds:.2f}",
                f"{t.vmhwm_kib / 1024:,.0f}",
            ]
            for t in transfers
        ],
        text_columns=2,
    )

    ratios: dict[str, float | None] = {}
    for key, who in (("tessera", "Tessera"), ("tessera-2w", "Tessera 2 workers")):
        for op in ("PUT", "GET"):
            tessera, moto = find(key, op), find("moto", op)
            if tessera and moto:
                ratios[f"small {op} req/s {who}/moto (target >= 10)"] = ratio(
                    tessera.result.rps, moto.result.rps
                )
                ratios[f"small {op} CPU/req moto/{who}"] = ratio(
                    moto.result.cpu_us_per_request, tessera.result.cpu_us_per_request
                )
        tessera_get = find(key, "GET")
        for ceiling, target in (("ceiling-granian", " (target >= 0.25)"), ("ceiling-nginx", "")):
            row = find(ceiling, "GET")
            if tessera_get and row:
                ratios[f"small GET req/s {who}/{ceiling}{target}"] = ratio(
                    tessera_get.result.rps, row.result.rps
                )

    def speed(label: str, op: str) -> float | None:
        return next(
            (t.mb_per_s for t in transfers if t.label.startswith(label) and t.operation == op),
            None,
        )

    size = f"{args.size} MiB"
    m_put, m_get = speed("moto", "PUT"), speed("moto", "GET")
    n_get = speed("ceiling: nginx", "GET")
    for label, who in ((TESSERA_LABEL, "Tessera"), (TESSERA_2W_LABEL, "Tessera 2 workers")):
        t_put, t_get = speed(label, "PUT"), speed(label, "GET")
        if t_put and m_put:
            ratios[f"{size} PUT MB/s {who}/moto (target >= 2)"] = ratio(t_put, m_put)
        if t_get and m_get:
            ratios[f"{size} GET MB/s {who}/moto"] = ratio(t_get, m_get)
        if t_get and n_get:
            ratios[f"{size} GET MB/s {who}/nginx (target >= 0.5)"] = ratio(t_get, n_get)
    tessera_peak = max((t.vmhwm_kib for t in transfers if t.label.startswith("Tessera")), default=0)

    lines = [
        "# OSS objects: Tessera vs moto S3, with HTTP ceilings",
        "",
        f"One run, servers one after another, each fresh (data in a temp dir). Small objects: "
        f"4 KiB, load client `wrk -t{wrk.threads} -c{wrk.connections} --latency` replaying "
        f"presigned requests (PUT: distinct keys, each sent once; GET: {args.get_objects} "
        f"existing objects, cycled); {args.duration:g} s measured after {args.warmup:g} s "
        f"warm-up"
        + (
            f"; {args.repeat} interleaved rounds (each server fresh in each), each row is its "
            "median round"
            if args.repeat > 1
            else ""
        )
        + f". Large object (first round only): {size} of random bytes, `curl -T` (PUT) and "
        "`curl -o /dev/null` (GET) through presigned URLs; MB = 10^6 bytes, curl's average "
        "speed. Peak memory is VmHWM (the process's resident high-water mark since it "
        "started, largest over the server's process tree) read after each transfer.",
        f"Machine: {machine_line()} — server and clients share the cores; {source_state()}. "
        '"other load": CPU used during the run by other user processes, in % of one core.',
        "nginx cannot store objects: no nginx PUT row. The granian ceiling answers GET only. "
        "`serve --workers 2` runs two serving processes (one per core); the ceilings run one "
        "process each, and nginx one worker.",
        "",
        "## 4 KiB objects",
        "",
        small_table,
        "",
        f"## {size} object",
        "",
        big_table,
        "",
        "## Ratios",
        "",
    ]
    lines += [
        f"- {name}: {value:.2f}x" if value is not None else f"- {name}: n/a"
        for name, value in ratios.items()
    ]
    lines.append(
        f"- Tessera peak server memory over the {size} transfers: {tessera_peak / 1024:,.0f} MiB"
        " (target < 200 MB)"
    )
    lines.append("")
    for row in rows:
        if row.error_codes:
            codes = ", ".join(f"{code}: {n}" for code, n in sorted(row.error_codes.items()))
            lines.append(f"- {row.key} {row.operation}: non-200 answers in the server log: {codes}")
        for note in row.notes:
            lines.append(f"- {row.key} {row.operation}: {note}")
    markdown = "\n".join(lines).rstrip() + "\n"
    raw = {
        "machine": machine_line(),
        "source": source_state(),
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "repeat": args.repeat,
        "rounds": [row.as_dict() for row in all_rows],
        "large_object_bytes": args.size * MIB,
        "get_objects": args.get_objects,
        "wrk": {"threads": wrk.threads, "connections": wrk.connections},
        "small": [row.as_dict() for row in rows],
        "large": [t.as_dict() for t in transfers],
        "tessera_peak_vmhwm_kib": tessera_peak,
        "ratios": ratios,
    }
    return markdown, raw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds per wrk run")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds")
    parser.add_argument("--size", type=int, default=1024, help="large object size in MiB")
    parser.add_argument("--quick", action="store_true", help="2 s measured, 1 s warm-up, 64 MiB")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="interleaved rounds of the small-object runs; the tables show each median round",
    )
    parser.add_argument(
        "--get-objects", type=int, default=256, help="4 KiB objects the GET runs cycle over"
    )
    parser.add_argument(
        "--rate-guess", type=float, default=1500.0, help="PUT req/s to size Tessera's warm-up"
    )
    parser.add_argument("--moto-rate", type=float, default=500.0, help="the same for moto")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=20.0,
        help="before each wrk run wait up to S s for the machine to be idle (0: never)",
    )
    parser.add_argument(
        "--only",
        default="tessera,tessera-2w,moto,ceilings",
        help="comma-separated subset to run (tessera, tessera-2w, moto, ceilings); a subset "
        "only prints",
    )
    args = parser.parse_args()
    only = {name.strip() for name in args.only.split(",") if name.strip()}
    if not only or only - set(SCENARIOS):
        parser.error(f"--only takes {', '.join(SCENARIOS)}")
    if args.quick:
        args.duration, args.warmup, args.size = 2.0, 1.0, 64
    if args.repeat < 1:
        parser.error("--repeat takes 1 or more")
    if args.duration > 600:
        parser.error("presigned URLs expire after 15 minutes: keep --duration under 600")

    wrk = Wrk(quiet_wait=args.quiet_wait)
    rows: list[Row] = []
    transfers: list[Transfer] = []
    with tempfile.TemporaryDirectory(prefix="tessera-bench-oss-") as tmp:
        workdir = Path(tmp)
        workdir.chmod(0o755)  # nginx's worker may run as another user (nobody)
        root = workdir / "static"
        (root / "get").mkdir(parents=True)
        for index in range(args.get_objects):
            (root / "get" / f"obj-{index:05d}").write_bytes(BODY_4K)
        big = root / "big"
        print(f"  writing {args.size} MiB of random bytes ...", flush=True)
        make_big_file(big, args.size * MIB)
        for index in range(args.repeat):
            round_dir = workdir / f"round{index}"
            round_dir.mkdir()
            round_dir.chmod(0o755)
            plan = Plan(args.warmup, args.duration, args.rate_guess, round_dir, wrk, None)
            first = index == 0
            for key in ("tessera", "tessera-2w", "moto"):
                if key in only:
                    print(f"  round {index + 1}/{args.repeat}: {key} ...", flush=True)
                    run_store(key, plan, args, big, rows, transfers, large=first)
            if "ceilings" in only:
                print(f"  round {index + 1}/{args.repeat}: ceilings ...", flush=True)
                run_ceilings(plan, args, root, rows, transfers, large=first)
        big.unlink()
    markdown, raw = report(rows, transfers, args, wrk)
    print()
    print(markdown)
    if only == set(SCENARIOS):  # only a whole run replaces the recorded results
        md_path, json_path = write_results("oss", markdown, raw)
        print(f"written: {md_path} and {json_path}")


if __name__ == "__main__":
    main()
