"""Regenerate tests/vectors/pop_v1 and tests/vectors/acs3 from the official SDKs.

Run: ``python tests/unit/signing/gen_vectors.py [--node-modules DIR]`` from the repo root, in the
venv (aliyun-python-sdk-core, alibabacloud-tea-openapi, alibabacloud-sts20150401,
alibabacloud-ram20150501, alibabacloud-credentials). The Node cases need ``node`` and
``npm install @alicloud/pop-core@1.8.0 @alicloud/sts-sdk@1.0.2`` in ``--node-modules``'s parent;
without them those cases are left as they are.

Each SDK sends its request to a local capture server (HTTP, and HTTPS with a throw-away
certificate for the clients that hard-code https). The expected string to sign, canonical
request and signature are recorded from inside the SDKs' own code (their signing functions are
wrapped, not reimplemented), so no expected value comes from Tessera. Tessera is not imported.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import hashlib
import hmac
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import types
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
VECTORS = ROOT / "tests" / "vectors"
AK = "LTAI5tTestAccessKeyId"
SECRET = "TestSecret123"
ROLE_ARN = "acs:ram::1234567890123456:role/oss-writer"
# json.dumps' default separators put spaces in: the pretty form users pass, which exposes the
# plus-encoding of alibabacloud-credentials; * ( ) ' ! ~ and non-ASCII exercise the encoders.
POLICY = json.dumps(
    {
        "Version": "1",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["oss:GetObject", "oss:PutObject"],
                "Resource": [
                    "acs:oss:*:*:sample-bucket/2015/01/01/*.jpg",
                    "acs:oss:*:*:b/(it's)!~ x/é中",
                ],
            }
        ],
    },
    ensure_ascii=False,
)
REPLY = json.dumps(
    {
        "RequestId": "6894B13B-6D71-4EF5-88FA-F32781734A7F",
        "AssumedRoleUser": {"Arn": f"{ROLE_ARN}/alice", "AssumedRoleId": "3000:alice"},
        "Credentials": {
            "AccessKeyId": "STS.NUgYrLnoC37mZZCNnAbez2",
            "AccessKeySecret": "wyLTSmsyPGP1ohvvw8xYgB29dlGI8KMiH2pK",
            "SecurityToken": "CAIStestSecurityToken",
            "Expiration": "2099-01-01T00:00:00Z",
        },
    }
).encode()


# ------------------------------------------------------------------------------ capture server


class Captured:
    def __init__(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes):
        self.method, self.target, self.headers, self.body = method, target, headers, body

    def raw(self) -> str:
        lines = [f"{self.method} {self.target} HTTP/1.1"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        # "\n" rather than CRLF so that git never rewrites the file
        return "\n".join(lines) + "\n\n" + self.body.decode("utf-8")

    def as_json(self) -> dict[str, Any]:
        path, _, query = self.target.partition("?")
        return {
            "method": self.method,
            "path": path,
            "query": query,
            "headers": [list(h) for h in self.headers],
            "body": self.body.decode("utf-8"),
        }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    captured: list[Captured]

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.captured.append(Captured(self.command, self.path, list(self.headers.items()), body))
        self.send_response(200)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(REPLY)))
        self.end_headers()
        self.wfile.write(REPLY)

    do_GET = do_POST = _handle

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _certificate(directory: Path) -> tuple[Path, Path]:
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@contextlib.contextmanager
def capture_servers(tmp: Path) -> Iterator[tuple[int, int, Path, list[Captured]]]:
    captured: list[Captured] = []
    handler = type("Handler", (_Handler,), {"captured": captured})
    plain = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    secure = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    cert, key = _certificate(tmp)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    secure.socket = context.wrap_socket(secure.socket, server_side=True)
    for server in (plain, secure):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield plain.server_address[1], secure.server_address[1], cert, captured
    finally:
        plain.shutdown()
        secure.shutdown()


# ------------------------------------------------------------------------------- SDK wrapping


@contextlib.contextmanager
def patched(owner: Any, name: str, wrapper: Callable[[Any], Any]) -> Iterator[None]:
    original = getattr(owner, name)
    setattr(owner, name, wrapper(original))
    try:
        yield
    finally:
        setattr(owner, name, original)


def recording_hmac(log: list[tuple[bytes, bytes]]) -> types.SimpleNamespace:
    """A stand-in for the ``hmac`` module that records (key, message) of every ``hmac.new``."""

    def new(key: bytes, msg: bytes | None = None, digestmod: Any = None) -> Any:
        log.append((key, msg or b""))
        return hmac.new(key, msg, digestmod)

    return types.SimpleNamespace(new=new, digest=hmac.digest, compare_digest=hmac.compare_digest)


# ------------------------------------------------------------------------------------- writers


def _write(directory: Path, files: dict[str, str]) -> None:
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8", newline="")
    print(f"wrote {directory.relative_to(ROOT)}")


def write_pop_v1(case: str, request: Captured, sts: str, secret: str, variant: str, source: str):
    signature = _sent_signature(request)
    assert signature == _sign_v1(secret, sts), f"{case}: recorded string does not give {signature}"
    _write(
        VECTORS / "pop_v1" / case,
        {
            "request.txt": request.raw(),
            "method": request.method,
            "string_to_sign": sts,
            "signature": signature,
            "secret": secret,
            "variant": variant,
            "source": source + "\n",
        },
    )


def _sent_signature(request: Captured) -> str:
    """The ``Signature`` parameter the SDK sent (query or form body), decoded."""
    from urllib.parse import parse_qsl

    pairs = parse_qsl(request.target.partition("?")[2]) + parse_qsl(request.body.decode())
    return dict(pairs)["Signature"]


def _sign_v1(secret: str, sts: str) -> str:
    """Only used to cross-check what the SDK sent; the vector stores the SDK's value."""
    import base64

    return base64.b64encode(hmac.digest((secret + "&").encode(), sts.encode(), "sha1")).decode()


