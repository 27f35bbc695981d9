"""AssumeRole throughput of Tessera next to moto's STS, with two HTTP ceilings, in one run.

Scenarios, each a fresh child server on a free loopback port, driven by the same load client
(``wrk -t1 -c16 --latency`` replaying pre-built requests with ``replay.lua``):

- ``tessera-v1``: Tessera, AssumeRole signed V1 (HMAC-SHA1) exactly as aliyun-python-sdk-core
  sends it (POST, every parameter in the query), by a RAM user holding the System policy
  AliyunSTSAssumeRoleAccess, on a role whose trust policy names the account root;
- ``tessera-v3``: the same call as the official tea client alibabacloud-sts20150401 sends it
  (ACS3-HMAC-SHA256 in headers);
- ``tessera-v1-2w``: ``tessera-v1`` on ``serve --workers 2`` (two processes; every nonce also
  written to the shared nonce file);
- ``moto``: moto's server mode, AWS STS AssumeRole as boto3 sends it (SigV4, form body);
- ``ceiling-granian``: a bare ASGI app answering a fixed ~600-byte JSON body on the granian
  embedded server exactly as Tessera runs it (the Python ceiling);
- ``ceiling-nginx``: nginx answering the same body with ``return 200`` (the machine ceiling).

Signed requests are produced by the official clients themselves: their HTTP transport is
replaced by one that records the prepared request (``requests``' adapter for the tea client,
aliyun-python-sdk-core's vendored ``requests`` session, botocore's ``before-send`` event) and
the recorded request is turned into the bytes ``http.client`` would have sent. Every signed
request carries its own nonce and timestamp and the server refuses a nonce it has seen, so
each is sent once: the warm-up run measures the rate, the measured run gets 1.5x as many
requests as that rate needs, and a run that runs out is repeated with twice as many. Before
each Tessera run one freshly generated request is sent and must be answered 200.

Server CPU is the utime+stime delta of the server's process tree over the measured run.
Run: ``python bench/assume_role.py [--quick] [--duration S] [--warmup S]``; writes
``bench/results/assume_role.md`` and ``assume_role.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import multiprocessing
import re
import socket
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import (
    BENCH_DIR,
    FIXED_BODY,
    ServerProcess,
    Wrk,
    WrkResult,
    free_port,
    machine_line,
    markdown_table,
    measure,
    median_round,
    ms,
    raw_request,
    require_tool,
    source_state,
    write_requests,
    write_results,
)

ROOT_ACCESS_KEY_ID = "LTAIbenchRootKey00001"
ROOT_ACCESS_KEY_SECRET = "benchRootSecret0000000000000001"
ACCOUNT_ID = "1234567890123456"
USER_NAME = "bench-user"
ROLE_NAME = "bench-role"
SESSION_NAME = "bench-session"
MOTO_ROLE_ARN = "arn:aws:iam::123456789012:role/x"
GENERATION_CHUNK = 2500

# --------------------------------------------------------------------------- request capture
#
# These functions run in worker processes (fork): each replaces one client library's
# transport there, never in the parent, which talks to the real server during set-up.


class _Captured(Exception):
    """Raised by the botocore hook to stop the call once the request is recorded."""


def _v1_requests(endpoint: str, key_id: str, secret: str, role_arn: str, count: int) -> bytes:
    """``count`` AssumeRole requests as aliyun-python-sdk-core + aliyun-python-sdk-sts send."""
    from aliyunsdkcore.client import AcsClient
    from aliyunsdkcore.vendored.requests import sessions
    from aliyunsdkcore.vendored.requests.models import Response
    from aliyunsdksts.request.v20150401.AssumeRoleRequest import AssumeRoleRequest

    captured: list[bytes] = []

    def send(self: Any, request: Any, **kwargs: Any) -> Any:
        captured.append(
            raw_request(request.method, request.url, request.headers.items(), request.body)
        )
        response = Response()
        response.status_code = 200
        response._content = b"{}"
        response.url = request.url
        response.request = request
        return response

    sessions.Session.send = send
    client = AcsClient(key_id, secret, "cn-hangzhou")
    for _ in range(count):
        call = AssumeRoleRequest()
        call.set_RoleArn(role_arn)
        call.set_RoleSessionName(SESSION_NAME)
        call.set_endpoint(endpoint)
        call.set_protocol_type("http")
        client.do_action_with_exception(call)
    return b"\0".join(captured) + b"\0"


def _v3_requests(endpoint: str, key_id: str, secret: str, role_arn: str, count: int) -> bytes:
    """``count`` AssumeRole requests as the tea client alibabacloud-sts20150401 sends them."""
    import requests.adapters
    from alibabacloud_sts20150401 import models
    from alibabacloud_sts20150401.client import Client
    from alibabacloud_tea_openapi.models import Config
    from requests.models import Response

    captured: list[bytes] = []

    def send(self: Any, request: Any, **kwargs: Any) -> Any:
        captured.append(
            raw_request(request.method, request.url, request.headers.items(), request.body)
        )
        response = Response()
        response.status_code = 200
        response._content = b'{"RequestId":"captured"}'
        response.headers["content-type"] = "application/json"
        response.url = request.url
        response.request = request
        return response

    requests.adapters.HTTPAdapter.send = send  # type: ignore[method-assign,assignment]
    client = Client(
        Config(access_key_id=key_id, access_key_secret=secret, endpoint=endpoint, protocol="http")
    )
    for _ in range(count):
        client.assume_role(
            models.AssumeRoleRequest(role_arn=role_arn, role_session_name=SESSION_NAME)
        )
    return b"\0".join(captured) + b"\0"


def _moto_requests(endpoint: str, key_id: str, secret: str, role_arn: str, count: int) -> bytes:
    """``count`` AWS STS AssumeRole requests as boto3 sends them (SigV4, form body)."""
    import boto3

    captured: list[bytes] = []

    def before_send(request: Any, **kwargs: Any) -> None:
        captured.append(
            raw_request(request.method, request.url, request.headers.items(), request.body)
        )
        raise _Captured

    client = boto3.client(
        "sts",
        endpoint_url=f"http://{endpoint}",
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
    )
    client.meta.events.register("before-send.sts.AssumeRole", before_send)
    for _ in range(count):
        with contextlib.suppress(_Captured):
            client.assume_role(RoleArn=role_arn, RoleSessionName=SESSION_NAME)
    return b"\0".join(captured) + b"\0"


Generator = Callable[[str, str, str, str, int], bytes]

NONCE = re.compile(rb"(?:SignatureNonce=|x-acs-signature-nonce: )([^&\s]+)")


@dataclass
class SignedSource:
    """Produces fresh signed requests for one scenario, in parallel worker processes."""

    generator: Generator
    endpoint: str
    key_id: str
    secret: str
    role_arn: str
    nonce_checked: bool
    pool: Any
    seen_nonces: set[bytes] = field(default_factory=set)

    def generate(self, count: int) -> list[bytes]:
        chunks = [GENERATION_CHUNK] * (count // GENERATION_CHUNK)
        if count % GENERATION_CHUNK:
            chunks.append(count % GENERATION_CHUNK)
        make = partial(self.generator, self.endpoint, self.key_id, self.secret, self.role_arn)
        requests = [
            request for blob in self.pool.map(make, chunks) for request in blob.split(b"\0")[:-1]
        ]
        if self.nonce_checked:
            nonces = [match.group(1) for r in requests if (match := NONCE.search(r))]
            fresh = set(nonces)
            complete = len(nonces) == len(fresh) == len(requests)
            if not complete or fresh & self.seen_nonces:
                raise RuntimeError("generated requests without a nonce or with a repeated one")
            self.seen_nonces |= fresh
        return requests

    def write(self, path: Path, count: int) -> Path:
        write_requests(path, self.generate(count))
        return path


def send_raw(port: int, request: bytes) -> tuple[int, bytes]:
    """Send one raw request on a new connection; (status, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, response.read()


# --------------------------------------------------------------------------- servers


#: How Tessera can be served: ``tessera serve`` itself, or its app on another stack
#: (``tessera_stacks.py``); label for the tables.
TESSERA_STACKS = {
    "serve": "tessera serve (as shipped: granian embedded)",
    "embedded-asyncio": "granian embedded, asyncio loop",
    "embedded-uvloop": "granian embedded, uvloop loop",
    "granian-cli": "granian CLI --interface asgi (uvloop)",
    "uvicorn": "uvicorn (httptools, uvloop)",
}


def tessera_command(stack: str, port: int, data_dir: Path, extra_args: Sequence[str]) -> list[str]:
    if stack == "serve":
        return [
            sys.executable,
            "-m",
            "tessera",
            "serve",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
            *extra_args,
        ]
    if stack == "granian-cli":
        return [
            require_tool("granian"),
            "--interface",
            "asgi",
            "--factory",
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
            "tessera_stacks:create_app",
        ]
    return [sys.executable, str(BENCH_DIR / "tessera_stacks.py"), "--stack", stack]


def start_tessera(
    workdir: Path, label: str, stack: str = "serve", extra_args: Sequence[str] = ()
) -> tuple[ServerProcess, str]:
    """A fresh Tessera (own data dir, known root key) on a free port; (server, host:port)."""
    port = free_port()
    data_dir = workdir / f"{label}-data"
    server = ServerProcess(
        label,
        tessera_command(stack, port, data_dir, extra_args),
        workdir / f"{label}.log",
        env={
            "TESSERA_DATA_DIR": str(data_dir),
            "TESSERA_HOST": "127.0.0.1",
            "TESSERA_PORT": str(port),
            "TESSERA_ROOT_ACCESS_KEY_ID": ROOT_ACCESS_KEY_ID,
            "TESSERA_ROOT_ACCESS_KEY_SECRET": ROOT_ACCESS_KEY_SECRET,
            "TESSERA_ACCOUNT_ID": ACCOUNT_ID,
        },
    )
    server.start(f"http://127.0.0.1:{port}/-/health")
    return server, f"127.0.0.1:{port}"


def setup_tessera(endpoint: str) -> tuple[str, str, str]:
    """A RAM user with AliyunSTSAssumeRoleAccess and a role trusting the account root, made
    with the official RAM client and the root key; returns (key id, secret, role ARN)."""
    from alibabacloud_ram20150501 import models as ram
    from alibabacloud_ram20150501.client import Client as Ram
    from alibabacloud_tea_openapi.models import Config

    client = Ram(
        Config(
            access_key_id=ROOT_ACCESS_KEY_ID,
            access_key_secret=ROOT_ACCESS_KEY_SECRET,
            endpoint=endpoint,
            protocol="http",
        )
    )
    client.create_user(ram.CreateUserRequest(user_name=USER_NAME))
    client.attach_policy_to_user(
        ram.AttachPolicyToUserRequest(
            policy_type="System", policy_name="AliyunSTSAssumeRoleAccess", user_name=USER_NAME
        )
    )
    key = client.create_access_key(ram.CreateAccessKeyRequest(user_name=USER_NAME)).body
    trust = {
        "Version": "1",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"RAM": [f"acs:ram::{ACCOUNT_ID}:root"]},
            }
        ],
    }
    role = client.create_role(
        ram.CreateRoleRequest(role_name=ROLE_NAME, assume_role_policy_document=json.dumps(trust))
    ).body.role
    assert key is not None and key.access_key is not None and role is not None
    return key.access_key.access_key_id, key.access_key.access_key_secret, role.arn


