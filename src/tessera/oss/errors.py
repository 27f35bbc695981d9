"""The OSS wire table: Tessera error class → (Code, HTTP status), plus the ``<Error>`` body.

Owns: every OSS error code, status, message and EC that Tessera sends (spec oss.md 4-6, 9), the
operation-specific extra elements (BucketName, Key, Condition, ArgumentName/ArgumentValue,
SignatureDoesNotMatch's StringToSign/StringToSignBytes…) and the ``x-oss-err`` header value for
responses that cannot carry a body (HEAD, 304). Lookup walks the exception's MRO, so a subclass
inherits its parent's row; a row may be refined by one structured field (``NotFound.kind``,
``MissingArgument.param``…) through ``_REFINED``.
Must not: be consulted for RPC (``tessera.rpc.errors`` is that table), read a clock or do I/O.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from tessera import errors as e

from .xml import Node, render

__all__ = [
    "INTERNAL",
    "OssError",
    "error_header",
    "error_xml",
    "string_to_sign_bytes",
    "to_oss",
]

# class → (Code, status)
_TABLE: Final[dict[type[e.TesseraError], tuple[str, int]]] = {
    e.InvalidArgument: ("InvalidArgument", 400),
    e.InvalidName: ("InvalidArgument", 400),  # refined by kind below
    e.MissingArgument: ("MissingArgument", 400),
    e.MalformedPolicy: ("InvalidPolicyDocument", 400),
    e.MalformedXML: ("MalformedXML", 400),
    e.NotFound: ("NoSuchKey", 404),  # refined by kind below
    e.AlreadyExists: ("BucketAlreadyExists", 409),
    e.DeleteConflict: ("BucketNotEmpty", 409),
    e.LimitExceeded: ("TooManyBuckets", 400),
    e.AccessDenied: ("AccessDenied", 403),
    e.UnknownAction: ("NotImplemented", 501),
    e.RequestTooLarge: ("EntityTooLarge", 400),
    e.Throttled: ("RequestLimitExceeded", 503),
    e.DigestMismatch: ("InvalidDigest", 400),
    e.PreconditionFailed: ("PreconditionFailed", 412),
    e.NotModified: ("NotModified", 304),
    e.InvalidRange: ("InvalidRange", 416),
    e.MethodNotAllowed: ("MethodNotAllowed", 405),
    e.NotSupported: ("NotImplemented", 501),
    e.InvalidPart: ("InvalidPart", 400),
    e.InvalidPartOrder: ("InvalidPartOrder", 400),
    e.EntityTooSmall: ("EntityTooSmall", 400),
    e.NotAppendable: ("ObjectNotAppendable", 409),
    e.AppendPositionMismatch: ("PositionNotEqualToLength", 409),
    e.ClientError: ("InvalidRequest", 400),
    e.IncompleteSignature: ("InvalidArgument", 400),
    e.UnsupportedSignatureMethod: ("InvalidArgument", 400),
    e.SigningRegionMismatch: ("InvalidArgument", 400),
    e.AccessKeyNotFound: ("InvalidAccessKeyId", 403),
    e.AccessKeyInactive: ("InvalidAccessKeyId", 403),
    e.SecurityTokenMissing: ("InvalidAccessKeyId", 403),
    e.SignatureMismatch: ("SignatureDoesNotMatch", 403),
    e.RequestTimeTooSkewed: ("RequestTimeTooSkewed", 403),
    e.PresignedUrlExpired: ("AccessDenied", 403),
    e.PresignedExpiresInvalid: ("AccessDenied", 403),
    e.TimestampInvalid: ("AccessDenied", 403),
    e.RequestExpired: ("AccessDenied", 403),
    e.SecurityTokenInvalid: ("InvalidSecurityToken", 403),
    e.SecurityTokenExpired: ("SecurityTokenExpired", 403),
    e.SecurityTokenMismatch: ("AccessKeyIdAndSecurityTokenNotMatch", 403),
    e.AuthenticationError: ("AccessDenied", 403),
    e.TesseraError: ("InternalError", 500),
}

# (class, value of its refining field) → Code; the status stays the class row's.
_REFINING_FIELD: Final[dict[type[e.TesseraError], str]] = {
    e.NotFound: "kind",
    e.AlreadyExists: "kind",
    e.DeleteConflict: "kind",
    e.InvalidName: "kind",
    e.MissingArgument: "param",
}
_REFINED: Final[dict[tuple[type[e.TesseraError], str], tuple[str, int]]] = {
    (e.NotFound, "Bucket"): ("NoSuchBucket", 404),
    (e.NotFound, "Object"): ("NoSuchKey", 404),
    (e.NotFound, "Upload"): ("NoSuchUpload", 404),
    (e.NotFound, "BucketPolicy"): ("NoSuchBucketPolicy", 404),
    (e.NotFound, "BucketCors"): ("NoSuchCORSConfiguration", 404),
    (e.NotFound, "AccessKey"): ("InvalidAccessKeyId", 403),
    (e.AlreadyExists, "Bucket"): ("BucketAlreadyExists", 409),
    (e.AlreadyExists, "Object"): ("FileAlreadyExists", 409),
    (e.DeleteConflict, "Bucket"): ("BucketNotEmpty", 409),
    (e.InvalidName, "Bucket"): ("InvalidBucketName", 400),
    (e.InvalidName, "Object"): ("InvalidObjectName", 400),
    (e.MissingArgument, "Content-Length"): ("MissingContentLength", 411),
}

# Code → OSS's message, where OSS's wording differs from the error's own.
_MESSAGES: Final[dict[str, str]] = {
    "NoSuchBucket": "The specified bucket does not exist.",
    "NoSuchKey": "The specified key does not exist.",
    "NoSuchUpload": (
        "The specified upload does not exist. The upload ID may be invalid, or the upload may"
        " have been aborted or completed."
    ),
    "NoSuchBucketPolicy": "The bucket policy does not exist.",
    "NoSuchCORSConfiguration": "The CORS Configuration does not exist.",
    "BucketAlreadyExists": "The requested bucket name is not available.",
    "BucketNotEmpty": "The bucket you tried to delete is not empty.",
    "FileAlreadyExists": "The object you specified already exists and can not be overwritten.",
    "InvalidAccessKeyId": "The OSS Access Key Id you provided does not exist in our records.",
    "InvalidSecurityToken": "The security token you provided is invalid.",
    "SecurityTokenExpired": "The security token you provided has expired.",
    "AccessKeyIdAndSecurityTokenNotMatch": (
        "The OSS access key id and security token you provided does not match"
    ),
    "SignatureDoesNotMatch": (
        "The request signature we calculated does not match the signature you provided."
        " Check your key and signing method."
    ),
    "MissingContentLength": "You must provide the Content-Length HTTP header.",
    "InternalError": "We encountered an internal error. Please try again.",
}

# Code → EC, only where the spec documents it (spec oss.md 4, 6, 9, 14).
_EC: Final[dict[str, str]] = {
    "NoSuchKey": "0026-00000001",
    "MalformedXML": "0031-00000001",
    "SignatureDoesNotMatch": "0002-00000040",
    "InvalidAccessKeyId": "0002-00000002",
    "AccessKeyIdAndSecurityTokenNotMatch": "0002-00000004",
    "InvalidSecurityToken": "0002-00000006",
    "SecurityTokenExpired": "0002-00000007",
    "AccessDenied": "0003-00000001",
    "InvalidPartOrder": "0042-00000209",
    "EntityTooSmall": "0042-00000213",
}
_EC_BY_CLASS: Final[dict[type[e.TesseraError], str]] = {
    e.SigningRegionMismatch: "0002-00000226",
    # "The user metadata in your request exceeds the 8 KB size limit." [doc: OSS EC 0011-00000002]
    e.UserMetadataTooLarge: "0011-00000002",
}

#: AccessDenied without an explanation from the authorizer.
ACCESS_DENIED: Final = "You have no right to access this resource."
RECOMMEND_DOC: Final = "https://api.aliyun.com/troubleshoot?q={ec}"


@dataclass(frozen=True, slots=True)
class OssError:
    """An error as OSS puts it on the wire. ``extras`` are the operation-specific elements that
    go between HostId and EC; ``headers`` are extra response headers (e.g.
    ``x-oss-next-append-position``)."""

    code: str
    status: int
    message: str
    ec: str = ""
    extras: tuple[tuple[str, str], ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)


INTERNAL: Final = OssError("InternalError", 500, _MESSAGES["InternalError"])


def _row(exc: e.TesseraError) -> tuple[str, int]:
    for cls in type(exc).__mro__:
        row = _TABLE.get(cls)
        if row is None:
            continue
        refining = _REFINING_FIELD.get(cls)
        value = str(exc.fields.get(refining, "")) if refining else ""
        return _REFINED.get((cls, value), row)
    raise AssertionError("TesseraError has a row")  # pragma: no cover


def string_to_sign_bytes(string_to_sign: str) -> str:
    """Each UTF-8 byte as two uppercase hex digits followed by a space, as OSS prints it
    (``PUT\\n`` → ``50 55 54 0A ``) [doc: Troubleshoot signature errors]."""
    return "".join(f"{byte:02X} " for byte in string_to_sign.encode("utf-8"))


# SignatureMismatch fields (when the verifier sets them) → their OSS elements.
_SIGNATURE_FIELDS: Final = (("OSSAccessKeyId", "access_key_id"), ("SignatureProvided", "signature"))


def _signature_extras(exc: e.SignatureMismatch) -> list[tuple[str, str]]:
    extras = [
        (name, str(exc.fields[field])) for name, field in _SIGNATURE_FIELDS if field in exc.fields
    ]
    extras += [
        ("StringToSign", exc.string_to_sign),
        ("StringToSignBytes", string_to_sign_bytes(exc.string_to_sign)),
    ]
    return extras


#: What OSS says of an Authorization header it cannot parse (captured replies: spec oss.md 6).
INVALID_AUTHORIZATION_HEADER: Final = "Authorization header is invalid."


def _extras(exc: e.TesseraError) -> list[tuple[str, str]]:
    """The error's own extra elements; the caller adds BucketName / Key of the request."""
    if isinstance(exc, e.SignatureMismatch):
        return _signature_extras(exc)
    if isinstance(exc, e.PreconditionFailed):
        return [("Condition", exc.condition)]
    if isinstance(exc, e.MethodNotAllowed):
        return [("Method", exc.method), ("ResourceType", exc.resource_type)]
    if isinstance(exc, e.InvalidArgument) and not isinstance(exc, e.InvalidName):
        value = exc.fields.get("value")
        return [("ArgumentName", exc.param), ("ArgumentValue", "" if value is None else str(value))]
    if isinstance(exc, e.MissingArgument):
        return [("ArgumentName", exc.param), ("ArgumentValue", "")]
    if isinstance(exc, e.RequestTimeTooSkewed):
        return [("MaxAllowedSkewMilliseconds", str(exc.max_skew_seconds * 1000))]
    return []


