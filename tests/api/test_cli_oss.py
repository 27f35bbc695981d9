"""``tessera oss mb|rb|ls|cp|rm|presign`` run as a subprocess against a real server.

Objects are checked with the official ``alibabacloud_oss_v2`` client (independent of the CLI).
Resumable transfers are interrupted at a known point by a byte-counting TCP relay that stops
forwarding after a budget (so exactly N parts get through), then the same command is rerun
through a second relay that counts what the resumed run really sent or received.
"""

from __future__ import annotations

import calendar
import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import alibabacloud_oss_v2 as ossv2
import httpx
import pytest

from tests.api.clients import (
    ROOT,
    FreshServer,
    Identities,
    allow,
    policy,
    session_creds,
    sts_api,
    unique,
)
from tests.api.rawrpc import Credentials
from tests.api.test_oss_sdk import v2_client
from tests.server import TesseraServer, free_port

MiB = 1 << 20
PART = MiB  # part size of the resumable transfers
T = TypeVar("T")

AWKWARD_FILES = {
    "plain.txt": b"plain\n",
    "with space/a b.txt": b"spaces in the directory and the name\n",
    "ünïcödé/ключ.txt": "unicode ключ\n".encode(),
    "a+b": b"plus sign\n",
    "100%/done%20.txt": b"percent signs\n",
    "nested/deeper/still/x.bin": os.urandom(70_000),
    "empty": b"",
}


# ---- running the CLI -------------------------------------------------------------------------