def start_moto(workdir: Path) -> tuple[ServerProcess, str]:
    port = free_port()
    server = ServerProcess(
        "moto",
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        workdir / "moto.log",
    )
    server.start(f"http://127.0.0.1:{port}/moto-api/")
    return server, f"127.0.0.1:{port}"


def start_granian_ceiling(workdir: Path) -> tuple[ServerProcess, str]:
    port = free_port()
    server = ServerProcess(
        "granian-ceiling",
        [sys.executable, str(BENCH_DIR / "hello_apps.py"), "--app", "raw", "--port", str(port)],
        workdir / "granian-ceiling.log",
    )
    server.start(f"http://127.0.0.1:{port}/")
    return server, f"127.0.0.1:{port}"


NGINX_CONF = """\
daemon off;
master_process on;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            default_type application/json;
            return 200 '{body}';
        }}
    }}
}}
"""


def start_nginx(workdir: Path) -> tuple[ServerProcess, str]:
    port = free_port()
    prefix = workdir / "nginx"
    prefix.mkdir()
    body = FIXED_BODY.decode()
    if any(ch in body for ch in "'$\\"):
        raise ValueError("FIXED_BODY cannot be served verbatim by nginx `return`")
    conf = prefix / "nginx.conf"
    conf.write_text(NGINX_CONF.format(prefix=prefix, port=port, body=body))
    nginx = require_tool("nginx", "/usr/sbin/nginx")
    server = ServerProcess(
        "nginx",
        [nginx, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")],
        workdir / "nginx.log",
    )
    server.start(f"http://127.0.0.1:{port}/")
    return server, f"127.0.0.1:{port}"


# --------------------------------------------------------------------------- scenarios


@dataclass
class Outcome:
    key: str
    label: str
    result: WrkResult
    error_codes: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    rounds_rps: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.key,
            "label": self.label,
            **self.result.as_dict(),
            "error_codes": self.error_codes,
            "notes": self.notes,
            "rounds_rps": self.rounds_rps,
        }


