"""The broker over HTTP (ASGI, in-process) with a scripted STS and a fixed clock: both
response formats, every error status, rate limits, cache renewal, audit and CORS.

The real STS (Tessera over the official client) is exercised in tests/api/test_broker.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.unit.broker.support import (
    ALICE_KEY,
    AUDIENCE,
    BASE_TOML,
    BOB_KEY,
    ISSUER,
    ROLE_ARN,
    START,
    ScriptedSts,
    claims,
    jwks,
    rsa_key,
    settings_from,
)

from tessera.broker.auth import StaticJwks
from tessera.broker.errors import StsError, StsUnavailable
from tessera.broker.server import BrokerRuntime, build_broker
from tessera.clock import FixedClock

ALICE = {"Authorization": f"Bearer {ALICE_KEY}"}
BOB = {"Authorization": f"Bearer {BOB_KEY}"}
RSA = rsa_key()
JWT_TOML = f"""
[jwt]
issuer = "{ISSUER}"
audience = "{AUDIENCE}"
jwks_file = "unused.json"
templates = ["tenant", "user-prefix"]
"""


class Harness:
    def __init__(self, tmp_path: Path, toml: str = BASE_TOML + JWT_TOML) -> None:
        self.clock = FixedClock(START)
        self.sts = ScriptedSts(self.clock)
        self.settings = settings_from(toml, base=tmp_path)
        self.runtime: BrokerRuntime = build_broker(
            self.settings, clock=self.clock, sts=self.sts, jwks=StaticJwks(jwks(RSA))
        )

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.runtime.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://broker") as client:
                return await client.request(method, url, **kwargs)

        return asyncio.run(go())

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def audit(self) -> list[dict[str, Any]]:
        text = self.settings.audit_path.read_text()
        return [json.loads(line) for line in text.splitlines()]


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    harness = Harness(tmp_path)
    yield harness
    harness.runtime.close()


def test_credentials_uri_format(h: Harness) -> None:
    r = h.get("/v1/credentials/user-prefix", headers=ALICE)
    assert r.status_code == 200
    body = r.json()
    assert body == {
        "Code": "Success",
        "AccessKeyId": "STS.test0001",
        "AccessKeySecret": "secret0001",
        "SecurityToken": "token0001",
        "Expiration": "2027-01-15T09:00:00Z",
    }
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["content-type"] == "application/json"
    assert r.headers["x-broker-cache"] == "miss"
    (call,) = h.sts.calls
    assert (call.role_arn, call.role_session_name, call.duration_seconds) == (
        ROLE_ARN,
        "alice",
        3600,
    )
    assert json.loads(call.policy or "")["Statement"][0]["Resource"] == [
        "acs:oss:*:*:sample-bucket/users/alice/*"
    ]


def test_oss_mobile_format_shares_the_cached_token(h: Harness) -> None:
    first = h.get("/v1/credentials/user-prefix", headers=ALICE).json()
    r = h.get("/v1/oss-mobile/user-prefix", headers=ALICE)
    assert r.status_code == 200 and r.headers["x-broker-cache"] == "hit"
    body = r.json()
    assert body["StatusCode"] == 200 and isinstance(body["StatusCode"], int)
    assert {
        k: body[k] for k in ("AccessKeyId", "AccessKeySecret", "SecurityToken", "Expiration")
    } == {k: first[k] for k in ("AccessKeyId", "AccessKeySecret", "SecurityToken", "Expiration")}
    assert set(body) == {
        "StatusCode",
        "AccessKeyId",
        "AccessKeySecret",
        "SecurityToken",
        "Expiration",
    }
    assert len(h.sts.calls) == 1


def test_post_and_query_api_key(h: Harness) -> None:
    assert h.request("POST", "/v1/credentials/user-prefix", headers=ALICE).status_code == 200
    r = h.get(f"/v1/credentials/user-prefix?api_key={ALICE_KEY}")
    assert r.status_code == 200 and r.headers["x-broker-cache"] == "hit"


def test_cache_reuse_and_renewal_through_the_api(h: Harness) -> None:
    ids = [
        h.get("/v1/credentials/user-prefix", headers=ALICE).json()["AccessKeyId"] for _ in range(10)
    ]
    assert set(ids) == {"STS.test0001"} and len(h.sts.calls) == 1
    h.clock.advance(1799)
    assert (
        h.get("/v1/credentials/user-prefix", headers=ALICE).json()["AccessKeyId"] == "STS.test0001"
    )
    h.clock.advance(1)
    assert (
        h.get("/v1/credentials/user-prefix", headers=ALICE).json()["AccessKeyId"] == "STS.test0002"
    )
    assert len(h.sts.calls) == 2


def test_uncached_template_calls_sts_every_time(h: Harness) -> None:
    for _ in range(3):
        r = h.get("/v1/credentials/uncached", headers=ALICE)
        assert r.headers["x-broker-cache"] == "miss"
    assert len(h.sts.calls) == 3
    assert h.sts.calls[0].policy is None


def error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert r.headers["cache-control"] == "no-store"
    if "StatusCode" in body:
        assert body["StatusCode"] == status and body["ErrorCode"] == code and body["ErrorMessage"]
        assert "AccessKeyId" not in body
    else:
        assert body["Code"] == code and body["Message"] and body["RequestId"]
        assert body["RequestId"] == r.headers["x-request-id"]
    return body


@pytest.mark.parametrize("fmt", ["credentials", "oss-mobile"])
def test_unauthenticated_requests_get_401_and_no_token(h: Harness, fmt: str) -> None:
    r = h.get(f"/v1/{fmt}/user-prefix")
    error(r, 401, "MissingCredentials")
    assert r.headers["www-authenticate"] == 'Bearer realm="tessera-broker"'
    r = h.get(f"/v1/{fmt}/user-prefix", headers={"Authorization": "Bearer tsk_wrong" + "x" * 40})
    error(r, 401, "InvalidCredentials")
    assert 'error="invalid_token"' in r.headers["www-authenticate"]
    # unknown templates are not revealed before authentication
    error(h.get(f"/v1/{fmt}/no-such-template"), 401, "MissingCredentials")
    assert h.sts.calls == []


def test_template_errors(h: Harness) -> None:
    error(h.get("/v1/credentials/no-such-template", headers=ALICE), 404, "TemplateNotFound")
    body = error(h.get("/v1/oss-mobile/user-prefix", headers=BOB), 403, "Forbidden.Template")
    assert "user-prefix" in body["ErrorMessage"]
    assert h.get("/v1/credentials/download", headers=BOB).status_code == 200


@pytest.mark.parametrize("device", ["*", "..", "a/b", "a%2Fb", "x%22y", "%24%7Buser_id%7D", ""])
def test_unsafe_request_variables_are_refused(h: Harness, device: str) -> None:
    body = error(
        h.get(f"/v1/credentials/inbox?device_id={device}", headers=ALICE), 400, "InvalidParameter"
    )
    assert "device_id" in body["Message"]
    assert h.sts.calls == []


def test_request_variables(h: Harness) -> None:
    error(h.get("/v1/credentials/inbox", headers=ALICE), 400, "MissingParameter")
    a = h.get("/v1/credentials/inbox?device_id=phone-1", headers=ALICE).json()["AccessKeyId"]
    b = h.get("/v1/credentials/inbox?device_id=phone-2", headers=ALICE).json()["AccessKeyId"]
    assert a != b  # each device its own token
    assert (
        h.get("/v1/credentials/inbox?device_id=phone-1", headers=ALICE).json()["AccessKeyId"] == a
    )
    resources = [json.loads(c.policy or "")["Statement"][0]["Resource"] for c in h.sts.calls]
    assert resources == [
        "acs:oss:*:*:sample-inbox/inbox/alice/phone-1/*",
        "acs:oss:*:*:sample-inbox/inbox/alice/phone-2/*",
    ]
    assert h.sts.calls[0].duration_seconds == 7200
    # a variable the template does not take is ignored, not substituted
    h.get("/v1/credentials/user-prefix?bucket=other&device_id=x", headers=ALICE)
    assert "other" not in (h.sts.calls[-1].policy or "")


def test_jwt_users_and_claims(h: Harness) -> None:
    token = RSA.sign(claims(iat=int(START), exp=int(START) + 600, tenant="acme"))
    r = h.get("/v1/credentials/tenant", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    assert h.sts.calls[-1].role_session_name == "user-42"
    assert "tenants/acme/*" in (h.sts.calls[-1].policy or "")
    error(
        h.get("/v1/credentials/download", headers={"Authorization": f"Bearer {token}"}),
        403,
        "Forbidden.Template",
    )
    evil = RSA.sign(claims(tenant="*"))
    error(
        h.get("/v1/credentials/tenant", headers={"Authorization": f"Bearer {evil}"}),
        400,
        "InvalidParameter",
    )
    h.clock.advance(661)
    error(
        h.get("/v1/credentials/tenant", headers={"Authorization": f"Bearer {token}"}),
        401,
        "InvalidCredentials",
    )


def test_per_user_rate_limit_with_retry_after(h: Harness) -> None:
    for _ in range(20):  # the burst
        assert h.get("/v1/credentials/user-prefix", headers=ALICE).status_code == 200
    r = h.get("/v1/credentials/user-prefix", headers=ALICE)
    error(r, 429, "Throttling.User")
    assert r.headers["retry-after"] == "1"
    assert h.get("/v1/credentials/download", headers=BOB).status_code == 200  # others unaffected
    h.clock.advance(0.2)  # 5/s: one token back
    assert h.get("/v1/credentials/user-prefix", headers=ALICE).status_code == 200


def test_overall_and_assume_role_limits(tmp_path: Path) -> None:
    toml = BASE_TOML + "\n[rate_limit]\noverall_per_second = 0.5\noverall_burst = 3\n"
    h = Harness(tmp_path, toml.replace("[broker]", "[broker]\n", 1))
    try:
        for _ in range(3):
            assert h.get("/v1/credentials/download", headers=BOB).status_code == 200
        r = h.get("/v1/credentials/user-prefix", headers=ALICE)
        error(r, 429, "Throttling")
        assert r.headers["retry-after"] == "2"
    finally:
        h.runtime.close()
    toml = BASE_TOML + "\n[rate_limit]\nassume_role_per_second = 0.1\nassume_role_burst = 1\n"
    h = Harness(tmp_path / "2", toml)
    try:
        assert h.get("/v1/credentials/user-prefix", headers=ALICE).status_code == 200
        assert h.get("/v1/credentials/user-prefix", headers=ALICE).status_code == 200  # cached
        r = h.get("/v1/credentials/download", headers=BOB)  # a miss: needs AssumeRole
        error(r, 429, "Throttling.Sts")
        assert r.headers["retry-after"] == "10"
        assert len(h.sts.calls) == 1
    finally:
        h.runtime.close()


@pytest.mark.parametrize("fmt", ["credentials", "oss-mobile"])
def test_sts_errors_become_502_with_the_sts_code(h: Harness, fmt: str) -> None:
    h.sts.fail = StsError(
        "NoPermission", "You are not authorized to do this action.", 403, "STS-REQ-1"
    )
    body = error(h.get(f"/v1/{fmt}/user-prefix", headers=ALICE), 502, "NoPermission")
    assert body["StsRequestId"] == "STS-REQ-1"
    assert "not authorized" in json.dumps(body)
    h.sts.fail = StsUnavailable()
    error(h.get(f"/v1/{fmt}/user-prefix", headers=ALICE), 502, "StsUnavailable")
    h.sts.fail = None
    assert h.get(f"/v1/{fmt}/user-prefix", headers=ALICE).status_code == 200  # nothing cached


def test_unexpected_failures_are_a_clean_500(h: Harness) -> None:
    def boom(call: object) -> None:
        raise RuntimeError("secret internals")

    h.sts.on_call = boom
    r = h.get("/v1/credentials/user-prefix", headers=ALICE)
    body = error(r, 500, "InternalError")
    assert "secret internals" not in r.text and body["Message"] == "internal error"


def test_every_issued_token_is_audited_without_secrets(h: Harness) -> None:
    h.get("/v1/credentials/user-prefix", headers=ALICE)
    h.get("/v1/credentials/user-prefix", headers=ALICE)  # cached: same token, no new record
    h.get("/v1/credentials/inbox?device_id=phone-1", headers=ALICE)
    records = h.audit()
    assert len(records) == 2
    first = records[0]
    assert {
        k: first[k]
        for k in (
            "user_id",
            "auth_method",
            "template",
            "role_arn",
            "role_session_name",
            "access_key_id",
            "expiration",
            "sts_request_id",
            "source_ip",
        )
    } == {
        "user_id": "alice",
        "auth_method": "api_key",
        "template": "user-prefix",
        "role_arn": ROLE_ARN,
        "role_session_name": "alice",
        "access_key_id": "STS.test0001",
        "expiration": "2027-01-15T09:00:00Z",
        "sts_request_id": "REQ-1",
        "source_ip": "127.0.0.1",
    }
    assert records[1]["variables"] == {"bucket": "sample-inbox", "device_id": "phone-1"}
    text = h.settings.audit_path.read_text()
    for secret in ("secret0001", "token0001", ALICE_KEY, "appserver-secret"):
        assert secret not in text
    assert h.settings.audit_path.stat().st_mode & 0o777 == 0o600


def test_an_unwritable_audit_log_means_no_token(h: Harness) -> None:
    h.runtime.broker.audit.close()
    h.runtime.broker.audit._fd = 10_000  # a descriptor that is not open
    error(h.get("/v1/credentials/user-prefix", headers=ALICE), 500, "InternalError")
    h.runtime.broker.audit._fd = -1


def test_health_and_unknown_routes(h: Harness) -> None:
    assert h.get("/-/health").json() == {"Status": "OK"}
    r = h.get("/v2/nothing")
    assert r.status_code == 404 and r.json()["Code"] == "NotFound"
    r = h.request("PUT", "/v1/credentials/user-prefix", headers=ALICE)
    assert r.status_code == 405 and r.json()["Code"] == "MethodNotAllowed"


def test_cors_for_configured_origins_only(tmp_path: Path) -> None:
    toml = BASE_TOML + '\n[cors]\nallow_origins = ["https://app.example.com"]\n'
    h = Harness(tmp_path, toml)
    try:
        preflight = {
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        }
        r = h.request("OPTIONS", "/v1/credentials/user-prefix", headers=preflight)
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == "https://app.example.com"
        r = h.request(
            "OPTIONS",
            "/v1/credentials/user-prefix",
            headers={**preflight, "Origin": "https://evil.example.com"},
        )
        assert r.status_code == 400 and "access-control-allow-origin" not in r.headers
        r = h.get(
            "/v1/credentials/user-prefix", headers={**ALICE, "Origin": "https://app.example.com"}
        )
        assert r.headers["access-control-allow-origin"] == "https://app.example.com"
        assert "retry-after" in r.headers["access-control-expose-headers"].lower()
    finally:
        h.runtime.close()
    plain = Harness(tmp_path / "plain", BASE_TOML)
    try:
        r = plain.get(
            "/v1/credentials/user-prefix", headers={**ALICE, "Origin": "https://app.example.com"}
        )
        assert "access-control-allow-origin" not in r.headers
    finally:
        plain.runtime.close()
