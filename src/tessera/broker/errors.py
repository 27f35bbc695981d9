"""The broker's one error hierarchy.

Owns: every exception the broker raises on purpose, each with a wire ``code`` (the
``ErrorCode`` / ``Code`` an app sees) and a message safe to show to the app user.
Must not: know about HTTP; ``tessera.broker.app`` maps these classes to a status in exactly one
table (``STATUS``, looked up through the class MRO) and renders them in the two response formats.
Messages never carry a secret: not the app server's AccessKey secret, not an API key, not a JWT.

    BrokerError
    ├── Unauthenticated                  no usable credentials presented (401)
    │   └── InvalidCredentials           credentials presented but refused (401)
    ├── Forbidden                        the app user may not use this template (403)
    ├── TemplateNotFound                 no template of that name (404)
    ├── InvalidParameter(name)           a variable value is unsafe or malformed (400)
    │   └── MissingParameter(name)       a variable the template needs is absent (400)
    ├── Throttled(retry_after)           a rate limit is exhausted (429)
    ├── StsError(code, message, …)       STS answered AssumeRole with an error (502)
    │   └── StsUnavailable               STS could not be reached or answered nonsense (502)
    ├── JwksUnavailable                  the identity provider's JWKS could not be fetched (502)
    └── BrokerInternalError              the broker itself failed, e.g. the audit log (500)
"""

from __future__ import annotations

import math


class BrokerError(Exception):
    """Base class: ``code`` is the wire error code, ``message`` is safe for the app user."""

    code = "InternalError"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class Unauthenticated(BrokerError):
    code = "MissingCredentials"


class InvalidCredentials(Unauthenticated):
    code = "InvalidCredentials"


class Forbidden(BrokerError):
    code = "Forbidden.Template"


class TemplateNotFound(BrokerError):
    code = "TemplateNotFound"

    def __init__(self, name: str) -> None:
        super().__init__(f"no policy template named {name!r}")
        self.name = name


class InvalidParameter(BrokerError):
    code = "InvalidParameter"

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


class MissingParameter(InvalidParameter):
    code = "MissingParameter"

    def __init__(self, name: str) -> None:
        super().__init__(name, f"the template needs a value for {name!r}")


class Throttled(BrokerError):
    """``retry_after``: whole seconds (at least 1) until the limit lets a request through."""

    code = "Throttling"

    def __init__(self, message: str, retry_after: float, code: str | None = None) -> None:
        super().__init__(message, code)
        self.retry_after = max(1, math.ceil(retry_after))


class StsError(BrokerError):
    """STS refused AssumeRole; ``code`` is STS's own ``Code`` (e.g. ``NoPermission``)."""

    def __init__(
        self,
        code: str,
        message: str,
        sts_status: int | None = None,
        sts_request_id: str | None = None,
    ) -> None:
        super().__init__(message, code)
        self.sts_status = sts_status
        self.sts_request_id = sts_request_id


class StsUnavailable(StsError):
    def __init__(self, message: str = "the STS endpoint could not be reached") -> None:
        super().__init__("StsUnavailable", message)


class JwksUnavailable(BrokerError):
    code = "JwksUnavailable"


class BrokerInternalError(BrokerError):
    code = "InternalError"
