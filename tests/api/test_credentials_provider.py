"""``alibabacloud-credentials`` with ``type='ram_role_arn'`` against ``tessera serve --tls``.

The provider hard-codes https (spec §2.6, capture E) and trusts the system CA store plus
certifi, so a private CA is trusted through ``SSL_CERT_FILE``. Each test starts its own TLS
server: the SDKs keep one connection pool (and TLS context) per host:port for the life of the
process, so a fresh port guarantees that the environment of *this* test is the one read.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from alibabacloud_credentials.client import Client as CredentialClient
from alibabacloud_credentials.models import Config as CredentialConfig
from alibabacloud_credentials.provider import (
    RamRoleArnCredentialsProvider,
    StaticAKCredentialsProvider,
)

from tests.api.clients import FreshServer, Identities, Role, User, role_arn, sts_api, trust
from tests.server import ACCOUNT_ID, TesseraServer

pytestmark = pytest.mark.sdk


@dataclass(frozen=True)
class Setup:
    server: TesseraServer
    broker: User
    role: Role


@pytest.fixture
def tls_setup(fresh_server: FreshServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
    server = fresh_server(tls=True)
    monkeypatch.setenv("SSL_CERT_FILE", str(server.ca_file))
    ids = Identities(server)  # the tea RAM client over https, trusting the CA the same way
    yield Setup(
        server,
        ids.user("creds-broker", system=("AliyunSTSAssumeRoleAccess",)),
        ids.role("creds-role", max_session_duration=7200),
    )


def provider(setup: Setup, duration: int, session: str = "creds-test") -> CredentialClient:
    return CredentialClient(
        CredentialConfig(
            type="ram_role_arn",
            access_key_id=setup.broker.creds.access_key_id,
            access_key_secret=setup.broker.creds.access_key_secret,
            role_arn=setup.role.arn,
            role_session_name=session,
            role_session_expiration=duration,
            sts_endpoint=setup.server.endpoint,
            timeout=10_000,
            connect_timeout=5_000,
        )
    )


def test_ssl_cert_file_is_what_makes_the_ca_trusted(
    fresh_server: FreshServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without SSL_CERT_FILE the provider refuses the server's certificate — requests'
    REQUESTS_CA_BUNDLE does not help (spec §2.6) — and with it the default verify paths, which
    the SDK's TLS context loads, point at Tessera's CA."""
    server = fresh_server(tls=True)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.ca_file))
    client = CredentialClient(
        CredentialConfig(
            type="ram_role_arn",
            access_key_id="LTAI" + "0" * 20,
            access_key_secret="x",
            role_arn=f"acs:ram::{ACCOUNT_ID}:role/none",
            role_session_name="untrusted",
            sts_endpoint=server.endpoint,
            timeout=5_000,
            connect_timeout=5_000,
        )
    )
    with pytest.raises(Exception, match="CERTIFICATE_VERIFY_FAILED"):
        client.get_credential()

    monkeypatch.setenv("SSL_CERT_FILE", str(server.ca_file))
    assert ssl.get_default_verify_paths().cafile == str(server.ca_file)


def test_ram_role_arn_provider_gets_and_refreshes(tls_setup: Setup) -> None:
    # With DurationSeconds 900 the credentials are stale as soon as they arrive (the provider
    # refreshes 15 minutes before Expiration), so every call is a new AssumeRole.
    client = provider(tls_setup, 900)
    first = client.get_credential()
    second = client.get_credential()
    for cred in (first, second):
        assert cred.access_key_id.startswith("STS.")
        assert cred.access_key_secret and cred.security_token
        assert cred.type == "ram_role_arn"
    assert first.access_key_id != second.access_key_id
    assert first.security_token != second.security_token

    # With an hour the cached credentials are reused.
    cached = provider(tls_setup, 3600, "creds-cached")
    one, two = cached.get_credential(), cached.get_credential()
    assert one.access_key_id == two.access_key_id


def test_credential_drives_the_sts_client(tls_setup: Setup) -> None:
    client = provider(tls_setup, 3600, "creds-sts")
    sts = sts_api(tls_setup.server, credential=client)
    body = sts("GetCallerIdentity")
    role = tls_setup.role
    assert body["IdentityType"] == "AssumedRoleUser"
    assert body["Arn"] == f"acs:ram::{ACCOUNT_ID}:assumed-role/{role.name}/creds-sts"
    assert body["RoleId"] == role.role_id
    assert body["PrincipalId"] == f"{role.role_id}:creds-sts"


def test_provider_reports_server_errors(tls_setup: Setup) -> None:
    """A refused AssumeRole (the caller lacks sts:AssumeRole) reaches the caller as an error
    that carries the HTTP status and the server's JSON."""
    ids = Identities(tls_setup.server)
    outsider = ids.user("creds-outsider")
    client = CredentialClient(
        CredentialConfig(
            type="ram_role_arn",
            access_key_id=outsider.creds.access_key_id,
            access_key_secret=outsider.creds.access_key_secret,
            role_arn=tls_setup.role.arn,
            role_session_name="refused",
            sts_endpoint=tls_setup.server.endpoint,
        )
    )
    with pytest.raises(Exception, match="NoPermission") as info:
        client.get_credential()
    assert "http_code: 403" in str(info.value)


def test_provider_expiration_and_role_chain(tls_setup: Setup) -> None:
    """The provider classes directly: Expiration parsed (it uses %Y-%m-%dT%H:%M:%SZ) to
    now + DurationSeconds, and a ram_role_arn provider stacked on another one (role chaining,
    the inner STS token is sent as SecurityToken)."""
    inner = RamRoleArnCredentialsProvider(
        credentials_provider=StaticAKCredentialsProvider(
            access_key_id=tls_setup.broker.creds.access_key_id,
            access_key_secret=tls_setup.broker.creds.access_key_secret,
        ),
        role_arn=tls_setup.role.arn,
        role_session_name="creds-inner",
        duration_seconds=1800,
        sts_endpoint=tls_setup.server.endpoint,
    )
    cred = inner.get_credentials()
    assert cred.get_access_key_id().startswith("STS.")
    assert abs(cred.get_expiration() - (time.time() + 1800)) <= 5

    ids = Identities(tls_setup.server)
    target = ids.role("creds-target", trust_policy=trust(role_arn(tls_setup.role.name)))
    ids.ram(
        "AttachPolicyToRole",
        policy_name="AliyunSTSAssumeRoleAccess",
        policy_type="System",
        role_name=tls_setup.role.name,
    )
    outer = RamRoleArnCredentialsProvider(
        credentials_provider=inner,
        role_arn=target.arn,
        role_session_name="creds-outer",
        duration_seconds=3600,
        sts_endpoint=tls_setup.server.endpoint,
    )
    chained = outer.get_credentials()
    assert chained.get_access_key_id().startswith("STS.")
    assert chained.get_expiration() <= cred.get_expiration()
