"""Alibaba's "STS temporary credentials for OSS" walkthrough, run step by step against Tessera.

Every step runs the real ``tessera`` CLI as a subprocess (``python -m tessera …``), exactly as
README.md beside this file shows it, parses what it prints and checks the result; the
scoped-token download and the simulated mobile app use the official ``alibabacloud_oss_v2``
(V4 signatures, region cn-hangzhou) and ``alibabacloud_credentials`` (``credentials_uri``).
Each command is recorded as README.md shows it (secrets, ids and ports replaced by the
README's placeholders) in ``<workdir>/commands.txt``; tests/api/test_walkthrough.py checks
that the README and this file agree.

Run it against a fresh server (it creates the role, user and bucket, so a second run fails):

    tessera serve --data-dir ./tessera-data      # prints the root AccessKey once
    TESSERA_ROOT_ACCESS_KEY_ID=… TESSERA_ROOT_ACCESS_KEY_SECRET=… \\
        python examples/mobile-direct-transfer/walkthrough.py --endpoint 127.0.0.1:9800

Owns: the walkthrough's steps, their checks and the command record.
Must not: sign requests by hand, touch the server's data directory, change the caller's own
``~/.aliyun/config.json`` (profiles go to an isolated HOME), or print a secret.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import alibabacloud_oss_v2 as oss  # type: ignore[import-untyped]
from alibabacloud_credentials.client import Client as CredentialsClient  # type: ignore[import-untyped]
from alibabacloud_credentials.exceptions import CredentialException  # type: ignore[import-untyped]
from alibabacloud_credentials.models import Config as CredentialsConfig  # type: ignore[import-untyped]

#: where README.md says the server and the broker listen; real ports are shown as these
README_ENDPOINT = "127.0.0.1:9800"
README_BROKER_PORT = "9810"

ROLE_NAME = "oss-objectmanager"
BUCKET = "sample-bucket"
KEY = "2015/01/01/grass.jpg"
REGION = "cn-hangzhou"

#: the role's trust policy: any RAM identity of the account may assume it
TRUST_POLICY = (
    '{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow",'
    '"Principal":{"RAM":["acs:ram::<account>:root"]}}],"Version":"1"}'
)
#: client-002's session policy: only GetObject of the .jpg files of one day
SESSION_POLICY = (
    '{"Statement":[{"Action":["oss:GetObject"],"Effect":"Allow",'
    '"Resource":["acs:oss:*:*:sample-bucket/2015/01/01/*.jpg"]}],"Version":"1"}'
)

#: broker.toml as README.md shows it; the placeholders are filled in before it is written
BROKER_TOML = """\
[broker]
host = "127.0.0.1"
port = 9810
data_dir = "broker-data"
query_api_key = true
session_name_prefix = "app-"

[sts]
endpoint = "http://127.0.0.1:9800"

[[api_keys]]
user_id = "alice"
key_sha256 = "<key_sha256>"

[templates.download-jpg]
role_arn = "acs:ram::<account>:role/oss-objectmanager"
duration_seconds = 900
cache = false
variables = { bucket = "sample-bucket" }
policy = '''
{
  "Version": "1",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": ["oss:GetObject"],
      "Resource": ["acs:oss:*:*:${bucket}/2015/01/01/*.jpg"]
    }
  ]
}
'''
"""

#: commands README.md shows that this script leaves to the person (the server it talks to)
NOT_RUN = (
    "make serve",
    "tessera serve --data-dir ./tessera-data",
    "TESSERA_ROOT_ACCESS_KEY_ID=<root AccessKeyId> TESSERA_ROOT_ACCESS_KEY_SECRET=<root "
    "AccessKeySecret> python examples/mobile-direct-transfer/walkthrough.py --endpoint "
    "127.0.0.1:9800",
)


class WalkthroughError(AssertionError):
    """A step did not give the result the walkthrough expects."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise WalkthroughError(message)