def _message(exc: e.TesseraError, code: str) -> str:
    if isinstance(exc, e.AccessDenied):
        return exc.explanation or ACCESS_DENIED
    if isinstance(exc, e.IncompleteSignature) and exc.fields.get("in_header"):
        return INVALID_AUTHORIZATION_HEADER
    return _MESSAGES.get(code, exc.message)


def _headers(exc: e.TesseraError) -> dict[str, str]:
    if isinstance(exc, e.AppendPositionMismatch):
        return {"x-oss-next-append-position": str(exc.next_position)}
    return {}


def to_oss(exc: BaseException) -> OssError:
    """The OSS code, status, message, EC, extras and headers for any exception; anything that
    is not a TesseraError is a 500 whose details stay in the server log."""
    if not isinstance(exc, e.TesseraError):
        return INTERNAL
    code, status = _row(exc)
    ec = _EC_BY_CLASS.get(type(exc)) or _EC.get(code, "")
    return OssError(code, status, _message(exc, code), ec, tuple(_extras(exc)), _headers(exc))


def error_xml(
    error: OssError,
    request_id: str,
    host_id: str,
    *,
    bucket: str | None = None,
    key: str | None = None,
) -> bytes:
    """The ``<Error>`` document: Code, Message, RequestId, HostId, the operation extras (bucket
    name for bucket errors, key for object errors), EC and RecommendDoc (spec 6)."""
    nodes: list[Node | None] = [
        ("Code", error.code),
        ("Message", error.message),
        ("RequestId", request_id),
        ("HostId", host_id),
    ]
    nodes += [(name, value) for name, value in _request_extras(error.code, bucket, key)]
    nodes += [(name, value) for name, value in error.extras]
    if error.ec:
        nodes += [("EC", error.ec), ("RecommendDoc", RECOMMEND_DOC.format(ec=error.ec))]
    return render(("Error", nodes))


def _request_extras(code: str, bucket: str | None, key: str | None) -> list[tuple[str, str]]:
    if code in ("NoSuchBucket", "BucketAlreadyExists", "BucketNotEmpty", "InvalidBucketName"):
        return [("BucketName", bucket)] if bucket is not None else []
    if code in ("NoSuchKey", "InvalidObjectName", "FileAlreadyExists") and key is not None:
        return [("Key", key)]
    return []


def error_header(body: bytes) -> str:
    """The ``x-oss-err`` header value for a response without a body: base64 of the error XML
    (oss2 ``object_exists`` needs it to tell NoSuchBucket from NoSuchKey; spec 0.7)."""
    return base64.b64encode(body).decode("ascii")
