"""The RPC wire table: Tessera error class → (Code, HTTP status).

Owns: every RAM/STS wire error code and status (spec/sts-ram.md §1.2, §1.7, §3.9). Lookup
walks the exception's MRO, so a subclass inherits its parent's row unless it has its own.
Codes may be templates filled from the error's fields (``EntityNotExist.{kind}``).
Must not: be consulted for OSS; OSS has its own table.
"""

from __future__ import annotations

from dataclasses import dataclass

from tessera import errors as e


@dataclass(frozen=True, slots=True)
class WireError:
    code: str
    status: int
    message: str


_TABLE: dict[type[e.TesseraError], tuple[str, int]] = {
    e.InvalidArgument: ("InvalidParameter.{param}", 400),
    e.MissingArgument: ("Missing{param}", 400),
    e.MalformedPolicy: ("MalformedPolicyDocument", 400),
    e.NotFound: ("EntityNotExist.{kind}", 404),
    e.AlreadyExists: ("EntityAlreadyExists.{kind}", 409),
    e.DeleteConflict: ("DeleteConflict.{kind}", 409),
    e.LimitExceeded: ("LimitExceeded.{kind}", 409),
    e.AccessDenied: ("NoPermission", 403),
    e.UnknownAction: ("InvalidAction.NotFound", 404),
    e.UnsupportedVersion: ("InvalidVersion", 400),
    e.RequestTooLarge: ("InvalidParameter.RequestSize", 413),
    e.Throttled: ("Throttling.User", 400),
    e.IncompleteSignature: ("IncompleteSignature", 400),
    e.UnsupportedSignatureMethod: ("InvalidSignatureMethod", 400),
    e.AccessKeyNotFound: ("InvalidAccessKeyId.NotFound", 404),
    e.AccessKeyInactive: ("InvalidAccessKeyId.Inactive", 400),
    e.SignatureMismatch: ("SignatureDoesNotMatch", 400),
    e.TimestampInvalid: ("InvalidTimeStamp.Format", 400),
    e.RequestExpired: ("InvalidTimeStamp.Expired", 400),
    e.NonceReused: ("SignatureNonceUsed", 400),
    e.SecurityTokenMissing: ("MissingSecurityToken", 400),
    e.SecurityTokenInvalid: ("InvalidSecurityToken.Malformed", 400),
    e.SecurityTokenExpired: ("InvalidSecurityToken.Expired", 400),
    e.SecurityTokenMismatch: ("InvalidSecurityToken.MismatchWithAccessKey", 400),
    e.TesseraError: ("InternalError", 500),
}

INTERNAL = WireError(
    "InternalError", 500, "The request processing has failed due to some unknown error."
)


def _code(template: str, exc: e.TesseraError) -> str:
    if isinstance(exc, e.InvalidArgument):
        return template.format(param=exc.param) + (f".{exc.reason}" if exc.reason else "")
    return template.format(**exc.fields) if "{" in template else template


def _message(exc: e.TesseraError) -> str:
    if isinstance(exc, e.SignatureMismatch):
        # aliyun-python-sdk-core splits the message on ':' to compare string-to-sign values.
        return f"{exc.message} server string to sign is:{exc.string_to_sign}"
    if isinstance(exc, e.AccessDenied) and exc.explanation:
        return f"{exc.message} {exc.explanation}"
    return exc.message


def to_wire(exc: BaseException) -> WireError:
    """The wire code, status and message for any exception (unknown ones are 500s)."""
    if not isinstance(exc, e.TesseraError):
        return INTERNAL
    for cls in type(exc).__mro__:
        row = _TABLE.get(cls)
        if row is not None:
            template, status = row
            return WireError(_code(template, exc), status, _message(exc))
    return INTERNAL