def cli_env(home: Path, endpoint: str | None, creds: Credentials | None = ROOT) -> dict[str, str]:
    """The child's environment: no inherited ``ALIBABA_CLOUD_*``, a private HOME (no aliyun
    config file, checkpoints under it), credentials and endpoint from the variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALIBABA_CLOUD_")}
    env["HOME"] = str(home)
    if endpoint is not None:
        env["ALIBABA_CLOUD_ENDPOINT"] = endpoint
    if creds is not None:
        env["ALIBABA_CLOUD_ACCESS_KEY_ID"] = creds.access_key_id
        env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"] = creds.access_key_secret
        if creds.security_token:
            env["ALIBABA_CLOUD_SECURITY_TOKEN"] = creds.security_token
    return env


class Cli:
    """``tessera oss …`` against one endpoint with one set of credentials."""

    def __init__(
        self, home: Path, endpoint: str | None, creds: Credentials | None = ROOT, cwd: Path = Path()
    ) -> None:
        self.env = cli_env(home, endpoint, creds)
        self.cwd = cwd

    def command(self, *args: str | Path) -> list[str]:
        return [sys.executable, "-m", "tessera", "oss", *map(str, args)]

    def __call__(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            self.command(*args),
            env=self.env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert "Traceback" not in done.stderr, done.stderr
        return done

    def ok(self, *args: str | Path) -> str:
        done = self(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done.stdout

    def fails(self, code: int, *args: str | Path) -> str:
        done = self(*args)
        assert done.returncode == code, (args, done.returncode, done.stdout, done.stderr)
        return done.stderr

    def json(self, *args: str | Path) -> Any:
        return json.loads(self.ok(*args, "--output", "json"))

    def start(self, *args: str | Path) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(*args),
            env=self.env,
            cwd=self.cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def cli(server: TesseraServer, home: Path, tmp_path: Path) -> Cli:
    return Cli(home, server.url, cwd=tmp_path)


@pytest.fixture
def sdk(server: TesseraServer) -> ossv2.Client:
    return v2_client(server)


@pytest.fixture
def bucket(cli: Cli, sdk: ossv2.Client) -> Iterator[str]:
    """A fresh bucket made by ``tessera oss mb``, removed with everything in it afterwards."""
    name = unique("cli")
    assert cli.ok("mb", f"oss://{name}").strip() == f"made bucket oss://{name}"
    yield name
    cli("rb", "--force", f"oss://{name}")


def get(sdk: ossv2.Client, bucket: str, key: str) -> bytes:
    result = sdk.get_object(ossv2.models.GetObjectRequest(bucket=bucket, key=key))
    with result.body as body:
        data: bytes = body.read()
    return data


def put(sdk: ossv2.Client, bucket: str, key: str, data: bytes) -> None:
    sdk.put_object(ossv2.models.PutObjectRequest(bucket=bucket, key=key, body=data))


def keys(sdk: ossv2.Client, bucket: str, prefix: str = "") -> set[str]:
    paginator = sdk.list_objects_v2_paginator()
    request = ossv2.models.ListObjectsV2Request(bucket=bucket, prefix=prefix or None)
    return {o.key for page in paginator.iter_page(request) for o in page.contents or []}


def tree(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file()
    }


def write_tree(root: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def eventually(what: str, probe: Callable[[], T | None], limit: float = 60.0) -> T:
    """Poll ``probe`` until it returns something; the limit only ends a hung test."""
    deadline = time.monotonic() + limit
    while True:
        found = probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


# ---- buckets ---------------------------------------------------------------------------------


def test_mb_ls_rb(cli: Cli, sdk: ossv2.Client, server: TesseraServer, home: Path) -> None:
    name = unique("mb")
    # credentials by flags this time (no ALIBABA_CLOUD_* in the environment)
    flags = Cli(home, None, creds=None)
    assert flags.ok(
        "mb",
        f"oss://{name}",
        "--acl",
        "public-read",
        "--endpoint",
        server.url,
        "--access-key-id",
        ROOT.access_key_id,
        "--access-key-secret",
        ROOT.access_key_secret,
    ).strip() == (f"made bucket oss://{name}")
    info = sdk.get_bucket_info(ossv2.models.GetBucketInfoRequest(bucket=name)).bucket_info
    assert info.acl == "public-read"

    listed = cli.json("ls", "oss://")["buckets"]
    mine = [b for b in listed if b["name"] == name]
    assert len(mine) == 1 and mine[0]["location"] == "oss-cn-hangzhou"
    text = cli.ok("ls")
    assert f"oss://{name}\n" in text and "Bucket Number is:" in text

    put(sdk, name, "keep", b"x")
    error = cli.fails(1, "rb", f"oss://{name}")
    assert error.startswith("tessera oss rb: BucketNotEmpty: ")
    assert "(HTTP 409, RequestId " in error
    assert sdk.is_bucket_exist(name)

    # an unfinished multipart upload also keeps a bucket; --force deletes and aborts both
    sdk.initiate_multipart_upload(
        ossv2.models.InitiateMultipartUploadRequest(bucket=name, key="pending")
    )
    out = cli.ok("rb", "--force", f"oss://{name}")
    assert "removed 1 objects and aborted 1 multipart uploads" in out
    assert not sdk.is_bucket_exist(name)
    assert name not in {b["name"] for b in cli.json("ls")["buckets"]}
    assert "NoSuchBucket: " in cli.fails(1, "rb", f"oss://{name}")


def test_invalid_bucket_names_are_usage_errors(cli: Cli) -> None:
    # the SDK checks names before sending
    error = cli.fails(2, "mb", "oss://Not_Valid")
    assert error == "tessera oss mb: Bucket name is invalid, got Not_Valid.\n"
    assert "Bucket name is invalid" in cli.fails(2, "ls", "oss://a")


# ---- cp --------------------------------------------------------------------------------------


def test_cp_up_down_and_server_side_copy_are_byte_exact(
    cli: Cli, sdk: ossv2.Client, bucket: str, tmp_path: Path
) -> None:
    small = tmp_path / "small.bin"
    small.write_bytes(os.urandom(1000))
    large = tmp_path / "large.bin"
    large.write_bytes(os.urandom(3 * MiB + 4321))

    # one PutObject; into a "directory" keeps the file name
    out = cli.ok("cp", small, f"oss://{bucket}/dir/")
    assert out == f"upload: {small} -> oss://{bucket}/dir/small.bin\n"
    assert get(sdk, bucket, "dir/small.bin") == small.read_bytes()
    # multipart (256 KiB parts, 4 in flight): the ETag says how many parts went up
    cli.ok("cp", large, f"oss://{bucket}/big", "--part-size", "256K", "--parallel", "4")
    assert get(sdk, bucket, "big") == large.read_bytes()
    head = sdk.head_object(ossv2.models.HeadObjectRequest(bucket=bucket, key="big"))
    assert head.etag.strip('"').endswith("-13")

    # --progress draws the bar on stderr although it is not a terminal; -q prints nothing
    done = cli("cp", large, f"oss://{bucket}/again", "--progress", "--part-size", "1M")
    assert done.returncode == 0 and "upload: 100%" in done.stderr
    quiet = cli("cp", small, f"oss://{bucket}/quiet", "-q")
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    assert get(sdk, bucket, "quiet") == small.read_bytes()

    down = tmp_path / "down"
    down.mkdir()
    cli.ok("cp", f"oss://{bucket}/big", down / "big.copy", "--part-size", "512K")
    assert (down / "big.copy").read_bytes() == large.read_bytes()
    cli.ok("cp", f"oss://{bucket}/dir/small.bin", down)  # into a directory
    assert (down / "small.bin").read_bytes() == small.read_bytes()
    assert sorted(p.name for p in down.iterdir()) == ["big.copy", "small.bin"], "no temp files"

    out = cli.ok("cp", f"oss://{bucket}/big", f"oss://{bucket}/copies/")
    assert out == f"copy: oss://{bucket}/big -> oss://{bucket}/copies/big\n"
    assert get(sdk, bucket, "copies/big") == large.read_bytes()
    other = unique("cli-dst")
    cli.ok("mb", f"oss://{other}")
    try:
        cli.ok("cp", f"oss://{bucket}/dir/small.bin", f"oss://{other}/s")
        assert get(sdk, other, "s") == small.read_bytes()
    finally:
        cli.ok("rb", "--force", f"oss://{other}")

    assert not list((Path(cli.env["HOME"]) / ".tessera" / "checkpoints").iterdir())


def test_cp_failures(cli: Cli, bucket: str, tmp_path: Path) -> None:
    local = tmp_path / "f.txt"
    local.write_text("x")
    error = cli.fails(1, "cp", f"oss://{bucket}/missing", tmp_path / "out")
    assert error.startswith("tessera oss cp: NoSuchKey: ")
    assert not (tmp_path / "out").exists()
    assert "NoSuchBucket: " in cli.fails(1, "cp", local, f"oss://{unique('nobucket')}/k")
    assert "no such file" in cli.fails(2, "cp", tmp_path / "absent", f"oss://{bucket}/k")
    assert "is a directory (use -r)" in cli.fails(2, "cp", tmp_path, f"oss://{bucket}/k")
    assert "one side must be an oss:// URL" in cli.fails(2, "cp", local, tmp_path / "g")
    assert "not an object" in cli.fails(2, "cp", f"oss://{bucket}/dir/", tmp_path)
    assert "unrecognized arguments: --bogus" in cli.fails(2, "cp", local, "oss://b/k", "--bogus")


def test_recursive_upload_and_download_of_awkward_names(
    cli: Cli, sdk: ossv2.Client, bucket: str, tmp_path: Path
) -> None:
    source = tmp_path / "source"
    write_tree(source, AWKWARD_FILES)
    out = cli.ok("cp", "-r", source, f"oss://{bucket}/tree")  # "tree" means "tree/"
    assert out.count("upload: ") == len(AWKWARD_FILES)
    assert keys(sdk, bucket) == {f"tree/{name}" for name in AWKWARD_FILES}
    for name, data in AWKWARD_FILES.items():
        assert get(sdk, bucket, f"tree/{name}") == data

    # a neighbour that a directory-style prefix must not pick up
    put(sdk, bucket, "tree-not/x", b"x")
    target = tmp_path / "target"
    out = cli.ok("cp", "-r", f"oss://{bucket}/tree/", target)
    assert out.count("download: ") == len(AWKWARD_FILES)
    assert tree(target) == AWKWARD_FILES

    # oss -> oss, recursively, then --include/--exclude on the file names
    cli.ok("cp", "-r", f"oss://{bucket}/tree", f"oss://{bucket}/copy/")
    assert keys(sdk, bucket, "copy/") == {f"copy/{name}" for name in AWKWARD_FILES}
    picked = tmp_path / "picked"
    cli.ok("cp", "-r", f"oss://{bucket}/copy", picked, "--include", "*.txt", "--exclude", "a *")
    assert set(tree(picked)) == {"plain.txt", "ünïcödé/ключ.txt", "100%/done%20.txt"}


def test_recursive_download_refuses_keys_that_escape(
    cli: Cli, sdk: ossv2.Client, bucket: str, server: TesseraServer, tmp_path: Path
) -> None:
    put(sdk, bucket, "p/ok.txt", b"ok")
    put(sdk, bucket, "p/sub/", b"")  # a directory marker
    hostile = ["p/../evil", "p/../../evil2", "p/./dot", "p//abs", "p/a\\..\\b", "../top"]
    for key in hostile:
        # the HTTP clients normalise "/../" in paths, so send these by presigned raw request
        url = urllib.parse.urlsplit(
            sdk.presign(ossv2.models.PutObjectRequest(bucket=bucket, key=key)).url
        )
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:
            conn.request("PUT", f"{url.path}?{url.query}", body=b"evil")
            assert conn.getresponse().status == 200, key
        finally:
            conn.close()
    assert set(hostile) <= keys(sdk, bucket)

    jail = tmp_path / "outer" / "jail"
    jail.mkdir(parents=True)
    done = cli("cp", "-r", f"oss://{bucket}/p", jail)
    assert done.returncode == 1
    for key in hostile[:-1]:
        assert f"skipping oss://{bucket}/{key}: " in done.stderr
    assert "5 object(s) skipped: their keys would leave" in done.stderr
    assert tree(tmp_path / "outer") == {"jail/ok.txt": b"ok"}
    assert (jail / "sub").is_dir()

    whole = tmp_path / "whole"
    done = cli("cp", "-r", f"oss://{bucket}", whole)
    assert done.returncode == 1
    assert f"skipping oss://{bucket}/../top: '..' segment" in done.stderr
    assert not (tmp_path / "top").exists()
    assert tree(whole) == {"p/ok.txt": b"ok"}

    # a single download into a directory may not take an escaping name either
    assert "no safe file name" in cli.fails(2, "cp", f"oss://{bucket}/p/..", jail)


# ---- rm --------------------------------------------------------------------------------------


def test_rm_and_rm_recursive(cli: Cli, sdk: ossv2.Client, bucket: str) -> None:
    for key in ["one", "dir/a", "dir/b/c", "dir/b/d.log", "dir-archive/keep", "dirt"]:
        put(sdk, bucket, key, b"x")
    assert cli.ok("rm", f"oss://{bucket}/one") == f"removed oss://{bucket}/one\n"
    assert "one" not in keys(sdk, bucket)
    assert cli.ok("rm", "-r", f"oss://{bucket}/dir", "--include", "*.log") == (
        f"removed 1 objects below oss://{bucket}/dir/\n"
    )
    assert cli.ok("rm", "-r", f"oss://{bucket}/dir") == (
        f"removed 2 objects below oss://{bucket}/dir/\n"
    )
    assert keys(sdk, bucket) == {"dir-archive/keep", "dirt"}
    assert cli.ok("rm", "-rq", f"oss://{bucket}") == ""
    assert keys(sdk, bucket) == set()
    assert "use rm -r" in cli.fails(2, "rm", f"oss://{bucket}")


# ---- ls --------------------------------------------------------------------------------------


def test_ls_objects_text_json_and_directories(cli: Cli, sdk: ossv2.Client, bucket: str) -> None:
    for key, data in [("a.txt", b"hello"), ("d/x", b"12"), ("d/y/z", b""), ("e", b"e")]:
        put(sdk, bucket, key, data)
    listing = cli.json("ls", f"oss://{bucket}")
    assert listing["bucket"] == bucket
    by_key = {o["key"]: o for o in listing["objects"]}
    assert set(by_key) == {"a.txt", "d/x", "d/y/z", "e"}
    assert by_key["a.txt"]["size"] == 5
    assert by_key["a.txt"]["etag"] == "5D41402ABC4B2A76B9719D911017C592"  # md5("hello")
    assert by_key["a.txt"]["last_modified"].endswith("Z")

    level = cli.json("ls", "-d", f"oss://{bucket}/d/")
    assert [o["key"] for o in level["objects"]] == ["d/x"]
    assert level["prefixes"] == ["d/y/"]
    assert [o["key"] for o in cli.json("ls", f"oss://{bucket}/d/y")["objects"]] == ["d/y/z"]
    assert len(cli.json("ls", f"oss://{bucket}", "--limit", "2")["objects"]) == 2

    text = cli.ok("ls", f"oss://{bucket}/d")
    assert f"oss://{bucket}/d/x\n" in text and f"oss://{bucket}/d/y/z\n" in text
    assert text.endswith("Object Number is: 2\n")
    assert "NoSuchBucket: " in cli.fails(1, "ls", f"oss://{unique('nobucket')}")


# ---- presign ---------------------------------------------------------------------------------


def test_presign_get_and_put(cli: Cli, sdk: ossv2.Client, bucket: str) -> None:
    put(sdk, bucket, "dir/file name+1.txt", b"presigned body")
    before = time.time()
    signed = cli.json("presign", f"oss://{bucket}/dir/file name+1.txt", "--expires", "600")
    assert signed["method"] == "GET"
    expiration = calendar.timegm(time.strptime(signed["expiration"], "%Y-%m-%dT%H:%M:%SZ"))
    assert before + 590 <= expiration <= time.time() + 610
    assert "x-oss-signature-version=OSS4-HMAC-SHA256" in signed["url"]
    with urllib.request.urlopen(signed["url"], timeout=10) as resp:
        assert resp.read() == b"presigned body"

    url = cli.ok(
        "presign", f"oss://{bucket}/up/new.json", "--method", "PUT", "--content-type", "a/b"
    ).strip()
    assert httpx.put(url, content=b"{}", headers={"Content-Type": "a/b"}).status_code == 200
    assert get(sdk, bucket, "up/new.json") == b"{}"
    head = sdk.head_object(ossv2.models.HeadObjectRequest(bucket=bucket, key="up/new.json"))
    assert head.content_type == "a/b"
    # the Content-Type is signed: another one is refused
    refused = httpx.put(url, content=b"{}", headers={"Content-Type": "text/plain"})
    assert refused.status_code == 403

    assert "at most 604800" in cli.fails(2, "presign", f"oss://{bucket}/k", "--expires", "604801")
    assert "an object key is needed" in cli.fails(2, "presign", f"oss://{bucket}")


# ---- credentials and errors ------------------------------------------------------------------


def test_sts_token_limited_to_a_prefix(
    server: TesseraServer, ids: Identities, bucket: str, home: Path, tmp_path: Path
) -> None:
    """A session policy narrows the role to ``<bucket>/allowed/*``: the same cp succeeds there
    and is refused elsewhere, and no secret reaches the output."""
    appserver = ids.user("cli-app", system=("AliyunSTSAssumeRoleAccess",))
    role = ids.role("cli-role", system=("AliyunOSSFullAccess",))
    session_policy = policy(
        allow(["oss:PutObject", "oss:GetObject"], f"acs:oss:*:*:{bucket}/allowed/*"),
        allow("oss:ListObjects", f"acs:oss:*:*:{bucket}"),
    )
    assumed = sts_api(server, appserver.creds)(
        "AssumeRole", role_arn=role.arn, role_session_name="cli", policy=session_policy
    )
    creds = session_creds(assumed)
    sts = Cli(home, server.url, creds=creds, cwd=tmp_path)
    local = tmp_path / "f.txt"
    local.write_bytes(b"scoped")

    sts.ok("cp", local, f"oss://{bucket}/allowed/f.txt")
    sts.ok("cp", f"oss://{bucket}/allowed/f.txt", tmp_path / "back.txt")
    assert (tmp_path / "back.txt").read_bytes() == b"scoped"
    assert [o["key"] for o in sts.json("ls", f"oss://{bucket}")["objects"]] == ["allowed/f.txt"]

    done = sts("cp", local, f"oss://{bucket}/denied/f.txt")
    assert done.returncode == 1
    assert done.stderr.startswith("tessera oss cp: AccessDenied: ")
    assert "(HTTP 403, RequestId " in done.stderr
    for secret in (creds.access_key_secret, creds.security_token or "-"):
        assert secret not in done.stderr + done.stdout

    # a RamRoleArn profile (flags): the CLI assumes the role itself, without the session
    # policy, so the same upload is allowed
    role_flags = (
        "--ram-role-arn",
        role.arn,
        "--role-session-name",
        "cli-flags",
        "--access-key-id",
        appserver.creds.access_key_id,
        "--access-key-secret",
        appserver.creds.access_key_secret,
    )
    assumer = Cli(home, server.url, creds=None, cwd=tmp_path)
    assumer.ok("cp", local, f"oss://{bucket}/denied/f.txt", *role_flags)
    listed = assumer.json("ls", f"oss://{bucket}/denied/", *role_flags)
    assert [o["key"] for o in listed["objects"]] == ["denied/f.txt"]


def test_bad_credentials_and_endpoints(
    server: TesseraServer, home: Path, tmp_path: Path, bucket: str
) -> None:
    wrong = Credentials(ROOT.access_key_id, "not-the-secret-0123456789")
    error = Cli(home, server.url, creds=wrong).fails(1, "ls", f"oss://{bucket}")
    assert error.startswith("tessera oss ls: SignatureDoesNotMatch: ")
    assert wrong.access_key_secret not in error

    unknown = Credentials("LTAInoSuchKey00000000", "whatever-secret-000000")
    assert "InvalidAccessKeyId: " in Cli(home, server.url, creds=unknown).fails(1, "ls")

    assert "no credentials" in Cli(home, server.url, creds=None).fails(2, "ls")

    port = free_port()
    error = Cli(home, f"http://127.0.0.1:{port}").fails(1, "ls")
    assert error.startswith(f"tessera oss ls: cannot reach http://127.0.0.1:{port}: ")
    assert len(error.splitlines()) == 1


def test_https_endpoint_with_the_tessera_ca(
    fresh_server: FreshServer, home: Path, tmp_path: Path
) -> None:
    srv = fresh_server(tls=True)
    cli = Cli(home, srv.url, cwd=tmp_path)
    assert "CERTIFICATE_VERIFY_FAILED" in cli.fails(1, "ls")
    cli.env["REQUESTS_CA_BUNDLE"] = str(srv.ca_file)
    name = unique("tls")
    cli.ok("mb", f"oss://{name}")
    local = tmp_path / "f.bin"
    local.write_bytes(os.urandom(5000))
    cli.ok("cp", local, f"oss://{name}/f.bin")
    cli.ok("cp", f"oss://{name}/f.bin", tmp_path / "g.bin")
    assert (tmp_path / "g.bin").read_bytes() == local.read_bytes()
    cli.ok("rb", "--force", f"oss://{name}")


# ---- resumable transfers ---------------------------------------------------------------------


class Relay:
    """A TCP relay to the server that counts the bytes it forwards each way; with a budget
    for a direction it forwards that many bytes and then holds the rest, so a transfer
    stalls at a known byte. ``close`` drops every connection."""

    def __init__(self, port: int, *, up: int | None = None, down: int | None = None) -> None:
        self._target = port
        self._budget = {"up": up, "down": down}
        self.forwarded = {"up": 0, "down": 0}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._spawn(self._accept)

    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
                upstream = socket.create_connection(("127.0.0.1", self._target))
            except OSError:
                return
            with self._lock:
                self._sockets += [client, upstream]
            self._spawn(self._pump, client, upstream, "up")
            self._spawn(self._pump, upstream, client, "down")

    def _pump(self, source: socket.socket, sink: socket.socket, direction: str) -> None:
        with contextlib.suppress(OSError):
            while True:
                data = source.recv(65536)
                if not data:
                    sink.shutdown(socket.SHUT_WR)
                    return
                with self._lock:
                    budget = self._budget[direction]
                    if budget is not None:
                        data = data[: max(0, budget - self.forwarded[direction])]
                    self.forwarded[direction] += len(data)
                    spent = budget is not None and self.forwarded[direction] >= budget
                if data:
                    sink.sendall(data)
                if spent:
                    self._closed.wait()  # hold: nothing more goes this way
                    return

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked in recv
                sock.close()
        for thread in self._threads:
            thread.join(timeout=10)
        assert not any(thread.is_alive() for thread in self._threads), "relay threads hang"


@contextlib.contextmanager
def relay(server: TesseraServer, **budget: int) -> Iterator[Relay]:
    made = Relay(server.port, **budget)
    try:
        yield made
    finally:
        made.close()


def checkpoint_files(home: Path, suffix: str) -> list[Path]:
    return sorted((home / ".tessera" / "checkpoints").glob(f"*{suffix}"))


def test_interrupted_upload_resumes_without_resending_parts(
    server: TesseraServer, sdk: ossv2.Client, bucket: str, home: Path, tmp_path: Path
) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(10 * PART + 12345))  # 11 parts
    size = source.stat().st_size
    key = "resume/big.bin"
    args = ("cp", source, f"oss://{bucket}/{key}", "--part-size", str(PART), "--parallel", "1")

    # first run: the relay lets 3.5 parts through, so parts 1-3 complete and part 4 hangs
    with relay(server, up=3 * PART + PART // 2) as stalled:
        first = Cli(home, stalled.url, cwd=tmp_path).start(*args)
        try:

            def upload_with_three_parts() -> tuple[str, list[int]] | None:
                uploads = sdk.list_multipart_uploads(
                    ossv2.models.ListMultipartUploadsRequest(bucket=bucket, prefix=key)
                ).uploads
                if not uploads:
                    return None
                parts = sdk.list_parts(
                    ossv2.models.ListPartsRequest(
                        bucket=bucket, key=key, upload_id=uploads[0].upload_id
                    )
                ).parts
                numbers = [p.part_number for p in parts or []]
                return (uploads[0].upload_id, numbers) if len(numbers) >= 3 else None

            upload_id, numbers = eventually("three uploaded parts", upload_with_three_parts)
        finally:
            first.send_signal(signal.SIGKILL)
            first.communicate(timeout=30)
    assert first.returncode == -signal.SIGKILL
    assert numbers == [1, 2, 3]
    (checkpoint,) = checkpoint_files(home, ".ucp")
    assert upload_id in checkpoint.read_text()
    assert not sdk.is_object_exist(bucket, key)

    # second run, same command, through a relay that only counts
    with relay(server) as counting:
        Cli(home, counting.url, cwd=tmp_path).ok(*args)
    assert get(sdk, bucket, key) == source.read_bytes()
    remaining = size - 3 * PART
    assert remaining <= counting.forwarded["up"] < remaining + PART // 2, (
        "the resumed run sent the remaining parts only"
    )
    # it completed the interrupted upload rather than starting another one
    uploads = sdk.list_multipart_uploads(
        ossv2.models.ListMultipartUploadsRequest(bucket=bucket, prefix=key)
    ).uploads
    assert not uploads
    assert checkpoint_files(home, ".ucp") == []


def test_interrupted_download_resumes_from_the_checkpoint(
    server: TesseraServer, sdk: ossv2.Client, bucket: str, home: Path, tmp_path: Path
) -> None:
    data = os.urandom(10 * PART + 777)
    key = "resume/down.bin"
    put(sdk, bucket, key, data)
    target = tmp_path / "down.bin"
    args = ("cp", f"oss://{bucket}/{key}", target, "--part-size", str(PART), "--parallel", "1")

    with relay(server, down=3 * PART + PART // 2) as stalled:
        first = Cli(home, stalled.url, cwd=tmp_path).start(*args)
        try:

            def three_parts_recorded() -> int | None:
                for path in checkpoint_files(home, ".dcp"):
                    with contextlib.suppress(OSError, ValueError):
                        offset = json.loads(path.read_text())["Data"]["DownloadInfo"]["Offset"]
                        if offset >= 3 * PART:
                            return int(offset)
                return None

            offset = eventually("a checkpoint at three parts", three_parts_recorded)
        finally:
            first.send_signal(signal.SIGINT)  # Ctrl-C
            _, stderr = first.communicate(timeout=30)
    assert first.returncode == 130
    assert "interrupted; run the same command again to resume" in stderr
    assert offset == 3 * PART
    assert not target.exists(), "the partial data stays in the temporary file"
    assert Path(f"{target}.temp").stat().st_size >= 3 * PART

    with relay(server) as counting:
        Cli(home, counting.url, cwd=tmp_path).ok(*args)
    assert target.read_bytes() == data
    remaining = len(data) - 3 * PART
    assert remaining <= counting.forwarded["down"] < remaining + PART // 2, (
        "the resumed run fetched the remaining parts only"
    )
    assert checkpoint_files(home, ".dcp") == []
    assert not Path(f"{target}.temp").exists()