# ---- the snippets README.md shows -------------------------------------------------------------


def download_with_sts_token(endpoint: str, credentials: dict[str, str]) -> bytes:
    """GetObject with the temporary credentials of AssumeRole: V4 signature, region cn-hangzhou."""
    cfg = oss.config.load_default()
    cfg.credentials_provider = oss.credentials.StaticCredentialsProvider(
        credentials["AccessKeyId"], credentials["AccessKeySecret"], credentials["SecurityToken"]
    )
    cfg.region = "cn-hangzhou"
    cfg.signature_version = "v4"
    cfg.endpoint = endpoint  # "http://127.0.0.1:9800"
    cfg.use_path_style = True  # an IP endpoint: the bucket goes into the path
    client = oss.Client(cfg)
    result = client.get_object(
        oss.GetObjectRequest(bucket="sample-bucket", key="2015/01/01/grass.jpg")
    )
    data: bytes = result.body.read()
    return data


class BrokerCredentialsProvider(oss.credentials.CredentialsProvider):  # type: ignore[misc]
    """Asks alibabacloud-credentials for the current token before every OSS request; it
    fetches a new one from the broker when the cached one has less than 15 minutes left."""

    def __init__(self, credentials_uri: str) -> None:
        self.client = CredentialsClient(
            CredentialsConfig(type="credentials_uri", credentials_uri=credentials_uri)
        )
        self.used: list[str] = []  # the AccessKeyIds the app signed with, in order

    def get_credentials(self) -> Any:
        credential = self.client.get_credential()
        self.used.append(credential.access_key_id)
        return oss.credentials.Credentials(
            access_key_id=credential.access_key_id,
            access_key_secret=credential.access_key_secret,
            security_token=credential.security_token,
        )


def simulated_app(credentials_uri: str, endpoint: str) -> tuple[list[bytes], list[str]]:
    """The mobile app: downloads grass.jpg twice with whatever token the provider holds;
    returns the two bodies and the AccessKeyIds it signed with."""
    provider = BrokerCredentialsProvider(credentials_uri)
    cfg = oss.config.load_default()
    cfg.credentials_provider = provider
    cfg.region = "cn-hangzhou"
    cfg.signature_version = "v4"
    cfg.endpoint = endpoint
    cfg.use_path_style = True
    client = oss.Client(cfg)
    request = oss.GetObjectRequest(bucket="sample-bucket", key="2015/01/01/grass.jpg")
    bodies = [client.get_object(request).body.read() for _ in range(2)]
    return bodies, provider.used