def write_acs3(
    case: str,
    request: Captured | dict[str, Any],
    canonical: str,
    sts: str,
    sig: str,
    secret: str,
    source: str,
) -> None:
    data = request.as_json() if isinstance(request, Captured) else request
    _write(
        VECTORS / "acs3" / case,
        {
            "request.json": json.dumps(data, indent=2, ensure_ascii=False) + "\n",
            "canonical_request": canonical,
            "string_to_sign": sts,
            "signature": sig,
            "secret": secret,
            "source": source + "\n",
        },
    )


# -------------------------------------------------------------------------- documented vectors


def doc_vectors() -> None:
    params = [
        ["AccessKeyId", "testid"],
        ["Action", "CreateUser"],
        ["Format", "JSON"],
        ["SignatureMethod", "HMAC-SHA1"],
        ["SignatureNonce", "6a6e0ca6-4557-11e5-86a2-b8e8563dc8d2"],
        ["SignatureVersion", "1.0"],
        ["Timestamp", "2015-08-18T03:15:45Z"],
        ["UserName", "test"],
        ["Version", "2015-05-01"],
    ]
    sts = (
        "GET&%2F&AccessKeyId%3Dtestid%26Action%3DCreateUser%26Format%3DJSON%26SignatureMethod"
        "%3DHMAC-SHA1%26SignatureNonce%3D6a6e0ca6-4557-11e5-86a2-b8e8563dc8d2%26SignatureVersion"
        "%3D1.0%26Timestamp%3D2015-08-18T03%253A15%253A45Z%26UserName%3Dtest%26Version"
        "%3D2015-05-01"
    )
    _write(
        VECTORS / "pop_v1" / "doc-createuser",
        {
            "params.json": json.dumps(params, indent=2) + "\n",
            "method": "GET",
            "string_to_sign": sts,
            "signature": "kRA2cnpJVacIhDMzXnoNZG9tDCI=",
            "secret": "testsecret",
            "variant": "strict",
            "source": "RAM docs, 'Signature mechanism' (spec/sts-ram.md 2.3); as published\n",
        },
    )
    doc_acs3()


