"""OSS through the official Node client ``ali-oss`` (tests/js/ali_oss_flow.js, run with ``node``).

With an IP endpoint ali-oss sends the path ``/{key}`` and overrides Host with
``{bucket}.oss-cn-hangzhou.aliyuncs.com`` (spec §0.1); it sends ``x-oss-date`` and never ``Date``
(§0.2). The script runs one flow and prints every step's result (or error) as JSON; the expected
values are computed here.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from xml.etree import ElementTree

import httpx
import oss2
import pytest

from tests.api.clients import ROOT, Identities, session_creds, sts_api, unique
from tests.api.rawrpc import Credentials
from tests.api.test_oss_sdk import AWKWARD_KEYS, oss2_bucket
from tests.server import TesseraServer

pytestmark = [pytest.mark.sdk, pytest.mark.node]

JS_DIR = Path(__file__).resolve().parent.parent / "js"
SCRIPT = JS_DIR / "ali_oss_flow.js"
ALI_OSS_VERSION = "6.23.0"
PART_SIZE = 100 * 1024


@pytest.fixture(scope="module", autouse=True)
def _node_ready() -> None:
    assert shutil.which("node"), "Node.js is required for these tests (CI installs Node 20)"
    assert (JS_DIR / "node_modules" / "ali-oss").is_dir(), "run `npm ci` in tests/js first"


@pytest.fixture(params=["v1", "v4"])
def v4(request: pytest.FixtureRequest) -> bool:
    return bool(request.param == "v4")


def run_ali_oss(
    server: TesseraServer,
    creds: Credentials,
    bucket: str,
    v4: bool,
    script: Path = SCRIPT,
    **env: str,
) -> dict[str, Any]:
    full_env = {
        **os.environ,
        "TESSERA_ENDPOINT": server.url,
        "OSS_ACCESS_KEY_ID": creds.access_key_id,
        "OSS_ACCESS_KEY_SECRET": creds.access_key_secret,
        "OSS_BUCKET": bucket,
        "OSS_REGION": "oss-cn-hangzhou",
        "OSS_V4": "1" if v4 else "0",
        **env,
    }
    full_env.pop("OSS_STS_TOKEN", None)
    if creds.security_token is not None:
        full_env["OSS_STS_TOKEN"] = creds.security_token
    done = subprocess.run(
        ["node", str(script)],
        cwd=JS_DIR,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["aliOss"] == ALI_OSS_VERSION
    steps: dict[str, Any] = out["steps"]
    return steps


def etag(data: bytes) -> str:
    return '"' + hashlib.md5(data).hexdigest().upper() + '"'


def big_body() -> bytes:
    """The same bytes as ``bigBody()`` in ali_oss_flow.js."""
    size = 1024 * 1024 + 123
    return bytes((i * 7 + 3) % 251 for i in range(size))


def multipart_etag(data: bytes, part_size: int) -> str:
    parts = [data[i : i + part_size] for i in range(0, len(data), part_size)]
    digest = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    return f'"{digest.upper()}-{len(parts)}"'


def _ok(steps: dict[str, Any], name: str) -> Any:
    got = steps[name]
    assert "error" not in got, (name, got)
    return got


def _caller(server: TesseraServer, ids: Identities, kind: str) -> Credentials:
    """The root key, a RAM user with AliyunOSSFullAccess, or an STS token of a role with it
    (no session policy)."""
    if kind == "root":
        return ROOT
    if kind == "ram-user":
        return ids.user("ali-full", system=("AliyunOSSFullAccess",)).creds
    role = ids.role("ali-fullrole", system=("AliyunOSSFullAccess",))
    broker = ids.user("ali-fullbroker", system=("AliyunSTSAssumeRoleAccess",))
    assumed = sts_api(server, broker.creds)(
        "AssumeRole", role_arn=role.arn, role_session_name="ali-full"
    )
    return session_creds(assumed)


@pytest.mark.parametrize("kind", ["root", "ram-user", "sts"])
def test_full_flow(
    server: TesseraServer, ids: Identities, v4: bool, tmp_path: Path, kind: str
) -> None:
    name = unique("ali")
    creds = _caller(server, ids, kind)
    steps = run_ali_oss(server, creds, name, v4, FLOW="full", TMP_FILE=str(tmp_path / "f.txt"))

    file_body = b"hello from a file path"
    buf_body = b"hello, tessera!"
    top_body = b"top level"

    assert _ok(steps, "putBucket") == {"status": 200, "bucket": name}
    assert _ok(steps, "putFile")["etag"] == etag(file_body)
    assert _ok(steps, "putBuffer") == {"status": 200, "name": "dir/buf.bin", "etag": etag(buf_body)}
    assert _ok(steps, "putString")["etag"] == etag(top_body)

    assert _ok(steps, "get") == {
        "status": 200,
        "content": buf_body.decode(),
        "headers": {
            "etag": etag(buf_body),
            "content-type": "application/x-tessera",
            "content-length": str(len(buf_body)),
            "cache-control": "no-cache",
        },
    }
    assert _ok(steps, "head") == {
        "status": 200,
        "meta": {"color": "blue", "n": "7"},
        "headers": {
            "etag": etag(buf_body),
            "content-type": "application/x-tessera",
            "content-length": str(len(buf_body)),
        },
    }
    meta = _ok(steps, "getObjectMeta")
    assert meta["status"] == 200
    assert meta["headers"]["etag"] == etag(buf_body)
    assert meta["headers"]["content-length"] == str(len(buf_body))
    assert meta["headers"]["last-modified"].endswith(" GMT")
    assert _ok(steps, "rangeGet") == {
        "status": 206,
        "content": buf_body[7:14].decode(),
        "contentRange": f"bytes 7-13/{len(buf_body)}",
    }

    buf_entry = {"name": "dir/buf.bin", "size": len(buf_body), "etag": etag(buf_body)}
    file_entry = {"name": "dir/file.txt", "size": len(file_body), "etag": etag(file_body)}
    top_entry = {"name": "top.txt", "size": len(top_body), "etag": etag(top_body)}
    delimited = {"objects": [top_entry], "prefixes": ["dir/"]}
    assert _ok(steps, "list") == {
        "first": [buf_entry],
        "isTruncated": True,
        "nextMarker": "dir/buf.bin",
        "delimited": delimited,
    }
    assert _ok(steps, "listV2") == {
        "first": [buf_entry],
        "isTruncated": True,
        "keyCount": 1,
        "rest": [file_entry],
        "delimited": delimited,
    }

    assert _ok(steps, "copy") == {
        "status": 200,
        "etag": etag(buf_body),
        "meta": {"color": "blue", "n": "7"},
    }
    assert _ok(steps, "append") == {
        "first": str(len(b"first;")),
        "second": str(len(b"first;second;")),
        "content": "first;second;",
    }

    body = big_body()
    expected_etag = multipart_etag(body, PART_SIZE)
    assert expected_etag.endswith('-11"')
    assert _ok(steps, "multipartUpload") == {
        "status": 200,
        "etag": expected_etag,
        "size": len(body),
        "md5": hashlib.md5(body).hexdigest(),
        "headEtag": expected_etag,
    }

    for step in ("noSuchKey", "headMissing"):
        assert (steps[step]["code"], steps[step]["status"]) == ("NoSuchKey", 404), steps[step]
    assert steps["noSuchKey"]["name"] == "NoSuchKeyError"
    assert len(steps["noSuchKey"]["requestId"]) == 24

    assert _ok(steps, "deleteMulti") == {
        "deleted": ["dir/copy.bin", "dir/file.txt", "log.txt", "top.txt"]
    }
    assert _ok(steps, "delete") == {"status": [204, 204], "left": []}
    assert _ok(steps, "deleteBucket") == {"status": 204}
    gone = steps["deletedBucket"]
    assert (gone["code"], gone["status"]) == ("NoSuchBucket", 404), gone


def _assume_reader(server: TesseraServer, ids: Identities, bucket_name: str, prefix: str) -> Any:
    role = ids.role("ali-ossrole", system=("AliyunOSSFullAccess",))
    broker = ids.user("ali-broker", system=("AliyunSTSAssumeRoleAccess",))
    session_policy = (
        '{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:GetObject",'
        f'"Resource":"acs:oss:*:*:{bucket_name}/{prefix}*"}}]}}'
    )
    assumed = sts_api(server, broker.creds)(
        "AssumeRole", role_arn=role.arn, role_session_name="ali-reader", policy=session_policy
    )
    return session_creds(assumed)


def test_sts_token_read_allowed_write_denied(
    server: TesseraServer, ids: Identities, v4: bool
) -> None:
    owner = oss2_bucket(server, ROOT, unique("alists"), v4=False)
    owner.create_bucket()
    try:
        owner.put_object("open/a.txt", b"readable")
        creds = _assume_reader(server, ids, owner.bucket_name, "open/")
        steps = run_ali_oss(
            server,
            creds,
            owner.bucket_name,
            v4,
            FLOW="read",
            READ_KEY="open/a.txt",
            DENIED_KEY="open/new.txt",
        )
        assert _ok(steps, "get") == {"status": 200, "content": "readable"}
        denied = steps["denied"]
        assert (denied["code"], denied["status"]) == ("AccessDenied", 403), denied
        with pytest.raises(oss2.exceptions.NoSuchKey):
            owner.get_object("open/new.txt")
    finally:
        for obj in oss2.ObjectIterator(owner):
            owner.delete_object(obj.key)
        owner.delete_bucket()


# ---- ACLs, presigned URLs, awkward keys, conditions, resumed multipart ----------------------

EXTRAS = JS_DIR / "ali_oss_acl_presign.js"
PRESIGNED_KEY = "pre/ü a+b%.txt"
PRESIGNED_BODY = b"presigned body"
# Node's URL handling removes ``.``/``..`` path segments after ali-oss signed the key: the
# server sees another path under a signature for the key, and must refuse it.
DOT_KEYS = ["../x", "a/./b"]


def resume_body() -> bytes:
    """The same bytes as ``body(5 * 100 * 1024 + 77)`` in ali_oss_acl_presign.js."""
    return bytes((i * 13 + 5) % 253 for i in range(5 * PART_SIZE + 77))


def _fetch(url: str, method: str = "GET", **kwargs: Any) -> httpx.Response:
    """Fetch a presigned URL; a ``<bucket>.oss.localhost`` host is reached on 127.0.0.1 with
    its name in Host (the name does not resolve; the signature does not cover it)."""
    parts = urlsplit(url)
    host = parts.netloc
    target = url
    if parts.hostname and parts.hostname.endswith(".oss.localhost"):
        target = urlunsplit(parts._replace(netloc=f"127.0.0.1:{parts.port}"))
    headers = {"Host": host, **kwargs.pop("headers", {})}
    return httpx.request(method, target, headers=headers, timeout=10, **kwargs)


def _code(reply: httpx.Response) -> str | None:
    return ElementTree.fromstring(reply.content).findtext("Code")


@pytest.fixture
def owned_bucket(server: TesseraServer) -> Iterator[oss2.Bucket]:
    session = oss2.Session()
    owner = oss2.Bucket(
        oss2.Auth(ROOT.access_key_id, ROOT.access_key_secret),
        server.url,
        unique("alix"),
        session=session,
    )
    owner.create_bucket()
    owner.put_object(PRESIGNED_KEY, PRESIGNED_BODY)
    owner.put_object("closed/b.txt", b"closed")
    yield owner
    for upload in oss2.MultipartUploadIterator(owner):
        owner.abort_multipart_upload(upload.key, upload.upload_id)
    for obj in oss2.ObjectIterator(owner):
        owner.delete_object(obj.key)
    owner.delete_bucket()
    session.session.close()


def _presigned_reads_and_writes(owner: oss2.Bucket, urls: dict[str, str], v4: bool) -> None:
    for name in ("v1Get", "v1AsyncGet", "v4Get", "vhostV1Get", "vhostV4Get"):
        got = _fetch(urls[name])
        assert (got.status_code, got.content) == (200, PRESIGNED_BODY), (name, got.text)
    assert "/" + owner.bucket_name + "/" in urls["v1Get"]  # path style (sldEnable)
    assert urls["vhostV1Get"].startswith(f"http://{owner.bucket_name}.oss.localhost:")
    assert "x-oss-signature-version=OSS4-HMAC-SHA256" in urls["v4Get"]
    for name, key in (("v1Put", "pre/put v1.txt"), ("v4Put", "pre/put v4.txt")):
        stored = _fetch(
            urls[name], "PUT", content=name.encode(), headers={"Content-Type": "text/x-ali"}
        )
        assert stored.status_code == 200, (name, stored.text)
        got = owner.get_object(key)
        assert (got.read(), got.headers["Content-Type"]) == (name.encode(), "text/x-ali")
    wrong_type = _fetch(urls["v1Put"], "PUT", content=b"x", headers={"Content-Type": "text/a"})
    assert (wrong_type.status_code, _code(wrong_type)) == (403, "SignatureDoesNotMatch")
    expired = _fetch(urls["v1Expired"])
    assert (expired.status_code, _code(expired)) == (403, "AccessDenied")
    as_get = _fetch(urls["v4Get"], "PUT", content=b"x")  # the signature covers the method
    assert (as_get.status_code, _code(as_get)) == (403, "SignatureDoesNotMatch")
    assert owner.get_object(PRESIGNED_KEY).read() == PRESIGNED_BODY


def test_acls_keys_conditions_resume_and_presign(
    server: TesseraServer, owned_bucket: oss2.Bucket, v4: bool, tmp_path: Path
) -> None:
    owner = owned_bucket
    steps = run_ali_oss(
        server,
        ROOT,
        owner.bucket_name,
        v4,
        EXTRAS,
        FLOW="all",
        OSS_DOMAIN="oss.localhost",
        KEYS=json.dumps(AWKWARD_KEYS + DOT_KEYS),
        TMP_FILE=str(tmp_path / "resume.bin"),
    )
    assert _ok(steps, "bucketAcl") == ["private", "public-read", "public-read-write", "private"]
    bad = steps["badBucketAcl"]
    assert (bad["code"], bad["status"]) == ("InvalidArgument", 400), bad
    assert owner.get_bucket_acl().acl == "private"
    assert _ok(steps, "objectAcl") == [
        "default",
        "public-read",
        "private",
        "public-read-write",
        "default",
    ]
    assert owner.get_object_acl("acl/ü b+c.txt").acl == "public-read"
    anonymous = httpx.get(f"{server.url}/{owner.bucket_name}/acl/%C3%BC%20b%2Bc.txt", timeout=10)
    assert (anonymous.status_code, anonymous.content) == (200, b"acl body")
    missing = steps["missingObjectAcl"]
    assert (missing["code"], missing["status"]) == ("NoSuchKey", 404), missing

    for i, key in enumerate(AWKWARD_KEYS):
        data = f"body of key {i}".encode()
        assert _ok(steps, f"key{i}") == {
            "etag": etag(data),
            "md5": hashlib.md5(data).hexdigest(),
            "length": str(len(data)),
            "listed": [key],
            "copyMd5": hashlib.md5(data).hexdigest(),
            "after": "NoSuchKey",
        }, key
    for i, key in enumerate(DOT_KEYS, start=len(AWKWARD_KEYS)):
        refused = steps[f"key{i}"]["error"]
        assert (refused["code"], refused["status"]) == ("SignatureDoesNotMatch", 403), key

    assert _ok(steps, "conditions") == {
        "ifMatch": [200, "hello world"],
        "ifMatchWrong": [412, "PreconditionFailed"],
        "ifNoneMatch": [304, ""],
        "ifModifiedSinceFuture": [304, ""],
        "ifModifiedSincePast": [200, "hello world"],
        "ifUnmodifiedSincePast": [412, "PreconditionFailed"],
        "rangeStandard": [416, "InvalidRange"],
    }

    body = resume_body()
    assert _ok(steps, "resume") == {
        "cancelled": "cancel",
        "partsBeforeCancel": 2,
        "pendingUploads": [True],
        "partsOnServer": 2,
        "resumedFrom": 2,  # the resumed run's first progress already counts the 2 old parts
        "etag": multipart_etag(body, PART_SIZE),
        "md5": hashlib.md5(body).hexdigest(),
        "size": len(body),
        "left": 0,
    }

    _presigned_reads_and_writes(owner, _ok(steps, "presignUrls"), v4)
    refused_ip = _ok(steps, "ipEndpointRefused")
    assert refused_ip == {"message": "can not get the object URL when endpoint is IP"}
    assert sorted(o.key for o in oss2.ObjectIterator(owner)) == sorted(
        [
            "acl/ü b+c.txt",
            "closed/b.txt",
            "cond.txt",
            PRESIGNED_KEY,
            "pre/put v1.txt",
            "pre/put v4.txt",
        ]
    )  # no dot-segment key was stored under its rewritten path


def test_presign_with_sts_session_policy(
    server: TesseraServer, ids: Identities, owned_bucket: oss2.Bucket, v4: bool
) -> None:
    owner = owned_bucket
    role = ids.role("ali-psrole", system=("AliyunOSSFullAccess",))
    broker = ids.user("ali-psbroker", system=("AliyunSTSAssumeRoleAccess",))
    session_policy = (
        '{"Version":"1","Statement":[{"Effect":"Allow",'
        '"Action":["oss:GetObject","oss:PutObject"],'
        f'"Resource":"acs:oss:*:*:{owner.bucket_name}/pre/*"}}]}}'
    )
    creds = session_creds(
        sts_api(server, broker.creds)(
            "AssumeRole", role_arn=role.arn, role_session_name="ali-ps", policy=session_policy
        )
    )
    steps = run_ali_oss(
        server, creds, owner.bucket_name, v4, EXTRAS, FLOW="presign", OSS_DOMAIN="oss.localhost"
    )
    urls = _ok(steps, "presignUrls")
    assert "security-token=" in urls["v1Get"]
    assert "x-oss-security-token=" in urls["v4Get"]
    _presigned_reads_and_writes(owner, urls, v4)
    denied = _fetch(urls["deniedGet"])
    assert (denied.status_code, _code(denied)) == (403, "AccessDenied")
