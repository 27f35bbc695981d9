"""``tessera serve`` and ``tessera account`` as an operator meets them (README, DESIGN.md).

Health endpoint, first start without configured credentials, file modes, secrets kept out of
the log, SIGTERM, ``--tls``, the OSS-style answer to non-RPC requests, and a second and third
account with cross-account role trust.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import ssl
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.api.clients import (
    ROOT,
    FreshServer,
    Identities,
    account_root,
    ram_api,
    session_creds,
    sts_api,
    trust,
    unique,
)
from tests.api.rawrpc import RAM_VERSION, Credentials, RawRpc
from tests.server import ACCOUNT_ID, ROOT_ACCESS_KEY_SECRET, TesseraServer, free_port

pytestmark = pytest.mark.sdk

OSS_REQUEST_ID = re.compile(r"^[0-9A-F]{24}$")  # spec/oss.md: 24 upper-case hex characters


class UnconfiguredServer(TesseraServer):
    """A server started with no TESSERA_ROOT_* / TESSERA_ACCOUNT_ID in its environment."""

    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k
            not in (
                "TESSERA_ROOT_ACCESS_KEY_ID",
                "TESSERA_ROOT_ACCESS_KEY_SECRET",
                "TESSERA_ACCOUNT_ID",
            )
        }
        env.update(self.extra_env)
        return env


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def tessera_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    return subprocess.run(
        [sys.executable, "-m", "tessera", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


# ---- health ----------------------------------------------------------------------------------


def test_health(server: TesseraServer) -> None:
    raw = RawRpc(server.endpoint)
    reply = raw.request("GET", "/-/health")
    assert reply.status == 200
    assert reply.json()["status"] == "ok"
    assert raw.request("HEAD", "/-/health").status == 200


# ---- first start -----------------------------------------------------------------------------


def test_first_start_generates_and_prints_root_credentials_once(
    fresh_server: FreshServer, tmp_path: Path
) -> None:
    data_dir = tmp_path / "first"
    started = time.perf_counter()
    first = fresh_server(server_class=UnconfiguredServer, data_dir=data_dir)
    elapsed = time.perf_counter() - started
    print(f"\nstartup to healthy (first start, empty data dir): {elapsed * 1000:.0f} ms")

    cred_file = data_dir / "root-credentials.json"
    assert mode(cred_file) == 0o600
    saved = json.loads(cred_file.read_text())
    assert re.fullmatch(r"\d{16}", saved["account_id"])
    key_id, secret = saved["access_key_id"], saved["access_key_secret"]
    assert key_id and secret
    assert mode(data_dir / "master.key") == 0o600

    log = first.log()
    assert log.count(secret) == 1, "the generated secret is printed exactly once"
    assert key_id in log and saved["account_id"] in log

    root = Credentials(key_id, secret)
    identity = sts_api(first, root)("GetCallerIdentity")
    assert identity["IdentityType"] == "Account"
    assert identity["AccountId"] == saved["account_id"]
    user = unique("after-restart")
    ram_api(first, root)("CreateUser", user_name=user)
    assert first.stop() == 0

    # the second start keeps the account and key, and does not print the secret again
    started = time.perf_counter()
    second = fresh_server(server_class=UnconfiguredServer, data_dir=data_dir)
    elapsed = time.perf_counter() - started
    print(f"startup to healthy (restart): {elapsed * 1000:.0f} ms")
    assert second.log_path != first.log_path
    assert secret not in second.log()
    assert json.loads(cred_file.read_text()) == saved
    assert sts_api(second, root)("GetCallerIdentity")["AccountId"] == saved["account_id"]
    assert ram_api(second, root)("GetUser", user_name=user)["User"]["UserName"] == user


def test_configured_root_credentials_are_not_printed(fresh_server: FreshServer) -> None:
    srv = fresh_server()
    assert ROOT_ACCESS_KEY_SECRET not in srv.log()
    assert not (srv.data_dir / "root-credentials.json").exists()
    assert mode(srv.data_dir / "master.key") == 0o600


# ---- the access log holds no secret ----------------------------------------------------------


def test_secrets_never_reach_the_log(fresh_server: FreshServer) -> None:
    srv = fresh_server()
    ids = Identities(srv)
    broker = ids.user("log-broker", system=("AliyunSTSAssumeRoleAccess",))
    role = ids.role("log-role", system=("AliyunRAMFullAccess",))
    assumed = sts_api(srv, broker.creds)(
        "AssumeRole", role_arn=role.arn, role_session_name="log-session"
    )
    token = session_creds(assumed)
    assert token.security_token is not None
    ram_api(srv, token)("CreateUser", user_name=unique("by-token"))
    sts_api(srv, token, v2=True)("GetCallerIdentity")
    wrong = Credentials(broker.creds.access_key_id, "wrong-secret-0123456789")
    assert sts_api(srv, wrong).fails("GetCallerIdentity").code == "SignatureDoesNotMatch"
    tampered = Credentials(
        token.access_key_id, token.access_key_secret, token.security_token[:-6] + "AAAAAA"
    )
    assert sts_api(srv, tampered).fails("GetCallerIdentity").status == 400
    raw = RawRpc(srv.endpoint)
    reply, _ = raw.v1(broker.creds, "GetCallerIdentity")
    assert reply.status == 200
    v3_reply, signed = raw.v3(ROOT, "ListUsers", version=RAM_VERSION)
    assert v3_reply.status == 200
    v3_signature = signed.headers["authorization"].rsplit("Signature=", 1)[1]
    # a request whose URL carries a V1 signature and a token
    v1_reply, _ = raw.v1(token, "GetCallerIdentity")
    assert v1_reply.status == 200
    denied_name = unique("denied")
    denied, _ = raw.v1(broker.creds, "CreateUser", {"UserName": denied_name}, version=RAM_VERSION)
    assert denied.status == 403
    assert srv.stop() == 0

    log = srv.log()
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert len(lines) >= 12, log  # one access-log line per request
    # the README's access-log fields, for the denied call
    (line,) = [x for x in lines if x.get("request_id") == denied.json()["RequestId"]]
    assert line["status"] == 403
    assert line["action"] == "ram:CreateUser"
    assert line["resource"] == f"acs:ram:*:{ACCOUNT_ID}:user/{denied_name}"
    assert "deny" in line["decision"]
    assert broker.name in line["principal"]
    assert isinstance(line["latency_ms"], (int, float))
    # positive control: the log does name callers by AccessKeyId
    assert broker.creds.access_key_id in log
    assert token.access_key_id in log
    secrets_used = {
        "root secret": ROOT_ACCESS_KEY_SECRET,
        "user secret": broker.creds.access_key_secret,
        "sts secret": token.access_key_secret,
        "security token": token.security_token,
        "security token prefix": token.security_token[:40],
        "wrong secret": "wrong-secret-0123456789",
        "v3 signature": v3_signature,
    }
    for what, value in secrets_used.items():
        assert value not in log, f"the {what} appears in the server log"


# ---- signals ---------------------------------------------------------------------------------


def test_sigterm_stops_cleanly(fresh_server: FreshServer) -> None:
    srv = fresh_server()
    assert srv.process is not None
    sts_api(srv)("GetCallerIdentity")
    started = time.perf_counter()
    srv.process.send_signal(signal.SIGTERM)
    code = srv.process.wait(timeout=10)
    print(f"\nSIGTERM to exit: {(time.perf_counter() - started) * 1000:.0f} ms")
    assert code == 0, srv.log()


def test_sigint_stops_cleanly(fresh_server: FreshServer) -> None:
    srv = fresh_server()
    assert srv.process is not None
    srv.process.send_signal(signal.SIGINT)
    assert srv.process.wait(timeout=10) == 0, srv.log()


# ---- --tls -----------------------------------------------------------------------------------


def _https_health(srv: TesseraServer, context: ssl.SSLContext) -> int:
    conn = http.client.HTTPSConnection("127.0.0.1", srv.port, timeout=5, context=context)
    try:
        conn.request("GET", "/-/health")
        return conn.getresponse().status
    finally:
        conn.close()


def test_tls_certificate_verifies_against_the_local_ca(
    fresh_server: FreshServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    srv = fresh_server(tls=True)
    assert srv.ca_file.is_file()
    assert str(srv.ca_file) in srv.log()  # printed for the operator
    trusting = ssl.create_default_context(cafile=str(srv.ca_file))
    assert trusting.check_hostname and trusting.verify_mode == ssl.CERT_REQUIRED
    assert _https_health(srv, trusting) == 200

    untrusting = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies, but knows no CA
    with pytest.raises(ssl.SSLCertVerificationError):
        _https_health(srv, untrusting)

    # the tea STS client over https, trusting the CA through SSL_CERT_FILE (README)
    monkeypatch.setenv("SSL_CERT_FILE", str(srv.ca_file))
    assert sts_api(srv)("GetCallerIdentity")["AccountId"] == ACCOUNT_ID


def test_tls_restart_keeps_the_ca(fresh_server: FreshServer, tmp_path: Path) -> None:
    data_dir = tmp_path / "tls-keep"
    first = fresh_server(tls=True, data_dir=data_dir)
    ca = first.ca_file.read_bytes()
    assert first.stop() == 0
    second = fresh_server(tls=True, data_dir=data_dir)
    assert second.ca_file.read_bytes() == ca
    trusting = ssl.create_default_context(cafile=str(second.ca_file))
    assert _https_health(second, trusting) == 200


# ---- non-RPC requests ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "target", "headers"),
    [
        ("GET", "/", {}),
        ("GET", "/bucket/key.txt", {}),
        ("PUT", "/bucket", {}),
        ("DELETE", "/bucket/a/b", {}),
        ("GET", "/?acl", {}),
        ("POST", "/bucket/key?uploads", {"content-type": "application/octet-stream"}),
        ("GET", "/bucket", {"authorization": "OSS LTAIx:c2lnbmF0dXJl"}),
    ],
)
def test_non_rpc_requests_get_an_oss_style_xml_error(
    server: TesseraServer, method: str, target: str, headers: dict[str, str]
) -> None:
    reply = RawRpc(server.endpoint).request(method, target, headers=headers)
    assert reply.status >= 400
    assert "xml" in reply.content_type
    request_id = reply.headers.get("x-oss-request-id", "")
    assert OSS_REQUEST_ID.match(request_id), reply.headers
    root = reply.xml()
    assert root.tag == "Error"
    assert root.findtext("Code")
    assert root.findtext("Message")
    assert root.findtext("RequestId") == request_id


# ---- more accounts ---------------------------------------------------------------------------


def create_account(data_dir: Path, *extra: str) -> dict[str, Any]:
    done = tessera_cli("account", "create", "--data-dir", str(data_dir), *extra)
    assert done.returncode == 0, done.stderr
    created: dict[str, Any] = json.loads(done.stdout)
    return created


def test_more_accounts_and_cross_account_trust(fresh_server: FreshServer) -> None:
    srv = fresh_server()
    b = create_account(srv.data_dir, "--account-id", "2222333344445555")
    c = create_account(srv.data_dir)  # account id generated
    assert b["AccountId"] == "2222333344445555"
    assert re.fullmatch(r"\d{16}", c["AccountId"]) and c["AccountId"] not in (
        ACCOUNT_ID,
        b["AccountId"],
    )
    listed = tessera_cli("account", "list", "--data-dir", str(srv.data_dir))
    assert listed.returncode == 0, listed.stderr
    assert set(listed.stdout.split()) == {ACCOUNT_ID, b["AccountId"], c["AccountId"]}

    b_root = Credentials(b["AccessKeyId"], b["AccessKeySecret"])
    c_root = Credentials(c["AccessKeyId"], c["AccessKeySecret"])
    identity = sts_api(srv, b_root)("GetCallerIdentity")
    assert identity["IdentityType"] == "Account"
    assert identity["AccountId"] == b["AccountId"]
    assert identity["Arn"] == f"acs:ram::{b['AccountId']}:root"

    # account A (the server's): a role trusting the whole of account B
    a_ids = Identities(srv)
    shared = a_ids.role(
        "shared",
        trust_policy=trust(account_root(b["AccountId"])),
        system=("AliyunRAMReadOnlyAccess",),
    )
    b_ids, c_ids = Identities(srv, b_root), Identities(srv, c_root)
    assert b_ids.account_id == b["AccountId"]
    b_user = b_ids.user("b-broker", system=("AliyunSTSAssumeRoleAccess",))
    c_user = c_ids.user("c-broker", system=("AliyunSTSAssumeRoleAccess",))

    assumed = sts_api(srv, b_user.creds)(
        "AssumeRole", role_arn=shared.arn, role_session_name="from-b"
    )
    assert assumed["AssumedRoleUser"]["Arn"] == f"acs:ram::{ACCOUNT_ID}:role/{shared.name}/from-b"
    token = session_creds(assumed)
    who = sts_api(srv, token)("GetCallerIdentity")
    assert who["AccountId"] == ACCOUNT_ID
    assert who["Arn"] == f"acs:ram::{ACCOUNT_ID}:assumed-role/{shared.name}/from-b"
    # the token acts in account A with the role's (read-only) permissions
    a_users = {u["UserName"] for u in ram_api(srv, token)("ListUsers")["Users"]["User"]}
    assert b_user.name not in a_users

    err = sts_api(srv, c_user.creds).fails(
        "AssumeRole", role_arn=shared.arn, role_session_name="from-c"
    )
    assert (err.code, err.status) == ("NoPermission", 403)
    err = sts_api(srv, b_root).fails("AssumeRole", role_arn=shared.arn, role_session_name="b-root")
    assert (err.code, err.status) == ("NoPermission", 403)

    # accounts are isolated: B's root sees none of A's users, and cannot touch them
    b_ram = ram_api(srv, b_root)
    b_users = {u["UserName"] for u in b_ram("ListUsers")["Users"]["User"]}
    assert b_users == {b_user.name}
    err = b_ram.fails("GetRole", role_name=shared.name)
    assert (err.code, err.status) == ("EntityNotExist.Role", 404)
    # and a user of B with AliyunRAMFullAccess administers B only
    b_admin = b_ids.user("b-admin", system=("AliyunRAMFullAccess",))
    b_admin_ram = ram_api(srv, b_admin.creds)
    seen = {u["UserName"] for u in b_admin_ram("ListUsers")["Users"]["User"]}
    assert seen == {b_user.name, b_admin.name}
    err = b_admin_ram.fails("GetUser", user_name=c_user.name)
    assert (err.code, err.status) == ("EntityNotExist.User", 404)


def test_account_create_refuses_a_duplicate(fresh_server: FreshServer) -> None:
    srv = fresh_server()
    done = tessera_cli(
        "account", "create", "--data-dir", str(srv.data_dir), "--account-id", ACCOUNT_ID
    )
    assert done.returncode != 0
    assert ACCOUNT_ID in (done.stderr + done.stdout) or "exist" in (done.stderr + done.stdout)


def _second_serve(data_dir: Path, port: int) -> subprocess.CompletedProcess[str]:
    """``tessera serve`` run to completion (it must refuse to start, so it returns)."""
    args = ["serve", "--data-dir", str(data_dir), "--port", str(port)]
    return subprocess.run(
        [sys.executable, "-m", "tessera", *args],
        env=TesseraServer(data_dir).env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_second_server_on_a_busy_port_refuses_to_start(
    fresh_server: FreshServer, tmp_path: Path
) -> None:
    # granian binds with SO_REUSEPORT: without the guard both would listen and split traffic
    first = fresh_server()
    result = _second_serve(tmp_path / "other-data", first.port)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"127.0.0.1:{first.port} is already in use" in result.stderr
    assert not (tmp_path / "other-data" / "master.key").exists()  # refused before any state
    assert urllib.request.urlopen(f"{first.url}/-/health", timeout=5).status == 200


def test_a_second_server_on_the_same_data_dir_refuses_to_start(
    fresh_server: FreshServer,
) -> None:
    first = fresh_server()
    result = _second_serve(first.data_dir, free_port())
    assert result.returncode == 1, result.stdout + result.stderr
    assert "another tessera serve is using the data directory" in result.stderr
    assert first.stop() == 0
    # the lock goes with the process: the directory can be served again
    again = fresh_server(data_dir=first.data_dir)
    assert urllib.request.urlopen(f"{again.url}/-/health", timeout=5).status == 200
