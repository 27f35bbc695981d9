"""Request value objects and the names a principal is known by."""

from __future__ import annotations

from tessera.policy import AuthzRequest, ContextKey, PrincipalRef

ACCT = "1234567890123456"


def test_ram_user() -> None:
    user = PrincipalRef.ram_user(ACCT, "alice", "2001")
    assert (user.kind, user.arns, user.user_id) == (
        "RAMUser",
        (f"acs:ram::{ACCT}:user/alice",),
        "2001",
    )
    assert user.bucket_names == ("2001",)
    assert {n.full for n in user.trust_names} == {
        f"acs:ram::{ACCT}:user/alice",
        f"acs:ram::{ACCT}:root",
    }


def test_assumed_role_session() -> None:
    session = PrincipalRef.assumed_role(ACCT, "Builder", "3901", "ci")
    assert session.kind == "AssumedRoleUser"
    assert session.principal_id == "3901:ci"  # spec 1.5: PrincipalId = <RoleId>:<session>
    assert session.arns == (
        f"acs:ram::{ACCT}:role/Builder",
        f"acs:ram::{ACCT}:assumed-role/Builder/ci",
    )
    assert session.bucket_names == (f"arn:sts::{ACCT}:assumed-role/3901/ci",)
    assert {n.full for n in session.trust_names} == {
        f"acs:ram::{ACCT}:role/builder",
        f"acs:ram::{ACCT}:assumed-role/builder/ci",
        f"acs:ram::{ACCT}:root",
    }


def test_account_service_and_anonymous() -> None:
    assert PrincipalRef.account(ACCT).bucket_names == (ACCT,)
    service = PrincipalRef.service_principal("ecs.aliyuncs.com")
    assert (service.kind, service.service, service.trust_names, service.bucket_names) == (
        "Service",
        "ecs.aliyuncs.com",
        (),
        (),
    )
    anonymous = PrincipalRef.anonymous()
    assert (anonymous.kind, anonymous.trust_names, anonymous.bucket_names) == ("Anonymous", (), ())


def test_request_normalises_once() -> None:
    request = AuthzRequest(
        None,
        "OSS:GetObject",
        f"acs:ram:*:{ACCT}:role/MyRole",
        {"ACS:SourceIp": ("10.0.0.1",), "oss:Prefix": "a/"},  # type: ignore[dict-item]
    )
    assert request.action_key == "oss:getobject"
    assert request.resource_key.full == f"acs:ram:*:{ACCT}:role/myrole"
    assert request.resource_key.parts == ("acs", "ram", "*", ACCT, "role/myrole")
    # keys fold case; a bare string is one value, not a sequence of characters
    assert request.context_lookup == {"acs:sourceip": ("10.0.0.1",), "oss:prefix": ("a/",)}
    assert request.context["ACS:SourceIp"] == ("10.0.0.1",)  # what the caller gave is kept


def test_non_acs_resource_has_no_segments() -> None:
    assert AuthzRequest(None, "a:b", "*").resource_key.parts is None


def test_context_key_names() -> None:
    assert ContextKey.SOURCE_IP == "acs:SourceIp"
    assert ContextKey.CURRENT_TIME == "acs:CurrentTime"
    assert ContextKey.SECURE_TRANSPORT == "acs:SecureTransport"
    assert ContextKey.EXTERNAL_ID == "sts:ExternalId"
    assert ContextKey.OSS_PREFIX == "oss:Prefix"
