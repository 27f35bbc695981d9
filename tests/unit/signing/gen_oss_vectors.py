"""Regenerate tests/vectors/oss_v1, oss_v2 and oss_v4 from the official OSS SDKs.

Run: ``python tests/unit/signing/gen_oss_vectors.py [--node-modules DIR]`` from the repo root, in
the venv (``oss2`` 2.19.1, ``alibabacloud-oss-v2`` 1.4.1). The ali-oss cases need ``node`` and
``npm install ali-oss@6.23.0`` in ``--node-modules``'s parent; without them they are skipped.

Each SDK sends its request to a local capture server (or returns a presigned URL) with the clock
pinned to ``NOW``. The string to sign and canonical request are recorded from inside the SDKs'
own signing functions (wrapped, never reimplemented): oss2 ``ProviderAuth*`` private stages,
alibabacloud-oss-v2 ``SignerV1/SignerV4._calc_*``, ali-oss ``signUtils`` exports. The signature
is the one the SDK put on the wire. Tessera is not imported.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime
import email.utils
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import threading
import types
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
VECTORS = ROOT / "tests" / "vectors"
NOW = 1796415581  # 2026-12-04T20:19:41Z
AK, SECRET = "LTAIEXAMPLEAK", "ExampleSecretKey123"
STS_AK, STS_SECRET, TOKEN = "STS.EXAMPLEAK", "StsSecretKey456", "CAIS/Fake+Token=="
BUCKET, REGION = "testbucket", "cn-hangzhou"
PORT = 28471
KEY_UNICODE = "cap/hello wörld+1.txt"
KEY_AWKWARD = "a+b/100% sure/ü ~*().txt"


# ------------------------------------------------------------------------------ capture server


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    captured: list[dict[str, Any]]

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        elif self.headers.get("Transfer-Encoding") == "chunked":
            while (size := int(self.rfile.readline().strip(), 16)) > 0:
                self.rfile.read(size + 2)
            self.rfile.readline()
        path, _, query = self.path.partition("?")
        self.captured.append(
            {"method": self.command, "path": path, "query": query, "headers": self.headers.items()}
        )
        self.send_response(200)
        self.send_header("x-oss-request-id", "5C3D9175B6FC201293AD0000")
        self.send_header("ETag", '"D41D8CD98F00B204E9800998ECF8427E"')
        self.send_header("Date", email.utils.formatdate(NOW, usegmt=True))
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def capture_server() -> Iterator[tuple[int, list[dict[str, Any]]]]:
    captured: list[dict[str, Any]] = []
    handler = type("H", (_Handler,), {"captured": captured})
    try:  # a fixed port keeps the recorded Host headers stable between runs
        server = ThreadingHTTPServer(("127.0.0.1", PORT), handler)
    except OSError:
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1], captured
    finally:
        server.shutdown()


# ------------------------------------------------------------------------------- SDK wrapping


@contextlib.contextmanager
def patched(owner: Any, name: str, value: Any) -> Iterator[None]:
    original = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, original)


def wrapped(owner: Any, name: str, wrapper: Callable[[Any], Any]) -> Any:
    return patched(owner, name, wrapper(getattr(owner, name)))


def recorder(log: dict[str, Any], name: str) -> Callable[[Any], Any]:
    def wrap(original: Any) -> Any:
        def inner(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            log[name] = result.decode("utf-8") if isinstance(result, bytes) else result
            return result

        return inner

    return wrap


class _FixedDatetime(datetime.datetime):
    @classmethod
    def now(cls, tz: datetime.tzinfo | None = None) -> Any:
        return datetime.datetime.fromtimestamp(NOW, tz or datetime.UTC)

    @classmethod
    def utcnow(cls) -> Any:
        return datetime.datetime.fromtimestamp(NOW, datetime.UTC).replace(tzinfo=None)


FIXED_DATETIME_MODULE = types.SimpleNamespace(
    datetime=_FixedDatetime, timezone=datetime.timezone, timedelta=datetime.timedelta
)


@contextlib.contextmanager
def frozen_oss2() -> Iterator[None]:
    import oss2

    with contextlib.ExitStack() as stack:
        stack.enter_context(patched(oss2.auth, "time", types.SimpleNamespace(time=lambda: NOW)))
        stack.enter_context(patched(oss2.auth, "datetime", _FixedDatetime))

        def fixed_date(timeval: float | None = None) -> str:
            return email.utils.formatdate(NOW, usegmt=True)

        stack.enter_context(patched(oss2.utils, "http_date", fixed_date))
        yield


@contextlib.contextmanager
def frozen_v2sdk() -> Iterator[None]:
    from alibabacloud_oss_v2.signer import v1, v4

    with (
        patched(v1, "datetime", FIXED_DATETIME_MODULE),
        patched(v4, "datetime", FIXED_DATETIME_MODULE),
    ):
        yield


# ------------------------------------------------------------------------------------- writing


def _write(scheme_dir: str, case: str, files: dict[str, str]) -> None:
    directory = VECTORS / scheme_dir / case
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8", newline="")
    print(f"wrote {directory.relative_to(ROOT)}")


def _check_v1(sts: str, secret: str, sig: str, case: str) -> None:
    mine = base64.b64encode(hmac.digest(secret.encode(), sts.encode(), hashlib.sha1)).decode()
    assert mine == sig, f"{case}: recorded string to sign does not give the sent signature"


def write_case(
    scheme: str,
    case: str,
    request: dict[str, Any],
    recorded: dict[str, Any],
    signature: str,
    secret: str,
    source: str,
) -> None:
    """``scheme`` is the oss_common.AuthScheme value; the vector dir is its version."""
    version = scheme.split("-")[0]
    files = {
        "request.json": json.dumps({"scheme": scheme, **request}, indent=2, ensure_ascii=False)
        + "\n",
        "string_to_sign": recorded["string_to_sign"],
        "signature": signature,
        "secret": secret,
        "source": source + "\n",
    }
    if version == "v1":
        _check_v1(recorded["string_to_sign"], secret, signature, case)
    if version == "v4":
        files["canonical_request"] = recorded["canonical_request"]
    _write(f"oss_{version}", case, files)


def _wire(captured: list[dict[str, Any]], bucket: str, key: str, **extra: Any) -> dict[str, Any]:
    assert len(captured) == 1, f"expected one request, got {len(captured)}"
    request = captured.pop()
    return {
        "method": request["method"],
        "path": request["path"],
        "query": request["query"],
        "headers": [list(h) for h in request["headers"]],
        "bucket": bucket,
        "key": key,
        **extra,
    }


def _from_url(
    method: str, url: str, headers: dict[str, str], bucket: str, key: str, **extra: Any
) -> dict[str, Any]:
    parts = urllib.parse.urlsplit(url)
    return {
        "method": method,
        "path": parts.path,
        "query": parts.query,
        "headers": [["Host", parts.netloc], *([k, v] for k, v in headers.items())],
        "bucket": bucket,
        "key": key,
        **extra,
    }


def _auth_header(request: dict[str, Any]) -> str:
    return str(next(v for k, v in request["headers"] if k.lower() == "authorization"))


def _query_value(request: dict[str, Any], name: str) -> str:
    return dict(urllib.parse.parse_qsl(str(request["query"]), keep_blank_values=True))[name]


def _quietly(call: Callable[[], Any]) -> None:
    """The capture server answers 200 with an empty body; parsing that may fail afterwards."""
    with contextlib.suppress(Exception):  # the request was captured, the reply does not matter
        call()


# ------------------------------------------------------------------------------------ oss2

OSS2_SOURCE = "oss2 2.19.1 {what}; string to sign recorded from {stage}, signature as sent"


def oss2_cases(port: int, captured: list[dict[str, Any]]) -> None:
    import oss2
    from oss2.auth import ProviderAuth, ProviderAuthV2, ProviderAuthV4

    endpoint = f"http://127.0.0.1:{port}"
    log: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        stack.enter_context(frozen_oss2())
        stack.enter_context(
            wrapped(
                ProviderAuth, "_ProviderAuth__get_bytes_to_sign", recorder(log, "string_to_sign")
            )
        )
        stack.enter_context(
            wrapped(
                ProviderAuthV2,
                "_ProviderAuthV2__get_bytes_to_sign",
                recorder(log, "string_to_sign"),
            )
        )
        stack.enter_context(
            wrapped(
                ProviderAuthV4,
                "_ProviderAuthV4__get_canonical_request_bytes",
                recorder(log, "canonical_request"),
            )
        )
        stack.enter_context(
            wrapped(
                ProviderAuthV4,
                "_ProviderAuthV4__get_string_to_sign_bytes",
                recorder(log, "string_to_sign"),
            )
        )
        v1 = oss2.Bucket(oss2.Auth(AK, SECRET), endpoint, BUCKET)
        sts1 = oss2.Bucket(oss2.StsAuth(STS_AK, STS_SECRET, TOKEN), endpoint, BUCKET)
        v2 = oss2.Bucket(oss2.AuthV2(AK, SECRET), endpoint, BUCKET)
        sts2 = oss2.Bucket(oss2.StsAuth(STS_AK, STS_SECRET, TOKEN, "v2"), endpoint, BUCKET)
        v4 = oss2.Bucket(oss2.AuthV4(AK, SECRET), endpoint, BUCKET, region=REGION)
        sts4 = oss2.Bucket(
            oss2.StsAuth(STS_AK, STS_SECRET, TOKEN, "v4"), endpoint, BUCKET, region=REGION
        )

        def header_case(
            scheme: str, case: str, call: Callable[[], Any], key: str, secret: str, what: str
        ) -> None:
            log.clear()
            _quietly(call)
            request = _wire(captured, BUCKET, key, region=REGION)
            auth = _auth_header(request)
            sig = (
                auth.rsplit(":", 1)[1]
                if scheme != "v4-header"
                else auth.split("Signature=")[1].split(",")[0]
            )
            stage = {
                "v1": "ProviderAuth.__get_bytes_to_sign",
                "v2": "ProviderAuthV2.__get_bytes_to_sign",
            }.get(
                scheme[:2],
                "ProviderAuthV4.__get_canonical_request_bytes/__get_string_to_sign_bytes",
            )
            write_case(
                scheme, case, request, log, sig, secret, OSS2_SOURCE.format(what=what, stage=stage)
            )

        def url_case(
            scheme: str,
            case: str,
            bucket: Any,
            method: str,
            key: str,
            secret: str,
            what: str,
            headers: dict[str, str] | None = None,
            **kwargs: Any,
        ) -> None:
            log.clear()
            url = bucket.sign_url(method, key, 3600, headers=headers, **kwargs)
            request = _from_url(method, url, headers or {}, BUCKET, key, region=REGION)
            name = {"v1": "Signature", "v2": "x-oss-signature", "v4": "x-oss-signature"}[scheme[:2]]
            stage = {
                "v1": "ProviderAuth.__get_bytes_to_sign",
                "v2": "ProviderAuthV2.__get_bytes_to_sign",
            }.get(
                scheme[:2],
                "ProviderAuthV4.__get_canonical_request_bytes/__get_string_to_sign_bytes",
            )
            write_case(
                scheme,
                case,
                request,
                log,
                _query_value(request, name),
                secret,
                OSS2_SOURCE.format(what=what, stage=stage),
            )

        meta = {"x-oss-meta-author": "me", "Content-Type": "text/plain"}
        header_case(
            "v1-header",
            "oss2-put-meta-unicode",
            lambda: v1.put_object(KEY_UNICODE, b"hello", headers=meta),
            KEY_UNICODE,
            SECRET,
            "Bucket.put_object, Auth (V1)",
        )
        header_case(
            "v1-header",
            "oss2-put-acl",
            lambda: v1.put_object_acl(KEY_UNICODE, oss2.OBJECT_ACL_PUBLIC_READ),
            KEY_UNICODE,
            SECRET,
            "Bucket.put_object_acl (?acl=)",
        )
        header_case(
            "v1-header",
            "oss2-init-multipart",
            lambda: v1.init_multipart_upload(KEY_AWKWARD),
            KEY_AWKWARD,
            SECRET,
            "Bucket.init_multipart_upload (?uploads=)",
        )
        header_case(
            "v1-header",
            "oss2-upload-part",
            lambda: v1.upload_part(KEY_AWKWARD, "0004B9894A22E5B1888A1E29F823****", 3, b"part"),
            KEY_AWKWARD,
            SECRET,
            "Bucket.upload_part (uploadId+partNumber, content-md5 absent)",
        )
        header_case(
            "v1-header",
            "oss2-list-objects",
            lambda: v1.list_objects(prefix="cap/", delimiter="/", max_keys=10),
            "",
            SECRET,
            "Bucket.list_objects (unsigned list parameters)",
        )
        header_case(
            "v1-header",
            "oss2-x-oss-date",
            lambda: v1.put_object(
                KEY_UNICODE,
                b"x",
                headers={
                    "x-oss-date": "Fri, 04 Dec 2026 19:39:41 GMT",
                    "x-oss-meta-magic": "abracadabra",
                    "Content-MD5": "XrY7u+Ae7tCTyyK7j1rNww==",
                },
            ),
            KEY_UNICODE,
            SECRET,
            "Bucket.put_object with x-oss-date (Date slot) and user metadata",
        )
        header_case(
            "v1-header",
            "oss2-sts-put",
            lambda: sts1.put_object(KEY_UNICODE, b"hello"),
            KEY_UNICODE,
            STS_SECRET,
            "StsAuth (V1) put_object, x-oss-security-token signed",
        )
        url_case(
            "v1-query",
            "oss2-presign-get-sts",
            sts1,
            "GET",
            KEY_UNICODE,
            STS_SECRET,
            "StsAuth (V1) sign_url, security-token sub-resource",
            params={"response-content-type": "text/html"},
        )
        url_case(
            "v1-query",
            "oss2-presign-process",
            v1,
            "GET",
            KEY_AWKWARD,
            SECRET,
            "Bucket.sign_url with x-oss-process",
            params={"x-oss-process": "image/resize,w_100"},
        )
        url_case(
            "v1-query",
            "oss2-presign-put",
            v1,
            "PUT",
            KEY_AWKWARD,
            SECRET,
            "Bucket.sign_url PUT with Content-Type and x-oss-meta",
            headers={"Content-Type": "text/plain", "x-oss-meta-a": "1"},
        )

        header_case(
            "v2-header",
            "oss2-get-range",
            lambda: v2.get_object(KEY_AWKWARD, byte_range=(0, 9)),
            KEY_AWKWARD,
            SECRET,
            "AuthV2 get_object with Range (AdditionalHeaders:range)",
        )
        header_case(
            "v2-header",
            "oss2-list-objects",
            lambda: v2.list_objects(prefix="cap/", delimiter="/", max_keys=10),
            "",
            SECRET,
            "AuthV2 list_objects (every query parameter signed)",
        )
        header_case(
            "v2-header",
            "oss2-sts-put",
            lambda: sts2.put_object(KEY_UNICODE, b"hello", headers=meta),
            KEY_UNICODE,
            STS_SECRET,
            "StsAuth (V2) put_object",
        )
        url_case(
            "v2-query",
            "oss2-presign-get",
            v2,
            "GET",
            KEY_UNICODE,
            SECRET,
            "AuthV2 sign_url",
            params={"response-content-type": "text/html"},
        )
        url_case(
            "v2-query",
            "oss2-presign-additional",
            v2,
            "GET",
            KEY_AWKWARD,
            SECRET,
            "AuthV2 sign_url with additional_headers",
            headers={"Range": "bytes=0-9"},
            additional_headers=["range"],
        )
        url_case(
            "v2-query",
            "oss2-presign-sts",
            sts2,
            "GET",
            KEY_AWKWARD,
            STS_SECRET,
            "StsAuth (V2) sign_url, security-token query",
        )

        header_case(
            "v4-header",
            "oss2-put-meta-unicode",
            lambda: v4.put_object(KEY_UNICODE, b"hello", headers=meta),
            KEY_UNICODE,
            SECRET,
            "AuthV4 put_object (comma+space layout)",
        )
        header_case(
            "v4-header",
            "oss2-upload-part-awkward",
            lambda: v4.upload_part(KEY_AWKWARD, "0004B9894A22E5B1888A1E29F823****", 2, b"part"),
            KEY_AWKWARD,
            SECRET,
            "AuthV4 upload_part",
        )
        header_case(
            "v4-header",
            "oss2-list-objects",
            lambda: v4.list_objects(prefix="cap/", delimiter="/", max_keys=10),
            "",
            SECRET,
            "AuthV4 list_objects",
        )
        header_case(
            "v4-header",
            "oss2-sts-put",
            lambda: sts4.put_object(KEY_UNICODE, b"hello"),
            KEY_UNICODE,
            STS_SECRET,
            "StsAuth (V4) put_object",
        )

        def additional() -> None:
            req = oss2.http.Request(
                "GET",
                f"{endpoint}/{BUCKET}/{urllib.parse.quote(KEY_AWKWARD, safe='')}",
                headers={"x-oss-meta-x": "y", "User-Agent": "ua-test/1.0"},
                region=REGION,
                product="oss",
                params={"acl": ""},
            )
            oss2.AuthV4(AK, SECRET)._sign_request(
                req, BUCKET, KEY_AWKWARD, in_additional_headers=["User-Agent", "x-oss-meta-x"]
            )
            oss2.http.Session().do_request(req, timeout=5)

        header_case(
            "v4-header",
            "oss2-additional-headers",
            additional,
            KEY_AWKWARD,
            SECRET,
            "ProviderAuthV4._sign_request with in_additional_headers (', AdditionalHeaders=' last)",
        )
        url_case(
            "v4-query",
            "oss2-presign-get",
            v4,
            "GET",
            KEY_UNICODE,
            SECRET,
            "AuthV4 sign_url",
            params={"response-content-type": "text/html"},
        )
        url_case(
            "v4-query",
            "oss2-presign-sts",
            sts4,
            "GET",
            KEY_AWKWARD,
            STS_SECRET,
            "StsAuth (V4) sign_url, x-oss-security-token query",
            params={"response-content-disposition": 'attachment; filename="a b.txt"'},
        )
        url_case(
            "v4-query",
            "oss2-presign-put-additional",
            v4,
            "PUT",
            KEY_AWKWARD,
            SECRET,
            "AuthV4 sign_url PUT with additional_headers",
            headers={
                "Content-Type": "text/plain",
                "x-oss-meta-a": "1",
                "Content-Disposition": "inline",
            },
            additional_headers=["content-disposition"],
        )


# --------------------------------------------------------------------------- alibabacloud-oss-v2

V2SDK_SOURCE = "alibabacloud-oss-v2 1.4.1 {what}; {stage} recorded, signature as sent"


def v2sdk_cases(port: int, captured: list[dict[str, Any]]) -> None:
    import alibabacloud_oss_v2 as oss
    from alibabacloud_oss_v2.signer.v1 import SignerV1
    from alibabacloud_oss_v2.signer.v4 import SignerV4

    log: dict[str, Any] = {}

    def client(version: str, ak: str, secret: str, token: str | None = None, **extra: Any) -> Any:
        cfg = oss.config.load_default()
        cfg.credentials_provider = oss.credentials.StaticCredentialsProvider(ak, secret, token)
        cfg.region, cfg.endpoint, cfg.signature_version = (
            REGION,
            f"http://127.0.0.1:{port}",
            version,
        )
        cfg.retry_max_attempts = 1
        for name, value in extra.items():
            setattr(cfg, name, value)
        return oss.Client(cfg)

    with contextlib.ExitStack() as stack:
        stack.enter_context(frozen_v2sdk())
        stack.enter_context(
            wrapped(SignerV1, "_calc_string_to_sign", recorder(log, "string_to_sign"))
        )
        stack.enter_context(
            wrapped(SignerV4, "_calc_canonical_request", recorder(log, "canonical_request"))
        )
        stack.enter_context(
            wrapped(SignerV4, "_calc_string_to_sign", recorder(log, "string_to_sign"))
        )
        c4 = client("v4", AK, SECRET)
        c4sts = client("v4", STS_AK, STS_SECRET, TOKEN)
        c4add = client(
            "v4", AK, SECRET, additional_headers=["content-length", "host", "user-agent"]
        )
        c1 = client("v1", AK, SECRET)
        c1sts = client("v1", STS_AK, STS_SECRET, TOKEN)

        def header_case(
            scheme: str, case: str, call: Callable[[], Any], key: str, secret: str, what: str
        ) -> None:
            log.clear()
            _quietly(call)
            request = _wire(captured, BUCKET, key, region=REGION)
            auth = _auth_header(request)
            sig = auth.rsplit(":", 1)[1] if scheme == "v1-header" else auth.split("Signature=")[1]
            stage = (
                "SignerV1._calc_string_to_sign"
                if scheme.startswith("v1")
                else "SignerV4._calc_canonical_request/_calc_string_to_sign"
            )
            write_case(
                scheme, case, request, log, sig, secret, V2SDK_SOURCE.format(what=what, stage=stage)
            )

        def url_case(
            scheme: str,
            case: str,
            c: Any,
            req: Any,
            key: str,
            secret: str,
            what: str,
            headers: dict[str, str] | None = None,
        ) -> None:
            log.clear()
            expiration = datetime.datetime.fromtimestamp(NOW + 3600, datetime.UTC)
            result = c.presign(req, expiration=expiration)
            request = _from_url(
                result.method, result.url, headers or {}, BUCKET, key, region=REGION
            )
            name = "Signature" if scheme.startswith("v1") else "x-oss-signature"
            stage = (
                "SignerV1._calc_string_to_sign"
                if scheme.startswith("v1")
                else "SignerV4._calc_canonical_request/_calc_string_to_sign"
            )
            write_case(
                scheme,
                case,
                request,
                log,
                _query_value(request, name),
                secret,
                V2SDK_SOURCE.format(what=what, stage=stage),
            )

        def put(c: Any, key: str) -> Any:
            return c.put_object(
                oss.PutObjectRequest(
                    bucket=BUCKET,
                    key=key,
                    body=b"hello",
                    content_type="text/plain",
                    metadata={"author": "me"},
                )
            )

        header_case(
            "v4-header",
            "v2sdk-put-meta-unicode",
            lambda: put(c4, KEY_UNICODE),
            KEY_UNICODE,
            SECRET,
            "Client.put_object (default V4, comma layout)",
        )
        header_case(
            "v4-header",
            "v2sdk-put-additional-headers",
            lambda: put(c4add, KEY_AWKWARD),
            KEY_AWKWARD,
            SECRET,
            "Client.put_object with cfg.additional_headers",
        )
        header_case(
            "v4-header",
            "v2sdk-list-objects-v2",
            lambda: c4.list_objects_v2(
                oss.ListObjectsV2Request(
                    bucket=BUCKET,
                    prefix="cap/",
                    delimiter="/",
                    continuation_token="tok/1",
                    max_keys=10,
                )
            ),
            "",
            SECRET,
            "Client.list_objects_v2 (empty-body content-md5 signed)",
        )
        header_case(
            "v4-header",
            "v2sdk-sts-upload-part",
            lambda: c4sts.upload_part(
                oss.UploadPartRequest(
                    bucket=BUCKET,
                    key=KEY_AWKWARD,
                    upload_id="0004B9894A22E5B1888A1E29F823****",
                    part_number=1,
                    body=b"part",
                )
            ),
            KEY_AWKWARD,
            STS_SECRET,
            "STS Client.upload_part (V4)",
        )
        header_case(
            "v1-header",
            "v2sdk-put-meta",
            lambda: put(c1, KEY_AWKWARD),
            KEY_AWKWARD,
            SECRET,
            "Client.put_object, signature_version v1",
        )
        header_case(
            "v1-header",
            "v2sdk-sts-security-token-header",
            lambda: put(c1sts, KEY_UNICODE),
            KEY_UNICODE,
            STS_SECRET,
            "STS Client.put_object, signature_version v1 (unsigned security-token header)",
        )

        def get(key: str) -> Any:
            return oss.GetObjectRequest(bucket=BUCKET, key=key, response_content_type="text/html")

        url_case(
            "v4-query",
            "v2sdk-presign-get",
            c4,
            get(KEY_UNICODE),
            KEY_UNICODE,
            SECRET,
            "Client.presign GetObject (V4)",
        )
        url_case(
            "v4-query",
            "v2sdk-presign-get-sts",
            c4sts,
            get(KEY_AWKWARD),
            KEY_AWKWARD,
            STS_SECRET,
            "STS Client.presign GetObject (V4)",
        )
        url_case(
            "v1-query",
            "v2sdk-presign-get-sts",
            c1sts,
            get(KEY_UNICODE),
            KEY_UNICODE,
            STS_SECRET,
            "STS Client.presign GetObject, signature_version v1",
        )


def v2sdk_unit_test_cases() -> None:
    """The inputs of alibabacloud-oss-v2's tests/unit/signer/test_v1.py and test_v4.py
    (``test_auth_header``), signed by ``SignerV1``/``SignerV4`` exactly as those tests do."""
    from alibabacloud_oss_v2.signer.v1 import SignerV1
    from alibabacloud_oss_v2.signer.v4 import SignerV4
    from alibabacloud_oss_v2.types import Credentials, HttpRequest, SigningContext

    log: dict[str, Any] = {}
    source = "alibabacloud-oss-v2 1.4.1 tests/unit/signer/{test} inputs, signed by {stage}"
    headers = {
        "Content-MD5": "eB5eJF1ptWaXm4bijSPyxw==",
        "Content-Type": "text/html",
        "x-oss-meta-author": "alice",
        "x-oss-meta-magic": "abracadabra",
        "x-oss-date": "Wed, 28 Dec 2022 10:27:41 GMT",
    }
    request = HttpRequest("PUT", "http://examplebucket.oss-cn-hangzhou.aliyuncs.com", headers)
    ctx = SigningContext(
        bucket="examplebucket", key="nelson", request=request, credentials=Credentials("ak", "sk")
    )
    with frozen_v2sdk(), wrapped(SignerV1, "_calc_string_to_sign", recorder(log, "string_to_sign")):
        SignerV1().sign(ctx)
    sent = dict(request.headers.items())
    write_case(
        "v1-header",
        "v2sdk-unit-test-v1",
        {
            "method": "PUT",
            "path": "/nelson",
            "query": "",
            "headers": [
                ["Host", "examplebucket.oss-cn-hangzhou.aliyuncs.com"],
                *map(list, sent.items()),
            ],
            "bucket": "examplebucket",
            "key": "nelson",
        },
        log,
        sent["Authorization"].rsplit(":", 1)[1],
        "sk",
        source.format(test="test_v1.py", stage="SignerV1._calc_string_to_sign"),
    )
    log.clear()
    query = "param1=value1&%2Bparam1=value3&%7Cparam1=value4&%2Bparam2&%7Cparam2&param2"
    request = HttpRequest(
        "PUT",
        f"http://bucket.oss-cn-hangzhou.aliyuncs.com/1234%2B-/123/1.txt?{query}",
        {
            "x-oss-head1": "value",
            "abc": "value",
            "ZAbc": "value",
            "XYZ": "value",
            "content-type": "text/plain",
            "x-oss-content-sha256": "UNSIGNED-PAYLOAD",
        },
    )
    ctx = SigningContext(
        bucket="bucket",
        key="1234+-/123/1.txt",
        request=request,
        region="cn-hangzhou",
        product="oss",
        credentials=Credentials("ak", "sk"),
        signing_time=datetime.datetime.fromtimestamp(1702743657, datetime.UTC),
    )
    with (
        wrapped(SignerV4, "_calc_canonical_request", recorder(log, "canonical_request")),
        wrapped(SignerV4, "_calc_string_to_sign", recorder(log, "string_to_sign")),
    ):
        SignerV4().sign(ctx)
    sent = dict(request.headers.items())
    write_case(
        "v4-header",
        "v2sdk-unit-test-v4",
        {
            "method": "PUT",
            "path": "/1234%2B-/123/1.txt",
            "query": query,
            "headers": [["Host", "bucket.oss-cn-hangzhou.aliyuncs.com"], *map(list, sent.items())],
            "bucket": "bucket",
            "key": "1234+-/123/1.txt",
            "region": REGION,
        },
        log,
        sent["Authorization"].split("Signature=")[1],
        "sk",
        source.format(
            test="test_v4.py", stage="SignerV4._calc_canonical_request/_calc_string_to_sign"
        ),
    )


# ------------------------------------------------------------------------------------- ali-oss

NODE_SCRIPT = Path(__file__).with_name("capture_oss_node.js")

ALI_SOURCE = "ali-oss 6.23.0 {what} (Node {node}); signUtils.{stage} recorded, signature as sent"


def alioss_cases(node_modules: Path, port: int, captured: list[dict[str, Any]]) -> None:
    if not (node_modules / "ali-oss").is_dir() or shutil.which("node") is None:
        print("ali-oss cases skipped: no node or no ali-oss in", node_modules)
        return
    config = json.dumps(
        {
            "now": NOW,
            "ak": AK,
            "secret": SECRET,
            "bucket": BUCKET,
            "sts_ak": STS_AK,
            "sts_secret": STS_SECRET,
            "token": TOKEN,
            "key1": KEY_UNICODE,
            "key2": KEY_AWKWARD,
        }
    )
    node = subprocess.run(
        ["node", "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()

    def run(kase: str) -> dict[str, Any]:
        done = subprocess.run(
            ["node", str(NODE_SCRIPT), kase, str(port), config],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "NODE_PATH": str(node_modules)},
            timeout=60,
        )
        return dict(json.loads(done.stdout))

    specs = [
        (
            "v1-header",
            "alioss-put-x-oss-date",
            "v1-put",
            KEY_UNICODE,
            SECRET,
            "put (V1, IP endpoint, Host override, x-oss-date only)",
            "buildCanonicalString",
        ),
        (
            "v1-header",
            "alioss-sts-upload-part",
            "v1-sts-upload-part",
            KEY_AWKWARD,
            STS_SECRET,
            "STS _uploadPart (V1, raw * in uploadId)",
            "buildCanonicalString",
        ),
        (
            "v4-header",
            "alioss-put",
            "v4-put",
            KEY_UNICODE,
            SECRET,
            "put (authorizationV4)",
            "getCanonicalRequest/getStringToSign",
        ),
        (
            "v4-header",
            "alioss-put-additional-headers",
            "v4-put-additional",
            KEY_AWKWARD,
            SECRET,
            "put with additionalHeaders (authorizationV4)",
            "getCanonicalRequest/getStringToSign",
        ),
        (
            "v4-header",
            "alioss-sts-list-v2",
            "v4-sts-list",
            "",
            STS_SECRET,
            "STS listV2 (authorizationV4, continuation-token)",
            "getCanonicalRequest/getStringToSign",
        ),
        (
            "v1-query",
            "alioss-presign-sts",
            "v1-presign-sts",
            KEY_AWKWARD,
            STS_SECRET,
            "STS signatureUrl (V1)",
            "buildCanonicalString",
        ),
        (
            "v4-query",
            "alioss-presign-sts",
            "v4-presign-sts",
            KEY_UNICODE,
            STS_SECRET,
            "STS signatureUrlV4",
            "getCanonicalRequest/getStringToSign",
        ),
    ]
    for scheme, case, kase, key, secret, what, stage in specs:
        recorded = run(kase)
        if recorded["url"]:
            request = _from_url("GET", recorded["url"], {}, BUCKET, key, region=REGION)
            sig = _query_value(request, "Signature" if scheme == "v1-query" else "x-oss-signature")
        else:
            request = _wire(captured, BUCKET, key, region=REGION)
            auth = _auth_header(request)
            sig = auth.rsplit(":", 1)[1] if scheme == "v1-header" else auth.split("Signature=")[1]
        write_case(
            scheme,
            case,
            request,
            recorded,
            sig,
            secret,
            ALI_SOURCE.format(what=what, node=node, stage=stage),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--node-modules", type=Path, default=Path("/tmp/alioss/node_modules"))
    args = parser.parse_args()
    v2sdk_unit_test_cases()
    with capture_server() as (port, captured):
        oss2_cases(port, captured)
        v2sdk_cases(port, captured)
        alioss_cases(args.node_modules, port, captured)


if __name__ == "__main__":
    main()
