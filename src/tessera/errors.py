"""Tessera's one error hierarchy.

Owns: every exception that Tessera's own code raises on purpose, with structured fields.
Must not: know about HTTP, status codes or wire error codes. Each protocol maps these classes
to its wire format in exactly one table (``tessera.rpc.errors``, ``tessera.oss.errors``),
looked up through the class MRO so a subclass inherits its parent's rendering.

    TesseraError
    ├── ClientError                      the request is wrong; retrying it unchanged fails again
    │   ├── InvalidArgument(param, reason)   a parameter has a bad value (reason: Length, Format…)
    │   │   └── InvalidName(kind, name)      a bucket / object name breaks the naming rules
    │   ├── MissingArgument(param)           a required parameter is absent
    │   ├── MalformedPolicy(detail)          a policy document failed the grammar check
    │   ├── NotFound(kind, name)             an entity does not exist (kind: User, Role, …)
    │   ├── AlreadyExists(kind, name)        an entity exists already
    │   ├── DeleteConflict(kind)             an entity still has dependents (kind: User.AccessKey…)
    │   ├── LimitExceeded(kind)              a quota would be exceeded
    │   ├── AccessDenied(action, resource)   authorization refused (carries the explanation)
    │   │   └── RootCannotAssumeRole
    │   ├── UnknownAction(action)
    │   ├── UnsupportedVersion(version)
    │   ├── RequestTooLarge(limit)
    │   ├── Throttled
    │   ├── MalformedXML(detail)             a request body is not acceptable XML (OSS)
    │   ├── DigestMismatch(header)           Content-MD5 malformed or not matching the body
    │   ├── PreconditionFailed(condition)    an If-* / copy-source condition does not hold
    │   ├── NotModified                      a conditional GET found the client's copy current
    │   ├── InvalidRange(range_header, size) a Range that cannot be satisfied
    │   ├── MethodNotAllowed(method, resource_type)
    │   ├── NotSupported(feature)            a protocol feature Tessera does not implement
    │   ├── InvalidPart(part_number)         multipart completion names an unknown part
    │   │   └── InvalidPartOrder
    │   ├── EntityTooSmall(part_number, size, minimum)
    │   ├── NotAppendable                    append to an object that is not appendable
    │   └── AppendPositionMismatch(next_position)
    ├── AuthenticationError              the request could not be authenticated
    │   ├── IncompleteSignature(detail)
    │   ├── UnsupportedSignatureMethod(method)
    │   ├── AccessKeyNotFound
    │   ├── AccessKeyInactive
    │   ├── SignatureMismatch(string_to_sign)
    │   ├── RequestTimeTooSkewed(request_time, server_time, max_skew_seconds)   (OSS)
    │   ├── PresignedUrlExpired(expires_at, server_time)                         (OSS)
    │   ├── PresignedExpiresInvalid(detail)                                      (OSS)
    │   ├── SigningRegionMismatch(region, expected)                              (OSS V4)
    │   ├── TimestampInvalid(detail)
    │   ├── RequestExpired
    │   ├── NonceReused
    │   ├── SecurityTokenMissing
    │   └── SecurityTokenInvalid
    │       ├── SecurityTokenMalformed
    │       ├── SecurityTokenExpired
    │       └── SecurityTokenMismatch
    └── InternalError
        └── BlobError                    defined in tessera.blobs.base: InvalidBlobId,
                                         BlobNotFound, BlobRangeError (never a client's fault)

    (tessera.store.oss_base.ObjectChanged, a ClientError, signals a lost append race.)
"""

from __future__ import annotations

import re
from typing import Any


class TesseraError(Exception):
    """Base of every deliberate Tessera error.

    ``fmt`` is a template filled from the keyword arguments; the arguments stay available as
    ``self.fields`` so renderers and logs get structure, not just text.
    """

    fmt = "An error occurred."

    def __init__(self, message: str | None = None, **fields: Any) -> None:
        self.fields: dict[str, Any] = fields
        self.message = message if message is not None else self.fmt.format(**fields)
        super().__init__(self.message)


class ClientError(TesseraError):
    fmt = "The request is not valid."


class InvalidArgument(ClientError):
    """``param`` names the parameter; ``reason`` is a sub-code such as ``Length`` or ``Format``."""

    fmt = "The parameter {param} is wrongly formed."

    def __init__(self, param: str, reason: str | None = None, message: str | None = None) -> None:
        super().__init__(message, param=param, reason=reason)
        self.param = param
        self.reason = reason


class MissingArgument(ClientError):
    fmt = "{param} is mandatory for this action."

    def __init__(self, param: str, message: str | None = None) -> None:
        super().__init__(message, param=param)
        self.param = param


class MalformedPolicy(ClientError):
    """A policy document failed validation; ``detail`` points at the place that is wrong."""

    fmt = "{detail}"

    def __init__(self, detail: str) -> None:
        super().__init__(None, detail=detail)
        self.detail = detail


