"""The token broker end to end: a real ``tessera broker`` process in front of a real Tessera.

Set-up as Alibaba's pattern has it, with the official RAM client: a role
``oss-objectmanager`` (trusting the account, ``AliyunOSSFullAccess``), a RAM user
``appserver`` with an AccessKey and ``AliyunSTSAssumeRoleAccess``, and buckets. The broker
calls AssumeRole through ``alibabacloud-sts20150401`` as that user; apps get tokens with the
official ``alibabacloud-credentials`` ``credentials_uri`` provider and plain GETs (the OSS
mobile SDK's format), then use them with ``oss2`` and ``alibabacloud-oss-v2`` — the scope of
each template holds on Tessera's OSS. The last test runs the broker inside ``tessera serve``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tessera.broker.auth import hash_api_key
from tessera.broker.config import StsSettings
from tessera.broker.errors import StsError, StsUnavailable
from tessera.broker.sts_client import AlibabaSts, AssumeRoleCall
from tessera.secret import Secret
from tests.api.clients import ROOT, FreshServer, Identities, Role, User, sts_api, unique
from tests.api.rawrpc import Credentials
from tests.api.test_oss_sdk import oss2_bucket, oss2_error, v2_client, v2_error
from tests.server import TesseraServer, free_port

pytestmark = pytest.mark.sdk

ALICE_KEY = "tsk_alice-integration-" + "a" * 32
BOB_KEY = "tsk_bob-integration-" + "b" * 32


def broker_toml(
    *,
    port: int,
    data_dir: Path,
    sts_endpoint: str | None,
    appserver: User,
    role: Role,
    bucket: str,
    inbox: str,
) -> str:
    endpoint = f'endpoint = "{sts_endpoint}"\n' if sts_endpoint else ""
    return f"""
[broker]
port = {port}
data_dir = "{data_dir}"
query_api_key = true
session_name_prefix = "app-"

[sts]
{endpoint}access_key_id = "{appserver.creds.access_key_id}"
access_key_secret = "{appserver.creds.access_key_secret}"

[[api_keys]]
user_id = "alice"
key_sha256 = "{hash_api_key(ALICE_KEY)}"

[[api_keys]]
user_id = "bob"
key_sha256 = "{hash_api_key(BOB_KEY)}"
templates = ["download", "inbox-upload"]

[templates.user-prefix]
role_arn = "{role.arn}"
variables = {{ bucket = "{bucket}" }}
policy = '''{{"Version": "1", "Statement": [
  {{"Effect": "Allow", "Action": ["oss:GetObject", "oss:PutObject", "oss:DeleteObject"],
    "Resource": ["acs:oss:*:*:${{bucket}}/users/${{user_id}}/*"]}},
  {{"Effect": "Allow", "Action": ["oss:ListObjects"], "Resource": ["acs:oss:*:*:${{bucket}}"],
    "Condition": {{"StringLike": {{"oss:Prefix": ["users/${{user_id}}/*"]}}}}}}]}}'''

[templates.download]
role_arn = "{role.arn}"
variables = {{ bucket = "{bucket}" }}
policy = '''{{"Version": "1", "Statement": [{{"Effect": "Allow", "Action": ["oss:GetObject"],
  "Resource": ["acs:oss:*:*:${{bucket}}/shared/*"]}}]}}'''

[templates.inbox-upload]
role_arn = "{role.arn}"
variables = {{ bucket = "{inbox}" }}
request_variables = ["device_id"]
policy = '''{{"Version": "1", "Statement": [{{"Effect": "Allow", "Action": ["oss:PutObject"],
  "Resource": ["acs:oss:*:*:${{bucket}}/inbox/${{user_id}}/${{device_id}}/*"]}}]}}'''