def log_tail_from(path: Path, offset: int) -> Iterator[str]:
    with path.open("rb") as log:
        log.seek(offset)
        for line in log:
            yield line.decode("utf-8", "replace")


def tessera_error_codes(server: ServerProcess, offset: int) -> dict[str, int]:
    """status/error_code counts of the non-200 access-log lines written after ``offset``."""
    codes: Counter[str] = Counter()
    for line in log_tail_from(server.log_path, offset):
        if not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if "status" in entry and entry["status"] != 200:
            codes[f"{entry['status']} {entry.get('error_code', '-')}"] += 1
    return dict(codes)


MOTO_LOG_STATUS = re.compile(r'" (\d{3}) ')


def moto_error_codes(server: ServerProcess, offset: int) -> dict[str, int]:
    codes: Counter[str] = Counter()
    for line in log_tail_from(server.log_path, offset):
        match = MOTO_LOG_STATUS.search(line)
        if match and match.group(1) != "200":
            codes[match.group(1)] += 1
    return dict(codes)


@dataclass
class Plan:
    warmup: float
    duration: float
    warmup_rate_guess: float
    workdir: Path
    wrk: Wrk
    pool: Any


def run_signed(
    plan: Plan,
    key: str,
    label: str,
    server: ServerProcess,
    source: SignedSource,
    errors: Callable[[ServerProcess, int], dict[str, int]],
    probe: bool,
) -> Outcome:
    """Warm-up sized by a guess, measured run sized by the warm-up's rate (see module doc)."""
    url = f"http://{source.endpoint}/"
    port = int(source.endpoint.rsplit(":", 1)[1])
    notes: list[str] = []
    if probe:
        status, body = send_raw(port, source.generate(1)[0])
        if status != 200:
            raise RuntimeError(f"{label}: probe request answered {status}: {body[:500]!r}")
        notes.append(f"probe request answered 200 with {len(body)} bytes")
    warm_rate = plan.warmup_rate_guess
    if plan.warmup > 0:
        count = math.ceil(plan.warmup_rate_guess * plan.warmup * 1.5) + 200
        warm_file = source.write(plan.workdir / f"{key}-warmup.req", count)
        warm = plan.wrk.run(url, warm_file, plan.warmup, server)
        warm_rate = warm.rps if not warm.exhausted else warm_rate * 2
    count = math.ceil(warm_rate * plan.duration * 1.5) + 500
    for _attempt in range(3):
        requests_file = source.write(plan.workdir / f"{key}.req", count)
        offset = server.log_path.stat().st_size
        result = plan.wrk.run(url, requests_file, plan.duration, server)
        if not result.exhausted:
            break
        notes.append(f"{count} pre-signed requests ran out; repeated with {2 * count}")
        count *= 2
    if result.exhausted:
        notes.append(f"INVALID: pre-signed requests ran out {result.exhausted} times")
    return Outcome(key, label, result, errors(server, offset), notes)