def kind_words(kind: str) -> str:
    """``User.AccessKey`` → ``user access key``: the entity as RAM's messages name it."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", kind.replace(".", " ")).lower()


class NotFound(ClientError):
    """``kind`` is dotted like the wire sub-code: ``User``, ``User.AccessKey``…"""

    fmt = "The {what} does not exist."

    def __init__(self, kind: str, name: str = "", message: str | None = None) -> None:
        super().__init__(message, kind=kind, name=name, what=kind_words(kind))
        self.kind = kind
        self.name = name


class AlreadyExists(ClientError):
    fmt = "The {what} does already EXIST."

    def __init__(self, kind: str, name: str = "", message: str | None = None) -> None:
        super().__init__(message, kind=kind, name=name, what=kind_words(kind))
        self.kind = kind
        self.name = name


class DeleteConflict(ClientError):
    fmt = "The {kind} conflict prevents deletion."

    def __init__(self, kind: str, message: str | None = None) -> None:
        super().__init__(message, kind=kind)
        self.kind = kind


class LimitExceeded(ClientError):
    fmt = "The count of {kind} exceeds the limit."

    def __init__(self, kind: str, message: str | None = None) -> None:
        super().__init__(message, kind=kind)
        self.kind = kind


class AccessDenied(ClientError):
    """Authorization refused. ``explanation`` says which policy kind decided, and how."""

    fmt = "You are not authorized to do this action. You should be authorized by RAM."

    def __init__(
        self,
        action: str = "",
        resource: str = "",
        explanation: str = "",
        message: str | None = None,
    ) -> None:
        super().__init__(message, action=action, resource=resource, explanation=explanation)
        self.action = action
        self.resource = resource
        self.explanation = explanation
        self.detail: dict[str, str] | None = None


class RootCannotAssumeRole(AccessDenied):
    fmt = "Roles may not be assumed by root accounts."


class UnknownAction(ClientError):
    fmt = "Specified api is not found, please check your url and method."

    def __init__(self, action: str) -> None:
        super().__init__(None, action=action)
        self.action = action


class UnsupportedVersion(ClientError):
    fmt = "Specified parameter Version is not valid."

    def __init__(self, version: str) -> None:
        super().__init__(None, version=version)


class RequestTooLarge(ClientError):
    fmt = "The request is larger than {limit} bytes."

    def __init__(self, limit: int) -> None:
        super().__init__(None, limit=limit)


class Throttled(ClientError):
    fmt = "Request was denied due to user flow control."


class AuthenticationError(TesseraError):
    fmt = "The request could not be authenticated."


class IncompleteSignature(AuthenticationError):
    fmt = "The request signature does not conform to Aliyun standards: {detail}"

    def __init__(self, detail: str) -> None:
        super().__init__(None, detail=detail)


class UnsupportedSignatureMethod(AuthenticationError):
    fmt = "Specified signature method {method} is not supported."

    def __init__(self, method: str) -> None:
        super().__init__(None, method=method)


class AccessKeyNotFound(AuthenticationError):
    fmt = "Specified access key is not found."


class AccessKeyInactive(AuthenticationError):
    fmt = "Specified access key is disabled."


class SignatureMismatch(AuthenticationError):
    """Carries the server's string to sign: clients compare it with their own to diagnose."""

    fmt = "Specified signature is not matched with our calculation."

    def __init__(self, string_to_sign: str) -> None:
        super().__init__(None, string_to_sign=string_to_sign)
        self.string_to_sign = string_to_sign


class TimestampInvalid(AuthenticationError):
    fmt = "Specified time stamp or date value is not well formatted: {detail}"

    def __init__(self, detail: str) -> None:
        super().__init__(None, detail=detail)


class RequestExpired(AuthenticationError):
    fmt = "Specified time stamp or date value is expired."


class NonceReused(AuthenticationError):
    fmt = "Specified signature nonce was used already."


class SecurityTokenMissing(AuthenticationError):
    fmt = "SecurityToken is mandatory for this action."


class SecurityTokenInvalid(AuthenticationError):
    fmt = "Specified SecurityToken is invalid."


class SecurityTokenMalformed(SecurityTokenInvalid):
    fmt = "Specified SecurityToken is malformed."


class SecurityTokenExpired(SecurityTokenInvalid):
    fmt = "Specified SecurityToken is expired."


class SecurityTokenMismatch(SecurityTokenInvalid):
    fmt = "Specified SecurityToken mismatch with the AccessKey."


class InternalError(TesseraError):
    fmt = "The request processing has failed due to some unknown error."


class RequestTimeTooSkewed(AuthenticationError):
    """OSS: the request's Date / x-oss-date is more than the allowed skew from the server clock."""

    fmt = "The difference between the request time and the current time is too large."

    def __init__(self, request_time: float, server_time: float, max_skew_seconds: int) -> None:
        super().__init__(
            None,
            request_time=request_time,
            server_time=server_time,
            max_skew_seconds=max_skew_seconds,
        )
        self.request_time = request_time
        self.server_time = server_time
        self.max_skew_seconds = max_skew_seconds