[templates.ghost]
role_arn = "acs:ram::{role.arn.split(":")[3]}:role/no-such-role"
"""


@dataclass
class BrokerProcess:
    """``tessera broker --config FILE`` as a child process; stopped by the test that started it."""

    config: Path
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> BrokerProcess:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tessera", "broker", "--config", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_healthy(f"{self.url}/-/health", self.process, self.log)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise
        return self.process.returncode


def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Any, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with {process.returncode}:\n{log()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not become healthy:\n{log()}")


@dataclass(frozen=True)
class Setup:
    server: TesseraServer
    broker: BrokerProcess
    appserver: User
    role: Role
    bucket: str
    inbox: str
    audit: Path


def app_infrastructure(server: TesseraServer) -> tuple[User, Role, str, str]:
    """Role, app-server user and buckets as Alibaba's mobile-app guide sets them up."""
    ids = Identities(server)
    role = ids.role("oss-objectmanager", system=("AliyunOSSFullAccess",))
    appserver = ids.user("appserver", system=("AliyunSTSAssumeRoleAccess",))
    bucket, inbox = unique("app-data"), unique("app-inbox")
    for name in (bucket, inbox):
        oss2_bucket(server, ROOT, name, True).create_bucket()
    data = oss2_bucket(server, ROOT, bucket, True)
    data.put_object("shared/terms.txt", b"shared terms")
    data.put_object("users/bob/secret.txt", b"bob's")
    return appserver, role, bucket, inbox