# ---- running commands -------------------------------------------------------------------------


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@dataclass
class Walkthrough:
    """Runs ``tessera`` commands and records each as README.md shows it."""

    endpoint: str  # host:port of the server (plain http)
    workdir: Path
    home: Path
    broker_port: int
    shown_as: dict[str, str] = field(default_factory=dict)  # real value → README text
    commands: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.shown_as[self.endpoint] = README_ENDPOINT

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    def placeholder(self, value: str, shown: str) -> str:
        """Show ``value`` (a secret, an id, a port) as ``shown`` in recorded commands."""
        self.shown_as[value] = shown
        return value

    def show(self, word: str) -> str:
        for real in sorted(self.shown_as, key=len, reverse=True):
            word = word.replace(real, self.shown_as[real])
        return word

    def display(self, args: Sequence[str], env: Mapping[str, str]) -> str:
        words = [f"{name}={self.quote(self.show(value))}" for name, value in env.items()]
        words.append("tessera")
        for arg in args:
            shown = self.show(arg)
            if arg == str(self.broker_port) and shown == arg:
                shown = README_BROKER_PORT
            words.append(self.quote(shown))
        return " ".join(words)

    @staticmethod
    def quote(word: str) -> str:
        """Shell quoting, except that a whole ``<placeholder>`` stays bare for the reader."""
        if word.startswith("<") and word.endswith(">") and "<" not in word[1:-1]:
            return word
        return shlex.quote(word)

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("ALIBABA_CLOUD_", "TESSERA_BROKER_"))
        }
        env["HOME"] = str(self.home)
        env.update(extra or {})
        return env

    def record(self, args: Sequence[str], env: Mapping[str, str] | None = None) -> None:
        self.commands.append(self.display(args, env or {}))
        (self.workdir / "commands.txt").write_text("\n".join(self.commands) + "\n")

    def tessera(self, *args: str, succeeds: bool = True) -> Result:
        """Run ``tessera *args``; it must exit 0 (``succeeds``) or 1 (a refusal)."""
        self.record(args)
        done = subprocess.run(  # noqa: S603 - our own CLI, arguments as a list
            [sys.executable, "-m", "tessera", *args],
            cwd=self.workdir,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        result = Result(done.returncode, done.stdout, done.stderr)
        wanted = 0 if succeeds else 1
        expect(
            result.code == wanted,
            f"`{self.commands[-1]}` exited {result.code}, expected {wanted}:\n{result.stderr}",
        )
        return result

    def refused(self, code: str, *args: str, status: int | None = None) -> Result:
        """``tessera *args`` must fail (exit 1) with ``Code: code`` (and ``HTTP status``)."""
        result = self.tessera(*args, succeeds=False)
        command = self.commands[-1]
        if args[0] == "oss":  # tessera oss: "<command>: <Code>: <Message> (HTTP <status>, …)"
            found = f": {code}: " in result.stderr
        else:  # tessera sts|ram: "… failed (HTTP 403)" then "Code: <Code>"
            found = f"\nCode: {code}\n" in result.stderr
        expect(found, f"`{command}`: expected {code}, got:\n{result.stderr}")
        if status is not None:
            expect(
                f"(HTTP {status}" in result.stderr,
                f"`{command}`: expected HTTP {status}, got:\n{result.stderr}",
            )
        return result


def ok(step: str) -> None:
    print(f"✓ {step}", flush=True)


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def check_sts_credentials(body: Any, account: str, session: str) -> dict[str, str]:
    """The AssumeRole answer: shape, STS. key, the session's ARN, an Expiration ahead."""
    expect(
        set(body) == {"AssumedRoleUser", "Credentials", "RequestId"},
        f"AssumeRole answer keys: {sorted(body)}",
    )
    creds = body["Credentials"]
    expect(
        set(creds) == {"AccessKeyId", "AccessKeySecret", "Expiration", "SecurityToken"},
        f"Credentials keys: {sorted(creds)}",
    )
    expect(creds["AccessKeyId"].startswith("STS."), "the AccessKeyId does not start with STS.")
    arn = body["AssumedRoleUser"]["Arn"]
    expect(
        arn == f"acs:ram::{account}:role/{ROLE_NAME}/{session}",
        f"AssumedRoleUser.Arn is {arn}",
    )
    expect(arn.endswith(f"/{session}"), f"AssumedRoleUser.Arn does not end with /{session}")
    expires = parse_time(creds["Expiration"])
    expect(expires > datetime.now(UTC), f"Expiration {creds['Expiration']} is not ahead")
    return {name: str(value) for name, value in creds.items()}


def sdk_refusal(what: str, call: Callable[[], Any], code: str) -> None:
    """An OSS request through the SDK must fail with HTTP 403 and ``code``."""
    try:
        call()
    except oss.exceptions.OperationError as exc:
        error = exc.unwrap()
        expect(
            isinstance(error, oss.exceptions.ServiceError),
            f"{what}: not a service error: {error!r}",
        )
        expect(
            (error.status_code, error.code) == (403, code),
            f"{what}: expected 403 {code}, got {error.status_code} {error.code}",
        )
        return
    raise WalkthroughError(f"{what}: allowed, expected 403 {code}")


# ---- the walkthrough --------------------------------------------------------------------------


def main(
    endpoint: str,
    workdir: Path,
    *,
    root_access_key_id: str,
    root_access_key_secret: str,
    home: Path | None = None,
    broker_port: int = int(README_BROKER_PORT),
) -> None:
    """Run every step against the server at ``endpoint`` (host:port, http) with the account's
    root AccessKey; ``workdir`` receives the local files, broker.toml and commands.txt,
    ``home`` (default ``workdir/home``) the profiles (``~/.aliyun/config.json``)."""
    workdir.mkdir(parents=True, exist_ok=True)
    home = home or workdir / "home"
    home.mkdir(parents=True, exist_ok=True)
    w = Walkthrough(endpoint=endpoint, workdir=workdir, home=home, broker_port=broker_port)
    w.placeholder(root_access_key_id, "<root AccessKeyId>")
    w.placeholder(root_access_key_secret, "<root AccessKeySecret>")

    # 1. the account owner's profile
    w.tessera(
        "configure",
        "--profile",
        "root",
        "--access-key-id",
        root_access_key_id,
        "--access-key-secret",
        root_access_key_secret,
        "--endpoint",
        endpoint,
        "--insecure",
    )
    me = w.tessera("sts", "GetCallerIdentity", "--profile", "root").json()
    account = w.placeholder(str(me["AccountId"]), "<account>")
    expect(me["IdentityType"] == "Account", f"root profile is a {me['IdentityType']}")
    expect(me["Arn"] == f"acs:ram::{account}:root", f"root Arn is {me['Arn']}")
    ok(f"profile root is the account's root identity (account {account})")

    # 2. the role, its trust policy and AliyunOSSFullAccess
    trust_policy = TRUST_POLICY.replace("<account>", account)
    role = w.tessera(
        "ram",
        "CreateRole",
        "--profile",
        "root",
        "--RoleName",
        ROLE_NAME,
        "--AssumeRolePolicyDocument",
        trust_policy,
    ).json()["Role"]
    role_arn = f"acs:ram::{account}:role/{ROLE_NAME}"
    expect(role["Arn"] == role_arn, f"role Arn is {role['Arn']}")
    expect(
        json.loads(role["AssumeRolePolicyDocument"]) == json.loads(trust_policy),
        "the role's trust policy is not the one sent",
    )
    ok(f"role {ROLE_NAME} created, trusting acs:ram::{account}:root")

    w.tessera(
        "ram",
        "AttachPolicyToRole",
        "--profile",
        "root",
        "--PolicyType",
        "System",
        "--PolicyName",
        "AliyunOSSFullAccess",
        "--RoleName",
        ROLE_NAME,
    )
    listed = w.tessera(
        "ram", "ListPoliciesForRole", "--profile", "root", "--RoleName", ROLE_NAME
    ).json()
    names = [p["PolicyName"] for p in listed["Policies"]["Policy"]]
    expect(names == ["AliyunOSSFullAccess"], f"the role's policies: {names}")
    ok("AliyunOSSFullAccess attached to the role")

    # 3. the app server's RAM user and its AccessKey
    user = w.tessera("ram", "CreateUser", "--profile", "root", "--UserName", "appserver").json()
    expect(user["User"]["UserName"] == "appserver", f"CreateUser answered {user}")
    key = w.tessera(
        "ram", "CreateAccessKey", "--profile", "root", "--UserName", "appserver"
    ).json()["AccessKey"]
    expect(key["Status"] == "Active", f"the new AccessKey is {key['Status']}")
    appserver_id = w.placeholder(key["AccessKeyId"], "<appserver AccessKeyId>")
    appserver_secret = w.placeholder(key["AccessKeySecret"], "<appserver AccessKeySecret>")
    w.tessera(
        "configure",
        "--profile",
        "appserver",
        "--access-key-id",
        appserver_id,
        "--access-key-secret",
        appserver_secret,
        "--endpoint",
        endpoint,
        "--insecure",
    )
    me = w.tessera("sts", "GetCallerIdentity", "--profile", "appserver").json()
    expect(me["IdentityType"] == "RAMUser", f"appserver is a {me['IdentityType']}")
    expect(me["Arn"] == f"acs:ram::{account}:user/appserver", f"appserver Arn is {me['Arn']}")
    ok("user appserver created with an AccessKey; profile appserver configured")

    # without AliyunSTSAssumeRoleAccess the user may not assume the role
    w.refused(
        "NoPermission",
        "sts",
        "AssumeRole",
        "--profile",
        "appserver",
        "--RoleArn",
        role_arn,
        "--RoleSessionName",
        "client-001",
        status=403,
    )
    ok("before AliyunSTSAssumeRoleAccess, AssumeRole is refused: NoPermission (403)")

    w.tessera(
        "ram",
        "AttachPolicyToUser",
        "--profile",
        "root",
        "--PolicyType",
        "System",
        "--PolicyName",
        "AliyunSTSAssumeRoleAccess",
        "--UserName",
        "appserver",
    )
    listed = w.tessera(
        "ram", "ListPoliciesForUser", "--profile", "root", "--UserName", "appserver"
    ).json()
    names = [p["PolicyName"] for p in listed["Policies"]["Policy"]]
    expect(names == ["AliyunSTSAssumeRoleAccess"], f"appserver's policies: {names}")
    ok("AliyunSTSAssumeRoleAccess attached to appserver")

    # 4. AssumeRole without a session policy: the role's full permissions
    body = w.tessera(
        "sts",
        "AssumeRole",
        "--profile",
        "appserver",
        "--RoleArn",
        role_arn,
        "--RoleSessionName",
        "client-001",
    ).json()
    client_001 = check_sts_credentials(body, account, "client-001")
    w.placeholder(client_001["SecurityToken"], "<client-001 SecurityToken>")
    ok(f"AssumeRole client-001: an STS. key for {body['AssumedRoleUser']['Arn']}")

    # 5. the bucket and the picture, as the account owner
    picture = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + os.urandom(4096) + b"\xff\xd9"
    (workdir / "grass.jpg").write_bytes(picture)
    (workdir / "other.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(512))
    w.tessera("oss", "mb", f"oss://{BUCKET}", "--profile", "root")
    w.tessera("oss", "cp", "grass.jpg", f"oss://{BUCKET}/2015/01/01/grass.jpg", "--profile", "root")
    w.tessera("oss", "cp", "other.png", f"oss://{BUCKET}/2015/01/01/other.png", "--profile", "root")
    w.tessera("oss", "cp", "grass.jpg", f"oss://{BUCKET}/2015/01/02/grass.jpg", "--profile", "root")
    listing = w.tessera(
        "oss", "ls", f"oss://{BUCKET}", "--profile", "root", "--output", "json"
    ).json()
    keys = sorted(item["key"] for item in listing["objects"])
    expect(
        keys == ["2015/01/01/grass.jpg", "2015/01/01/other.png", "2015/01/02/grass.jpg"],
        f"the bucket holds {keys}",
    )
    ok(f"bucket {BUCKET} created; {KEY} uploaded (and two neighbours)")

    # 6. AssumeRole with a session policy: only GetObject of 2015/01/01/*.jpg
    body = w.tessera(
        "sts",
        "AssumeRole",
        "--profile",
        "appserver",
        "--RoleArn",
        role_arn,
        "--RoleSessionName",
        "client-002",
        "--Policy",
        SESSION_POLICY,
        "--DurationSeconds",
        "900",
    ).json()
    client_002 = check_sts_credentials(body, account, "client-002")
    expect(client_002["AccessKeyId"] != client_001["AccessKeyId"], "client-002 reused a key")
    sts_id = w.placeholder(client_002["AccessKeyId"], "<client-002 AccessKeyId>")
    sts_secret = w.placeholder(client_002["AccessKeySecret"], "<client-002 AccessKeySecret>")
    sts_token = w.placeholder(client_002["SecurityToken"], "<client-002 SecurityToken>")
    ok("AssumeRole client-002 with the session policy (900 s)")

    # 7. the scoped token downloads grass.jpg: CLI profile and the SDK, V4 with region
    w.tessera(
        "configure",
        "--profile",
        "client-002",
        "--mode",
        "StsToken",
        "--access-key-id",
        sts_id,
        "--access-key-secret",
        sts_secret,
        "--sts-token",
        sts_token,
        "--endpoint",
        endpoint,
        "--insecure",
    )
    w.tessera(
        "oss", "cp", f"oss://{BUCKET}/{KEY}", "downloaded/grass.jpg", "--profile", "client-002"
    )
    got = (workdir / "downloaded" / "grass.jpg").read_bytes()
    expect(got == picture, "the CLI downloaded other bytes than were uploaded")
    ok("client-002 downloads 2015/01/01/grass.jpg with tessera oss cp (V4, cn-hangzhou)")

    expect(
        download_with_sts_token(w.url, client_002) == picture,
        "the SDK downloaded other bytes than were uploaded",
    )
    ok("client-002 downloads 2015/01/01/grass.jpg with alibabacloud_oss_v2 (V4, cn-hangzhou)")

    # 8. and is refused everything else
    p = ("--profile", "client-002")
    new_jpg, other_png = (
        f"oss://{BUCKET}/2015/01/01/new.jpg",
        f"oss://{BUCKET}/2015/01/01/other.png",
    )
    w.refused("AccessDenied", "oss", "cp", "grass.jpg", new_jpg, *p, status=403)
    w.refused("AccessDenied", "oss", "cp", other_png, "downloaded/", *p, status=403)
    w.refused(
        "AccessDenied",
        "oss",
        "cp",
        f"oss://{BUCKET}/2015/01/02/grass.jpg",
        "downloaded/grass-0102.jpg",
        *p,
        status=403,
    )
    w.refused("AccessDenied", "oss", "ls", f"oss://{BUCKET}", *p, status=403)
    w.refused("AccessDenied", "oss", "rm", f"oss://{BUCKET}/{KEY}", *p, status=403)
    expect(
        not (workdir / "downloaded" / "other.png").exists()
        and not (workdir / "downloaded" / "grass-0102.jpg").exists(),
        "a refused download left a file behind",
    )
    listing = w.tessera(
        "oss", "ls", f"oss://{BUCKET}", "--profile", "root", "--output", "json"
    ).json()
    after = sorted(item["key"] for item in listing["objects"])
    expect(after == keys, f"the refused requests changed the bucket: {after}")
    ok("client-002 is refused PutObject, other.png, 2015/01/02/, ListObjects, DeleteObject")

    client = _sdk_client(w.url, client_002)
    models = oss.models
    sdk_refusal(
        "PutObject 2015/01/01/new.jpg",
        lambda: client.put_object(
            models.PutObjectRequest(bucket=BUCKET, key="2015/01/01/new.jpg", body=b"x")
        ),
        "AccessDenied",
    )
    for key_name in ("2015/01/01/other.png", "2015/01/02/grass.jpg"):
        sdk_refusal(
            f"GetObject {key_name}",
            partial(client.get_object, models.GetObjectRequest(bucket=BUCKET, key=key_name)),
            "AccessDenied",
        )
    sdk_refusal(
        "ListObjects",
        lambda: client.list_objects(models.ListObjectsRequest(bucket=BUCKET)),
        "AccessDenied",
    )
    sdk_refusal(
        "DeleteObject grass.jpg",
        lambda: client.delete_object(models.DeleteObjectRequest(bucket=BUCKET, key=KEY)),
        "AccessDenied",
    )
    ok("each of those is HTTP 403 AccessDenied through alibabacloud_oss_v2 as well")

    # 9. a damaged token, and a token that belongs to another AccessKeyId
    middle = len(sts_token) // 2
    damaged = (
        sts_token[:middle] + ("A" if sts_token[middle] != "A" else "B") + sts_token[middle + 1 :]
    )
    w.placeholder(damaged, "<client-002 SecurityToken with one character changed>")
    creds = ("--access-key-id", sts_id, "--access-key-secret", sts_secret, "--endpoint", w.url)
    w.refused(
        "InvalidSecurityToken",
        "oss",
        "cp",
        f"oss://{BUCKET}/{KEY}",
        "downloaded/",
        *creds,
        "--sts-token",
        damaged,
    )
    w.refused(
        "AccessKeyIdAndSecurityTokenNotMatch",
        "oss",
        "cp",
        f"oss://{BUCKET}/{KEY}",
        "downloaded/",
        *creds,
        "--sts-token",
        client_001["SecurityToken"],
    )
    sdk_refusal(
        "GetObject with a damaged token",
        lambda: _sdk_client(w.url, {**client_002, "SecurityToken": damaged}).get_object(
            models.GetObjectRequest(bucket=BUCKET, key=KEY)
        ),
        "InvalidSecurityToken",
    )
    sdk_refusal(
        "GetObject with client-001's token",
        lambda: _sdk_client(
            w.url, {**client_002, "SecurityToken": client_001["SecurityToken"]}
        ).get_object(models.GetObjectRequest(bucket=BUCKET, key=KEY)),
        "AccessKeyIdAndSecurityTokenNotMatch",
    )
    ok(
        "a damaged token: InvalidSecurityToken (403); another key's token: "
        "AccessKeyIdAndSecurityTokenNotMatch (403)"
    )

    # 10. the broker vends tokens to the app; the app refreshes them itself
    hashed = w.tessera("broker", "hash-key", "--user-id", "alice").stdout
    api_key = w.placeholder(
        _after(hashed, "API key (shown once; give it to the app user): "), "<API key>"
    )
    key_sha256 = _after(hashed, 'key_sha256 = "').rstrip('"')
    expect(len(key_sha256) == 64, "hash-key printed no key_sha256")
    (workdir / "broker.toml").write_text(
        BROKER_TOML.replace("<account>", account)
        .replace("<key_sha256>", key_sha256)
        .replace(f"http://{README_ENDPOINT}", w.url)
    )
    broker_env = {
        "TESSERA_BROKER_ACCESS_KEY_ID": appserver_id,
        "TESSERA_BROKER_ACCESS_KEY_SECRET": appserver_secret,
    }
    broker_args = ("broker", "--config", "broker.toml", "--port", str(broker_port))
    w.record(broker_args, broker_env)
    log_path = workdir / "broker.log"
    with log_path.open("wb") as log:
        broker = subprocess.Popen(  # noqa: S603 - our own CLI, arguments as a list
            [sys.executable, "-m", "tessera", *broker_args],
            cwd=workdir,
            env=w.env(broker_env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        broker_url = f"http://127.0.0.1:{broker_port}"
        _wait_healthy(broker, f"{broker_url}/-/health", log_path)
        ok(f"broker running on port {broker_port} as appserver")
        uri = f"{broker_url}/v1/credentials/download-jpg?api_key={api_key}"
        bodies, ids = simulated_app(uri, w.url)
        expect(bodies == [picture, picture], "the app downloaded other bytes than were uploaded")
        expect(len(ids) == 2, f"the app signed {len(ids)} requests, not 2")
        expect(all(i.startswith("STS.") for i in ids), "the app got a non-STS key")
        expect(ids[0] != ids[1], "the token was not refreshed between the downloads")
        ok("the app downloads grass.jpg twice; a new token (AccessKeyId) for the second")
        app = BrokerCredentialsProvider(uri).get_credentials()
        sdk_refusal(
            "the app's PutObject",
            lambda: _sdk_client(w.url, _as_dict(app)).put_object(
                oss.models.PutObjectRequest(bucket=BUCKET, key="2015/01/01/app.jpg", body=b"x")
            ),
            "AccessDenied",
        )
        ok("the app's token is read-only: PutObject is 403 AccessDenied")
        audit = w.tessera("broker", "audit", "broker-data/audit.jsonl", "--user-id", "alice")
        records = [json.loads(line) for line in audit.stdout.splitlines()]
        audited = {r["access_key_id"] for r in records}
        expect(set(ids) <= audited, "a token the app used is missing from the audit log")
        for record in records:
            expect(
                (record["template"], record["role_session_name"], record["role_arn"])
                == ("download-jpg", "app-alice", role_arn),
                f"audit record {record}",
            )
        ok("the broker's audit log names alice behind both tokens")
        wrong = f"{broker_url}/v1/credentials/download-jpg?api_key=tsk_{'0' * 40}"
        credentials_log = logging.getLogger("credentials")  # alibabacloud-credentials' own
        level = credentials_log.level
        credentials_log.setLevel(logging.CRITICAL)  # the refusal below is expected: no traceback
        try:
            BrokerCredentialsProvider(wrong).get_credentials()
        except CredentialException as exc:
            expect(
                "http_code=401" in str(exc) and '"Code":"InvalidCredentials"' in str(exc),
                f"a wrong API key: {exc}",
            )
        else:
            raise WalkthroughError("the broker vended a token for a wrong API key")
        finally:
            credentials_log.setLevel(level)
        ok("a wrong API key gets no token (401)")
    finally:
        _stop(broker)
    ok("walkthrough complete")


def _as_dict(credentials: Any) -> dict[str, str]:
    return {
        "AccessKeyId": credentials.access_key_id,
        "AccessKeySecret": credentials.access_key_secret,
        "SecurityToken": credentials.security_token,
    }


def _sdk_client(url: str, credentials: Mapping[str, str]) -> Any:
    cfg = oss.config.load_default()
    cfg.credentials_provider = oss.credentials.StaticCredentialsProvider(
        credentials["AccessKeyId"], credentials["AccessKeySecret"], credentials["SecurityToken"]
    )
    cfg.region = REGION
    cfg.signature_version = "v4"
    cfg.endpoint = url
    cfg.use_path_style = True
    cfg.retry_max_attempts = 1
    return oss.Client(cfg)


def _after(text: str, marker: str) -> str:
    for line in text.splitlines():
        if line.startswith(marker):
            return line[len(marker) :].strip()
    raise WalkthroughError(f"no line starting with {marker!r} in:\n{text}")


def _wait_healthy(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise WalkthroughError(
                f"the broker exited with {process.returncode}:\n{log.read_text()}"
            )
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - http://127.0.0.1
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise WalkthroughError(f"the broker did not answer {url}:\n{log.read_text()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--endpoint", default=README_ENDPOINT, help="host:port of tessera serve")
    parser.add_argument("--workdir", type=Path, help="local files (default: a new temp dir)")
    parser.add_argument("--home", type=Path, help="HOME for the profiles (default WORKDIR/home)")
    parser.add_argument("--broker-port", type=int, default=int(README_BROKER_PORT))
    args = parser.parse_args()
    key_id = os.environ.get("TESSERA_ROOT_ACCESS_KEY_ID")
    secret = os.environ.get("TESSERA_ROOT_ACCESS_KEY_SECRET")
    if not key_id or not secret:
        print(
            "walkthrough: set TESSERA_ROOT_ACCESS_KEY_ID and TESSERA_ROOT_ACCESS_KEY_SECRET "
            "to the root AccessKey that tessera serve printed",
            file=sys.stderr,
        )
        return 2
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="tessera-walkthrough-"))
    print(f"working in {workdir}")
    try:
        main(
            args.endpoint,
            workdir,
            root_access_key_id=key_id,
            root_access_key_secret=secret,
            home=args.home,
            broker_port=args.broker_port,
        )
    except WalkthroughError as exc:
        print(f"✗ {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(_cli())
