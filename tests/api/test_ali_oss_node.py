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
from pathlib import Path
from typing import Any

import oss2
import pytest

from tests.api.clients import ROOT, Identities, session_creds, sts_api, unique
from tests.api.rawrpc import Credentials
from tests.api.test_oss_sdk import oss2_bucket
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
    server: TesseraServer, creds: Credentials, bucket: str, v4: bool, **env: str
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
        ["node", str(SCRIPT)],
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


def test_full_flow(server: TesseraServer, v4: bool, tmp_path: Path) -> None:
    name = unique("ali")
    steps = run_ali_oss(server, ROOT, name, v4, FLOW="full", TMP_FILE=str(tmp_path / "f.txt"))

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