@pytest.fixture(scope="module")
def setup(server: TesseraServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    base = tmp_path_factory.mktemp("broker")
    appserver, role, bucket, inbox = app_infrastructure(server)
    port = free_port()
    config = base / "broker.toml"
    config.write_text(
        broker_toml(
            port=port,
            data_dir=base / "data",
            sts_endpoint=server.url,
            appserver=appserver,
            role=role,
            bucket=bucket,
            inbox=inbox,
        )
    )
    broker = BrokerProcess(config, port, base / "broker.log").start()
    try:
        yield Setup(server, broker, appserver, role, bucket, inbox, base / "data" / "audit.jsonl")
    finally:
        code = broker.stop()
        assert code == 0, f"the broker exited with {code}:\n{broker.log()}"


def creds_of(body: dict[str, Any]) -> Credentials:
    return Credentials(body["AccessKeyId"], body["AccessKeySecret"], body["SecurityToken"])


def test_credentials_uri_provider_then_oss2_within_the_user_prefix(setup: Setup) -> None:
    from alibabacloud_credentials.client import Client as CredentialClient
    from alibabacloud_credentials.models import Config as CredentialConfig

    uri = f"{setup.broker.url}/v1/credentials/user-prefix?api_key={ALICE_KEY}"
    client = CredentialClient(CredentialConfig(type="credentials_uri", credentials_uri=uri))
    credential = client.get_credential()
    assert credential.access_key_id.startswith("STS.")
    creds = Credentials(
        credential.access_key_id, credential.access_key_secret, credential.security_token
    )
    for v4 in (False, True):
        bucket = oss2_bucket(setup.server, creds, setup.bucket, v4)
        bucket.put_object("users/alice/photo.jpg", b"alice's photo")
        assert bucket.get_object("users/alice/photo.jpg").read() == b"alice's photo"
        listed = [o.key for o in bucket.list_objects(prefix="users/alice/").object_list]
        assert listed == ["users/alice/photo.jpg"]
        for call in (
            lambda b=bucket: b.get_object("users/bob/secret.txt"),
            lambda b=bucket: b.put_object("users/bob/evil.txt", b"x"),
            lambda b=bucket: b.get_object("shared/terms.txt"),
            lambda b=bucket: b.list_objects(prefix="users/bob/"),
        ):
            assert oss2_error(call).code == "AccessDenied"
    # the session name in the token names the app user (and so does OSS's access log)
    who = sts_api(setup.server, creds)("GetCallerIdentity")
    assert who["Arn"].endswith(f"role/{setup.role.name}/app-alice")


def test_the_same_token_is_reused_then_a_burst_costs_one_assume_role(setup: Setup) -> None:
    headers = {"Authorization": f"Bearer {ALICE_KEY}"}
    url = f"{setup.broker.url}/v1/credentials/user-prefix"
    first = httpx.get(url, headers=headers).json()["AccessKeyId"]

    async def burst(template: str, device: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=setup.broker.url) as client:
            return list(
                await asyncio.gather(
                    *(
                        client.get(
                            f"/v1/credentials/{template}?device_id={device}",
                            headers={"Authorization": f"Bearer {BOB_KEY}"},
                        )
                        for _ in range(15)
                    )
                )
            )

    assert httpx.get(url, headers=headers).json()["AccessKeyId"] == first
    device = unique("dev")
    before = len(audit_records(setup.audit))
    answers = asyncio.run(burst("inbox-upload", device))
    assert {r.status_code for r in answers} == {200}
    assert len({r.json()["AccessKeyId"] for r in answers}) == 1
    assert len(audit_records(setup.audit)) == before + 1  # one AssumeRole for the burst
    assert [r.headers["x-broker-cache"] for r in answers].count("miss") == 1


def test_oss_mobile_format_and_upload_only_inbox_with_oss_v2(setup: Setup) -> None:
    device = unique("phone")
    r = httpx.get(
        f"{setup.broker.url}/v1/oss-mobile/inbox-upload",
        params={"device_id": device},
        headers={"X-Api-Key": BOB_KEY},
    )
    assert r.status_code == 200
    body = r.json()
    assert body["StatusCode"] == 200
    assert set(body) == {
        "StatusCode",
        "AccessKeyId",
        "AccessKeySecret",
        "SecurityToken",
        "Expiration",
    }
    client = v2_client(setup.server, creds_of(body))
    import alibabacloud_oss_v2 as ossv2

    key = f"inbox/bob/{device}/upload.bin"
    client.put_object(ossv2.PutObjectRequest(bucket=setup.inbox, key=key, body=b"payload"))
    assert (
        v2_error(
            lambda: client.get_object(ossv2.GetObjectRequest(bucket=setup.inbox, key=key))
        ).code
        == "AccessDenied"
    )
    other = "inbox/bob/another-device/upload.bin"
    assert (
        v2_error(
            lambda: client.put_object(
                ossv2.PutObjectRequest(bucket=setup.inbox, key=other, body=b"x")
            )
        ).code
        == "AccessDenied"
    )
    stored = oss2_bucket(setup.server, ROOT, setup.inbox, True).get_object(key).read()
    assert stored == b"payload"


def test_read_only_download(setup: Setup) -> None:
    body = httpx.get(
        f"{setup.broker.url}/v1/credentials/download",
        headers={"Authorization": f"Bearer {BOB_KEY}"},
    ).json()
    bucket = oss2_bucket(setup.server, creds_of(body), setup.bucket, True)
    assert bucket.get_object("shared/terms.txt").read() == b"shared terms"
    assert oss2_error(lambda: bucket.put_object("shared/new.txt", b"x")).code == "AccessDenied"
    assert oss2_error(lambda: bucket.get_object("users/bob/secret.txt")).code == "AccessDenied"


def test_refusals(setup: Setup) -> None:
    url = setup.broker.url
    r = httpx.get(f"{url}/v1/credentials/user-prefix")
    assert r.status_code == 401 and r.json()["Code"] == "MissingCredentials"
    assert r.headers["www-authenticate"].startswith("Bearer")
    r = httpx.get(f"{url}/v1/credentials/user-prefix", params={"api_key": "tsk_" + "z" * 40})
    assert r.status_code == 401 and "AccessKeyId" not in r.text
    r = httpx.get(f"{url}/v1/oss-mobile/user-prefix", headers={"X-Api-Key": BOB_KEY})
    assert r.status_code == 403 and r.json()["ErrorCode"] == "Forbidden.Template"
    r = httpx.get(
        f"{url}/v1/credentials/inbox-upload",
        params={"device_id": "../alice"},
        headers={"X-Api-Key": BOB_KEY},
    )
    assert r.status_code == 400 and r.json()["Code"] == "InvalidParameter"


def test_sts_errors_are_surfaced_as_clean_broker_errors(setup: Setup) -> None:
    r = httpx.get(
        f"{setup.broker.url}/v1/credentials/ghost", headers={"Authorization": f"Bearer {ALICE_KEY}"}
    )
    assert r.status_code == 502
    body = r.json()
    assert body["Code"] == "EntityNotExist.Role" and body["StsRequestId"]
    assert setup.appserver.creds.access_key_secret not in r.text


def test_the_sts_client_translates_real_failures(setup: Setup) -> None:
    call = AssumeRoleCall(setup.role.arn, "app-test", 3600, None)

    def sts(endpoint: str, secret: str) -> AlibabaSts:
        protocol, _, host = endpoint.partition("://")
        return AlibabaSts(
            StsSettings(host, protocol, setup.appserver.creds.access_key_id, Secret(secret))
        )

    wrong = "wrong-secret-of-the-app-server-01"
    with pytest.raises(StsError) as caught:
        asyncio.run(sts(setup.server.url, wrong).assume_role(call))
    assert caught.value.code == "SignatureDoesNotMatch" and caught.value.sts_status == 400
    assert wrong not in caught.value.message
    with pytest.raises(StsUnavailable) as unreachable:
        asyncio.run(sts(f"http://127.0.0.1:{free_port()}", wrong).assume_role(call))
    assert unreachable.value.code == "StsUnavailable"
    issued = asyncio.run(
        sts(setup.server.url, setup.appserver.creds.access_key_secret).assume_role(call)
    )
    assert issued.access_key_id.startswith("STS.") and issued.expires_at > time.time() + 3000


def audit_records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_audit_traces_a_token_back_to_the_app_user(setup: Setup) -> None:
    body = httpx.get(
        f"{setup.broker.url}/v1/credentials/user-prefix", headers={"X-Api-Key": ALICE_KEY}
    ).json()
    found = subprocess.run(
        [
            sys.executable,
            "-m",
            "tessera",
            "broker",
            "audit",
            str(setup.audit),
            "--access-key-id",
            body["AccessKeyId"],
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    (record,) = [json.loads(line) for line in found.stdout.splitlines()]
    assert record["user_id"] == "alice" and record["template"] == "user-prefix"
    assert record["role_arn"] == setup.role.arn and record["role_session_name"] == "app-alice"
    assert record["expiration"] == body["Expiration"]
    text = setup.audit.read_text()
    assert body["AccessKeySecret"] not in text and body["SecurityToken"] not in text
    assert ALICE_KEY not in text and ALICE_KEY not in setup.broker.log()


def test_serve_runs_the_broker_in_process(fresh_server: FreshServer, tmp_path: Path) -> None:
    first = fresh_server(data_dir=tmp_path / "data")
    appserver, role, bucket, inbox = app_infrastructure(first)
    first.stop()
    port, broker_port = free_port(), free_port()
    config = tmp_path / "broker.toml"
    config.write_text(  # no [sts] endpoint: the broker calls the server it runs in
        broker_toml(
            port=broker_port,
            data_dir=tmp_path / "broker-data",
            sts_endpoint=None,
            appserver=appserver,
            role=role,
            bucket=bucket,
            inbox=inbox,
        )
    )
    log_path = tmp_path / "serve.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tessera",
                "serve",
                "--data-dir",
                str(tmp_path / "data"),
                "--port",
                str(port),
                "--broker-config",
                str(config),
            ],
            env={**os.environ, **first.env()},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_healthy(f"http://127.0.0.1:{broker_port}/-/health", process, log_path.read_text)
        body = httpx.get(
            f"http://127.0.0.1:{broker_port}/v1/credentials/user-prefix",
            headers={"Authorization": f"Bearer {ALICE_KEY}"},
        ).json()
        assert body["Code"] == "Success", body
        server = TesseraServer(tmp_path / "data", port=port)
        data = oss2_bucket(server, creds_of(body), bucket, True)
        data.put_object("users/alice/in-process.txt", b"ok")
        assert oss2_error(lambda: data.get_object("users/bob/secret.txt")).code == "AccessDenied"
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=15)
    assert code == 0, log_path.read_text()
    assert "Tessera broker listening on" in log_path.read_text()


def test_the_sts_client_trusts_a_private_ca_over_https(
    fresh_server: FreshServer, tmp_path: Path
) -> None:
    """``[sts] ca_file``: the broker in front of ``tessera serve --tls`` trusts Tessera's CA
    without touching the process's trust store (``serve --tls --broker-config`` passes it)."""
    plain = fresh_server(data_dir=tmp_path / "data")
    appserver, role, _, _ = app_infrastructure(plain)
    plain.stop()
    server = fresh_server(tls=True, data_dir=tmp_path / "data")
    call = AssumeRoleCall(role.arn, "app-tls", 3600, None)

    def sts(ca_file: Path | None) -> AlibabaSts:
        key = appserver.creds
        return AlibabaSts(
            StsSettings(
                server.endpoint,
                "https",
                key.access_key_id,
                Secret(key.access_key_secret),
                ca_file=ca_file,
            )
        )

    with pytest.raises(StsUnavailable):  # the private CA is not trusted by default
        asyncio.run(sts(None).assume_role(call))
    issued = asyncio.run(sts(server.ca_file).assume_role(call))
    assert issued.access_key_id.startswith("STS.")