def run_scenario(key: str, args: argparse.Namespace, plan: Plan, round_index: int) -> Outcome:
    """One scenario on a fresh server (own data and files per round), stopped afterwards."""
    server: ServerProcess | None = None
    run_dir = plan.workdir / f"{key}-round{round_index}"
    run_dir.mkdir()
    plan = Plan(plan.warmup, plan.duration, plan.warmup_rate_guess, run_dir, plan.wrk, plan.pool)
    try:
        if key in ("tessera-v1", "tessera-v3", "tessera-v1-2w"):
            workers = ["--workers", "2"] if key.endswith("-2w") else []
            server, endpoint = start_tessera(plan.workdir, key, extra_args=workers)
            key_id, secret, role_arn = setup_tessera(endpoint)
            generator: Generator = _v3_requests if key == "tessera-v3" else _v1_requests
            source = SignedSource(generator, endpoint, key_id, secret, role_arn, True, plan.pool)
            label = {
                "tessera-v1": "Tessera AssumeRole, V1 HMAC-SHA1 (aliyun-python-sdk-core)",
                "tessera-v3": "Tessera AssumeRole, V3 ACS3-HMAC-SHA256 (tea client)",
                "tessera-v1-2w": "Tessera AssumeRole, V1, serve --workers 2 (shared nonces)",
            }[key]
            return run_signed(plan, key, label, server, source, tessera_error_codes, True)
        if key == "moto":
            server, endpoint = start_moto(plan.workdir)
            source = SignedSource(
                _moto_requests,
                endpoint,
                "AKIDBENCHEXAMPLE",
                "benchSecret",
                MOTO_ROLE_ARN,
                False,
                plan.pool,
            )
            moto_plan = Plan(
                plan.warmup, plan.duration, args.moto_rate, plan.workdir, plan.wrk, plan.pool
            )
            return run_signed(
                moto_plan,
                key,
                "moto server STS AssumeRole (boto3 SigV4)",
                server,
                source,
                moto_error_codes,
                True,
            )
        start = start_granian_ceiling if key == "ceiling-granian" else start_nginx
        server, endpoint = start(plan.workdir)
        url = f"http://{endpoint}/"
        requests_file = plan.workdir / f"{key}.req"
        write_requests(requests_file, [raw_request("GET", url, [], None)])
        result = measure(
            plan.wrk,
            server,
            url,
            requests_file,
            warmup=plan.warmup,
            duration=plan.duration,
            cycle=True,
        )
        label = (
            "ceiling: bare ASGI app, fixed JSON, granian embedded (as Tessera)"
            if key == "ceiling-granian"
            else "ceiling: nginx `return 200`, same body"
        )
        return Outcome(key, label, result)
    finally:
        if server is not None:
            server.stop()


