"""Tessera's one error hierarchy.

Owns: every exception that Tessera's own code raises on purpose, with structured fields.
Must not: know about HTTP, status codes or wire error codes. Each protocol maps these classes
to its wire format in exactly one table (``tessera.rpc.errors``, later ``tessera.oss.errors``),
looked up through the class MRO so a subclass inherits its parent's rendering.

    TesseraError
    ├── ClientError                      the request is wrong; retrying it unchanged fails again
    │   ├── InvalidArgument(param, reason)   a parameter has a bad value (reason: Length, Format…)
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
    │   └── Throttled
    ├── AuthenticationError              the request could not be authenticated
    │   ├── IncompleteSignature(detail)
    │   ├── UnsupportedSignatureMethod(method)
    │   ├── AccessKeyNotFound
    │   ├── AccessKeyInactive
    │   ├── SignatureMismatch(string_to_sign)
    │   ├── TimestampInvalid(detail)
    │   ├── RequestExpired
    │   ├── NonceReused
    │   ├── SecurityTokenMissing
    │   └── SecurityTokenInvalid
    │       ├── SecurityTokenMalformed
    │       ├── SecurityTokenExpired
    │       └── SecurityTokenMismatch
    └── InternalError
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