def doc_acs3() -> None:
    """Spec 2.4's RunInstances vector; the canonical request is the one tea builds from it."""
    from alibabacloud_tea_openapi.utils import Utils
    from darabonba.request import DaraRequest

    request = DaraRequest()
    request.method, request.pathname = "POST", "/"
    request.query = {
        "ImageId": "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd",
        "RegionId": "cn-shanghai",
    }
    request.headers = {
        "host": "ecs.cn-shanghai.aliyuncs.com",
        "x-acs-action": "RunInstances",
        "x-acs-version": "2014-05-26",
        "x-acs-date": "2023-10-26T10:22:32Z",
        "x-acs-signature-nonce": "3156853299f313e23d1673dc12e1703d",
        "x-acs-content-sha256": hashlib.sha256(b"").hexdigest(),
    }
    secret = "YourAccessKeySecret"
    with tea_v3_recorder() as log:
        auth = Utils.get_authorization(
            request, "ACS3-HMAC-SHA256", hashlib.sha256(b"").hexdigest(), "YourAccessKeyId", secret
        )
    canonical, sts = log[-1]
    sig = auth.rsplit("Signature=", 1)[1]
    assert sig == "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0", sig
    assert sts.endswith("7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259"), sts
    from urllib.parse import urlencode

    wire = {
        "method": "POST",
        "path": "/",
        "query": urlencode(request.query),
        "headers": [[k, v] for k, v in request.headers.items()] + [["Authorization", auth]],
        "body": "",
    }
    write_acs3(
        "doc-runinstances",
        wire,
        canonical,
        sts,
        sig,
        secret,
        "V3 signature docs (spec/sts-ram.md 2.4); canonical request from tea-openapi 0.4.6 "
        "Utils.get_authorization, signature and hash equal to the published ones",
    )


# ----------------------------------------------------------------------------- Python clients


@contextlib.contextmanager
def tea_v3_recorder() -> Iterator[list[tuple[str, str]]]:
    """Record (canonical request, string to sign) of every tea ``get_authorization``."""
    import alibabacloud_tea_openapi.utils as tea_utils

    log: list[tuple[str, str]] = []
    hashed: list[bytes] = []

    def wrap_hash(original: Callable[..., bytes]) -> Callable[..., bytes]:
        def hash_(raw: bytes, sign_type: str) -> bytes:
            hashed.append(raw)
            return original(raw, sign_type)

        return staticmethod(hash_)  # type: ignore[return-value]

    def wrap_sign(original: Callable[..., bytes]) -> Callable[..., bytes]:
        def sign(secret: str, source: str, sign_type: str) -> bytes:
            log.append((hashed[-1].decode("utf-8"), source))
            return original(secret, source, sign_type)

        return sign

    hash_original = tea_utils.Utils.__dict__["hash"].__func__
    with patched(tea_utils, "signature_method", wrap_sign):
        tea_utils.Utils.hash = wrap_hash(hash_original)
        try:
            yield log
        finally:
            tea_utils.Utils.hash = staticmethod(hash_original)


def _tea_config(port: int, **extra: Any) -> Any:
    from alibabacloud_tea_openapi.utils_models import Config

    return Config(
        access_key_id=extra.pop("access_key_id", AK),
        access_key_secret=SECRET,
        endpoint=f"127.0.0.1:{port}",
        protocol="http",
        **extra,
    )


def _last(captured: list[Captured], before: int) -> Captured:
    assert len(captured) == before + 1, f"expected one request, got {len(captured) - before}"
    return captured[-1]