def median_outcome(outcomes: list[Outcome]) -> Outcome:
    """The round with the median req/s (its latency and CPU figures belong to that run), with
    every round's req/s and every round's notes and error codes."""
    median = median_round([(o.result, o.error_codes, o.notes) for o in outcomes])
    chosen = outcomes[median.index]
    return Outcome(
        chosen.key, chosen.label, median.result, median.error_codes, median.notes, median.rounds_rps
    )


# --------------------------------------------------------------------------- report


def report(
    outcomes: list[Outcome],
    all_rounds: dict[str, list[Outcome]],
    args: argparse.Namespace,
    wrk: Wrk,
) -> tuple[str, dict[str, Any]]:
    by_key = {outcome.key: outcome for outcome in outcomes}
    moto = by_key.get("moto")
    rows = []
    for outcome in outcomes:
        r = outcome.result
        ratio = ""
        if moto is not None and outcome.key.startswith("tessera") and moto.result.rps:
            ratio = f"{r.rps / moto.result.rps:.1f}x"
        rows.append(
            [
                outcome.label,
                f"{r.rps:,.0f}",
                ms(r.p50_us),
                ms(r.p99_us),
                f"{r.non_2xx:,}" + (f" (+{r.socket_errors} socket)" if r.socket_errors else ""),
                f"{r.cpu_us_per_request:,.0f}",
                ratio,
                f"{r.other_load_pct:.0f}",
            ]
            + ([" / ".join(f"{v:,.0f}" for v in outcome.rounds_rps)] if args.repeat > 1 else [])
        )
    header = [
        "scenario",
        "req/s",
        "p50 ms",
        "p99 ms",
        "non-2xx",
        "server CPU µs/req",
        "req/s vs moto",
        "other load %",
    ] + (["req/s of each round"] if args.repeat > 1 else [])
    table = markdown_table(header, rows)
    lines = [
        "# AssumeRole: Tessera vs moto, with HTTP ceilings",
        "",
        f"One run, scenarios one after another, each on a fresh server; load client "
        f"`wrk -t{wrk.threads} -c{wrk.connections} --latency` replaying pre-signed requests "
        f"(each sent once); {args.duration:.0f} s measured after {args.warmup:.0f} s warm-up"
        + (
            f"; {args.repeat} interleaved rounds, each row is its median round."
            if args.repeat > 1
            else "."
        ),
        f"Machine: {machine_line()} — server and wrk share the cores; {source_state()}. "
        '"other load": CPU used during the run by other user processes (not the server, '
        "not wrk), in % of one core; a row with more than a few % was disturbed.",
        "",
        table,
        "",
    ]
    ratios: dict[str, float] = {}
    if moto is not None and moto.result.rps:
        for key in ("tessera-v1", "tessera-v3", "tessera-v1-2w"):
            if key in by_key:
                tessera = by_key[key].result
                ratios[f"{key}/moto req/s"] = round(tessera.rps / moto.result.rps, 2)
                if tessera.cpu_us_per_request:
                    ratios[f"moto/{key} CPU per request"] = round(
                        moto.result.cpu_us_per_request / tessera.cpu_us_per_request, 2
                    )
    if ratios:
        lines.append(
            "Ratios (target: Tessera >= 10x moto): "
            + "; ".join(f"{name} = {value:.1f}x" for name, value in ratios.items())
        )
        lines.append("")
    for outcome in outcomes:
        if outcome.error_codes:
            codes = ", ".join(f"{code}: {n}" for code, n in sorted(outcome.error_codes.items()))
            lines.append(f"- {outcome.key}: non-200 answers in the server log: {codes}")
        for note in outcome.notes:
            lines.append(f"- {outcome.key}: {note}")
    markdown = "\n".join(lines).rstrip() + "\n"
    raw = {
        "machine": machine_line(),
        "source": source_state(),
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "repeat": args.repeat,
        "rounds": {key: [o.as_dict() for o in runs] for key, runs in all_rounds.items()},
        "wrk": {"threads": wrk.threads, "connections": wrk.connections},
        "scenarios": [outcome.as_dict() for outcome in outcomes],
        "ratios": ratios,
    }
    return markdown, raw