class PresignedUrlExpired(AuthenticationError):
    """OSS: a presigned URL (V1/V2 absolute ``Expires``, V4 ``x-oss-date + x-oss-expires``) is past
    its expiry time."""

    fmt = "Request has expired."

    def __init__(self, expires_at: float, server_time: float) -> None:
        super().__init__(None, expires_at=expires_at, server_time=server_time)
        self.expires_at = expires_at
        self.server_time = server_time


class PresignedExpiresInvalid(AuthenticationError):
    """OSS: a presigned URL's expiry is malformed, negative, or longer than allowed (V4: 7 days),
    or its V4 signing time lies too far in the future."""

    fmt = "Invalid expires or date in the presigned URL: {detail}"

    def __init__(self, detail: str) -> None:
        super().__init__(None, detail=detail)


class SigningRegionMismatch(AuthenticationError):
    """OSS V4: the credential scope names another region than the server's (wire: 400
    InvalidArgument "Invalid signing region in Authorization header.")."""

    fmt = "Invalid signing region in Authorization header."

    def __init__(self, region: str, expected: str) -> None:
        super().__init__(None, region=region, expected=expected)
        self.region = region
        self.expected = expected


class InvalidName(InvalidArgument):
    """A bucket or object name breaks the naming rules; ``kind`` is ``Bucket`` or ``Object``."""

    def __init__(self, kind: str, name: str, message: str | None = None) -> None:
        super().__init__(
            f"{kind}Name", "Format", message or f"The specified {kind.lower()} name is not valid."
        )
        self.kind = kind
        self.name = name
        self.fields.update(kind=kind, name=name)


class UserMetadataTooLarge(InvalidArgument):
    """The ``x-oss-meta-*`` headers of a request (names and values) exceed ``limit`` bytes."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            "x-oss-meta-*",
            "Size",
            "Your metadata headers exceed the maximum allowed metadata size.",
        )
        self.fields.update(size=size, limit=limit)


class MalformedXML(ClientError):
    """A request body is not well-formed XML, uses a DTD or entities, or fails its schema."""

    fmt = (
        "The XML you provided was not well-formed or did not validate against our published schema."
    )

    def __init__(self, detail: str = "") -> None:
        super().__init__(None, detail=detail)
        self.detail = detail


class DigestMismatch(ClientError):
    """A content digest header (``Content-MD5``) is malformed or does not match the body."""

    fmt = "The Content-MD5 you specified was invalid."

    def __init__(self, header: str = "Content-MD5") -> None:
        super().__init__(None, header=header)
        self.header = header


class PreconditionFailed(ClientError):
    """A conditional request header (``If-Match``…) does not hold; ``condition`` names it."""

    fmt = "At least one of the pre-conditions you specified did not hold."

    def __init__(self, condition: str) -> None:
        super().__init__(None, condition=condition)
        self.condition = condition


class NotModified(ClientError):
    """``If-None-Match`` / ``If-Modified-Since`` says the client's copy is current (no body)."""

    fmt = "Not Modified"


class InvalidRange(ClientError):
    fmt = "The requested range cannot be satisfied"

    def __init__(self, range_header: str, size: int) -> None:
        super().__init__(None, range_header=range_header, size=size)
        self.range_header = range_header
        self.size = size


class MethodNotAllowed(ClientError):
    """The method is not defined for the addressed resource (``resource_type``: Bucket, Object…)."""

    fmt = "The specified method is not allowed against this resource."

    def __init__(self, method: str, resource_type: str) -> None:
        super().__init__(None, method=method, resource_type=resource_type)
        self.method = method
        self.resource_type = resource_type


class NotSupported(ClientError):
    """A known feature of the protocol that Tessera does not implement."""

    fmt = "{feature} is not implemented."

    def __init__(self, feature: str) -> None:
        super().__init__(None, feature=feature)
        self.feature = feature


class InvalidPart(ClientError):
    """A part named in a multipart completion is unknown or its ETag does not match."""

    fmt = (
        "One or more of the specified parts could not be found or the specified entity tag might"
        " not have matched the part's entity tag."
    )

    def __init__(self, part_number: int) -> None:
        super().__init__(None, part_number=part_number)
        self.part_number = part_number


class InvalidPartOrder(InvalidPart):
    fmt = "The list of parts was not in ascending order. Parts must be ordered by part number."


class EntityTooSmall(ClientError):
    """A part other than the last is smaller than the multipart minimum."""

    fmt = "Your proposed upload smaller than the minimum allowed object size."

    def __init__(self, part_number: int, size: int, minimum: int) -> None:
        super().__init__(None, part_number=part_number, size=size, minimum=minimum)
        self.part_number = part_number
        self.size = size
        self.minimum = minimum


class NotAppendable(ClientError):
    fmt = "The object is not appendable"


class AppendPositionMismatch(ClientError):
    """An append's ``position`` is not the object's length; ``next_position`` is that length."""

    fmt = "Position is not equal to file length"

    def __init__(self, next_position: int) -> None:
        super().__init__(None, next_position=next_position)
        self.next_position = next_position