def tea_cases(port: int, captured: list[Captured]) -> None:
    from alibabacloud_ram20150501 import models as ram_models
    from alibabacloud_ram20150501.client import Client as RamClient
    from alibabacloud_sts20150401 import models as sts_models
    from alibabacloud_sts20150401.client import Client as StsClient

    version = "alibabacloud-sts20150401 1.2.0 / alibabacloud-ram20150501 1.3.0, tea-openapi 0.4.6"
    calls: list[tuple[str, Callable[[], Any]]] = [
        (
            "tea-sts-assumerole",
            lambda: StsClient(_tea_config(port)).assume_role(
                sts_models.AssumeRoleRequest(
                    role_arn=ROLE_ARN,
                    role_session_name="alice",
                    duration_seconds=3600,
                    policy=POLICY,
                )
            ),
        ),
        (
            "tea-sts-getcalleridentity-ststoken",
            lambda: StsClient(
                _tea_config(
                    port,
                    access_key_id="STS.NUgYrLnoC37mZZCNnAbez2",
                    security_token="CAIStestSecurityToken",
                )
            ).get_caller_identity(),
        ),
        (
            "tea-ram-createuser-unicode",
            lambda: RamClient(_tea_config(port)).create_user(
                ram_models.CreateUserRequest(
                    user_name="alice",
                    display_name="张三 O'Brien",
                    comments="a b+c*d~e!f(g)h'i&j=k/l?m%n#o",
                    email="a@example.com",
                )
            ),
        ),
        (
            "tea-ram-updateuser-empty-value",
            lambda: RamClient(_tea_config(port)).update_user(
                ram_models.UpdateUserRequest(user_name="alice", new_comments="")
            ),
        ),
    ]
    for case, call in calls:
        before = len(captured)
        with tea_v3_recorder() as log, contextlib.suppress(Exception):
            call()
        request = _last(captured, before)
        canonical, sts = log[-1]
        authorization = dict((k.lower(), v) for k, v in request.headers)["authorization"]
        sig = authorization.rsplit("Signature=", 1)[1]
        expected = hmac.new(SECRET.encode(), sts.encode(), "sha256").hexdigest()
        assert sig == expected, case
        write_acs3(case, request, canonical, sts, sig, SECRET, f"{version}, V3 (default)")

    before = len(captured)
    import alibabacloud_tea_openapi.utils as tea_utils

    log_v1: list[tuple[bytes, bytes]] = []
    with (
        patched(tea_utils, "hmac", lambda _: recording_hmac(log_v1)),
        contextlib.suppress(Exception),
    ):
        StsClient(_tea_config(port, signature_algorithm="v2")).assume_role(
            sts_models.AssumeRoleRequest(
                role_arn=ROLE_ARN, role_session_name="alice", duration_seconds=3600, policy=POLICY
            )
        )
    request = _last(captured, before)
    write_pop_v1(
        "tea-v1-assumerole",
        request,
        log_v1[-1][1].decode("utf-8"),
        SECRET,
        "strict",
        f"{version}, Config(signature_algorithm='v2')",
    )


@contextlib.contextmanager
def core_recorder() -> Iterator[list[str]]:
    from aliyunsdkcore.auth.composer import rpc_signature_composer

    log: list[str] = []

    def wrap(original: Callable[..., tuple[str, str]]) -> Callable[..., tuple[str, str]]:
        def get_signed_url(*args: Any, **kwargs: Any) -> tuple[str, str]:
            url, sts = original(*args, **kwargs)
            log.append(sts)
            return url, sts

        return get_signed_url

    with patched(rpc_signature_composer, "get_signed_url", wrap):
        yield log


def core_cases(port: int, captured: list[Captured]) -> None:
    from aliyunsdkcore.auth.credentials import StsTokenCredential
    from aliyunsdkcore.client import AcsClient
    from aliyunsdkcore.request import CommonRequest
    from aliyunsdksts.request.v20150401.AssumeRoleRequest import AssumeRoleRequest

    source = "aliyun-python-sdk-core 2.16.1 + aliyun-python-sdk-sts 3.1.3"

    def assume(method: str, token: bool) -> Any:
        request = AssumeRoleRequest()
        request.set_RoleArn(ROLE_ARN)
        request.set_RoleSessionName("alice")
        request.set_DurationSeconds(3600)
        request.set_Policy(POLICY)
        request.set_endpoint(f"127.0.0.1:{port}")
        request.set_protocol_type("http")
        request.set_method(method)
        if token:
            credential = StsTokenCredential("STS.NUgYrLnoC37mZZCNnAbez2", SECRET, "CAIStestToken")
            client = AcsClient(region_id="cn-hangzhou", credential=credential)
        else:
            client = AcsClient(AK, SECRET, "cn-hangzhou")
        return client.do_action_with_exception(request)

    def form_body() -> Any:
        request = CommonRequest(
            domain=f"127.0.0.1:{port}", version="2015-05-01", action_name="CreateUser"
        )
        request.set_protocol_type("http")
        request.set_method("POST")
        request.add_query_param("UserName", "alice")
        request.add_body_params("DisplayName", "张三 O'Brien")
        request.add_body_params("Comments", "a b+c*d~e!f(g)h'i&j=k/l?m%n#o")
        return AcsClient(AK, SECRET, "cn-hangzhou").do_action_with_exception(request)

    cases: list[tuple[str, Callable[[], Any], str]] = [
        ("core-assumerole-post", lambda: assume("POST", False), "AcsClient, POST"),
        (
            "core-assumerole-get-ststoken",
            lambda: assume("GET", True),
            "AcsClient(credential=StsTokenCredential), set_method('GET')",
        ),
        (
            "core-ram-createuser-form-body",
            form_body,
            "CommonRequest POST with add_body_params (form body is signed too)",
        ),
    ]
    for case, call, how in cases:
        before = len(captured)
        with core_recorder() as log, contextlib.suppress(Exception):
            call()
        write_pop_v1(case, _last(captured, before), log[-1], SECRET, "strict", f"{source}, {how}")


