"""The RPC wire table: codes and statuses as spec/sts-ram.md §1.2, §1.7 and §3.9 list them."""

from __future__ import annotations

import pytest

from tessera import errors as e
from tessera.rpc.errors import to_wire

CASES = [
    (e.InvalidArgument("RoleArn"), "InvalidParameter.RoleArn", 400),
    (e.InvalidArgument("UserName", "Length"), "InvalidParameter.UserName.Length", 400),
    (e.MissingArgument("RoleArn"), "MissingRoleArn", 400),
    (e.MalformedPolicy("Statement[0]: bad"), "MalformedPolicyDocument", 400),
    (e.NotFound("User.AccessKey"), "EntityNotExist.User.AccessKey", 404),
    (e.NotFound("Role"), "EntityNotExist.Role", 404),
    (e.AlreadyExists("Role.Policy"), "EntityAlreadyExists.Role.Policy", 409),
    (e.DeleteConflict("Policy.Version.Default"), "DeleteConflict.Policy.Version.Default", 409),
    (e.LimitExceeded("User.AccessKey"), "LimitExceeded.User.AccessKey", 409),
    (e.AccessDenied("ram:CreateUser", "acs:ram:*:1:user/x"), "NoPermission", 403),
    (e.RootCannotAssumeRole(), "NoPermission", 403),
    (e.UnknownAction("Nope"), "InvalidAction.NotFound", 404),
    (e.UnsupportedVersion("2000-01-01"), "InvalidVersion", 400),
    (e.AccessKeyNotFound(), "InvalidAccessKeyId.NotFound", 404),
    (e.AccessKeyInactive(), "InvalidAccessKeyId.Inactive", 400),
    (e.SignatureMismatch("GET&%2F&x"), "SignatureDoesNotMatch", 400),
    (e.TimestampInvalid("x"), "InvalidTimeStamp.Format", 400),
    (e.RequestExpired(), "InvalidTimeStamp.Expired", 400),
    (e.NonceReused(), "SignatureNonceUsed", 400),
    (e.SecurityTokenMissing(), "MissingSecurityToken", 400),
    (e.SecurityTokenMalformed(), "InvalidSecurityToken.Malformed", 400),
    (e.SecurityTokenExpired(), "InvalidSecurityToken.Expired", 400),
    (e.SecurityTokenMismatch(), "InvalidSecurityToken.MismatchWithAccessKey", 400),
    (e.Throttled(), "Throttling.User", 400),
]


@pytest.mark.parametrize(("exc", "code", "status"), CASES, ids=[c[1] for c in CASES])
def test_wire_codes(exc: e.TesseraError, code: str, status: int) -> None:
    wire = to_wire(exc)
    assert (wire.code, wire.status) == (code, status)


def test_signature_mismatch_message_is_what_aliyun_core_parses() -> None:
    wire = to_wire(e.SignatureMismatch("POST&%2F&AccessKeyId%3Dx"))
    assert wire.message == (
        "Specified signature is not matched with our calculation. "
        "server string to sign is:POST&%2F&AccessKeyId%3Dx"
    )
    # aliyun-python-sdk-core compares its own string to sign with Message.split(':')[1]
    assert wire.message.split(":")[1] == "POST&%2F&AccessKeyId%3Dx"


def test_unknown_exceptions_are_internal_errors() -> None:
    wire = to_wire(ValueError("boom"))
    assert (wire.code, wire.status) == ("InternalError", 500)
    assert "boom" not in wire.message


def test_entity_messages_read_as_rams() -> None:
    # spec/sts-ram.md §3.9: "The user does not exist.", "The role does already EXIST."
    assert to_wire(e.NotFound("User", "alice")).message == "The user does not exist."
    assert to_wire(e.AlreadyExists("Role", "x")).message == "The role does already EXIST."
    assert to_wire(e.NotFound("User.AccessKey")).message == "The user access key does not exist."