SCENARIOS = [
    "tessera-v1",
    "tessera-v3",
    "tessera-v1-2w",
    "moto",
    "ceiling-granian",
    "ceiling-nginx",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds")
    parser.add_argument("--quick", action="store_true", help="3 s measured, 1 s warm-up")
    parser.add_argument(
        "--only", nargs="+", choices=SCENARIOS, default=SCENARIOS, help="scenarios to run"
    )
    parser.add_argument(
        "--rate-guess",
        type=float,
        default=6000.0,
        help="req/s used to size Tessera's warm-up request list",
    )
    parser.add_argument(
        "--moto-rate", type=float, default=800.0, help="the same for moto's warm-up"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds of all scenarios, interleaved; the table shows each one's median round",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=20.0,
        help="before each wrk run wait up to S s for the machine to be idle (0: never)",
    )
    args = parser.parse_args()
    if args.quick:
        args.duration, args.warmup = 3.0, 1.0
    if args.duration > 600:
        parser.error("signed requests expire after 15 minutes: keep --duration under 600")

    wrk = Wrk(quiet_wait=args.quiet_wait)
    context = multiprocessing.get_context("fork")
    rounds: dict[str, list[Outcome]] = {key: [] for key in args.only}
    with (
        tempfile.TemporaryDirectory(prefix="tessera-bench-") as tmp,
        context.Pool(2) as pool,
    ):
        plan = Plan(args.warmup, args.duration, args.rate_guess, Path(tmp), wrk, pool)
        for round_index in range(args.repeat):
            for key in args.only:
                print(f"  round {round_index + 1}/{args.repeat}: {key} ...", flush=True)
                rounds[key].append(run_scenario(key, args, plan, round_index))
    outcomes = [median_outcome(rounds[key]) for key in args.only]
    markdown, raw = report(outcomes, rounds, args, wrk)
    md_path, json_path = write_results("assume_role", markdown, raw)
    print()
    print(markdown)
    print(f"written: {md_path} and {json_path}")


if __name__ == "__main__":
    main()