def credentials_case(https_port: int, cert: Path, captured: list[Captured]) -> None:
    import alibabacloud_credentials.utils.parameter_helper as helper
    from alibabacloud_credentials.client import Client
    from alibabacloud_credentials.models import Config

    log: list[str] = []

    def wrap(original: Callable[..., str]) -> Callable[..., str]:
        def compose(method: str, queries: dict[str, str]) -> str:
            log.append(original(method, queries))
            return log[-1]

        return compose

    os.environ["SSL_CERT_FILE"] = str(cert)
    before = len(captured)
    config = Config(
        type="ram_role_arn",
        access_key_id=AK,
        access_key_secret=SECRET,
        role_arn=ROLE_ARN,
        role_session_name="alice",
        policy=POLICY,
        sts_endpoint=f"127.0.0.1:{https_port}",
    )
    with patched(helper, "compose_string_to_sign", wrap), contextlib.suppress(Exception):
        Client(config).get_credential()
    write_pop_v1(
        "credentials-ramrolearn-plus",
        _last(captured, before),
        log[-1],
        SECRET,
        "plus",
        "alibabacloud-credentials 1.0.12, Config(type='ram_role_arn', policy=...); "
        "signs with quote_plus (space -> '+'), sends GET over https",
    )


# ------------------------------------------------------------------------------- Node clients


def node_cases(
    modules: Path, http_port: int, https_port: int, cert: Path, captured: list[Captured]
) -> None:
    if not (modules / "@alicloud" / "sts-sdk").is_dir() or shutil.which("node") is None:
        print(f"skipping Node cases: no node or no @alicloud packages in {modules}")
        return
    env = dict(
        os.environ,
        NODE_PATH=str(modules),
        HTTP_PORT=str(http_port),
        HTTPS_PORT=str(https_port),
        NODE_EXTRA_CA_CERTS=str(cert),
    )
    before = len(captured)
    script = Path(__file__).with_name("capture_node.js")
    out = subprocess.run(["node", str(script)], env=env, check=True, capture_output=True, text=True)
    results = [json.loads(line) for line in out.stdout.splitlines()]
    requests = captured[before:]
    assert len(requests) == len(results), (len(requests), results)
    sources = {
        "popcore-assumerole-get": ("strict", "@alicloud/pop-core 1.8.0 RPCClient, GET (default)"),
        "popcore-assumerole-post-form": (
            "strict",
            "@alicloud/pop-core 1.8.0 RPCClient, {method: 'POST'}: everything in the form body",
        ),
        "stssdk-assumerole-lax": (
            "lax",
            "@alicloud/sts-sdk 1.0.2 AssumeRole: querystring + encodeURIComponent leave "
            "! ' ( ) * unescaped; https",
        ),
    }
    for result, request in zip(results, requests, strict=True):
        assert result["key"] == SECRET + "&"
        variant, source = sources[result["case"]]
        write_pop_v1(result["case"], request, result["string_to_sign"], SECRET, variant, source)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--node-modules", type=Path, default=Path("/tmp/tessera-js/node_modules"))
    args = parser.parse_args()
    doc_vectors()
    with tempfile.TemporaryDirectory() as tmp, capture_servers(Path(tmp)) as servers:
        http_port, https_port, cert, captured = servers
        tea_cases(http_port, captured)
        core_cases(http_port, captured)
        credentials_case(https_port, cert, captured)
        node_cases(args.node_modules, http_port, https_port, cert, captured)


if __name__ == "__main__":
    sys.exit(main())
