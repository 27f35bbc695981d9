"""The broker's one way to STS: AssumeRole through the official ``alibabacloud-sts20150401``.

Owns: building the tea client from ``StsSettings`` (endpoint, protocol, region, CA file,
timeouts, the app server's AccessKey), calling AssumeRole in a worker thread (the tea
client is synchronous; ``assume_role_async`` would pull in aiohttp for one call), and
translating every failure into ``StsError`` (STS answered with an error: its ``Code``,
``Message`` and ``RequestId`` are kept) or ``StsUnavailable`` (no usable answer).
Must not: retry on its own (a refused AssumeRole would be refused again; the app retries),
log or surface the AccessKey secret, or know about app users.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

import anyio.to_thread

from tessera.broker.cache import IssuedCredentials
from tessera.broker.config import StsSettings
from tessera.broker.errors import StsError, StsUnavailable
from tessera.clock import parse_iso8601

log = logging.getLogger("tessera.broker")

MAX_MESSAGE = 300


@dataclass(frozen=True, slots=True)
class AssumeRoleCall:
    role_arn: str
    role_session_name: str
    duration_seconds: int
    policy: str | None = None


class Sts(Protocol):
    async def assume_role(self, call: AssumeRoleCall) -> IssuedCredentials: ...


class AlibabaSts:
    """AssumeRole with the official tea client against Tessera or Alibaba Cloud STS."""

    def __init__(self, settings: StsSettings) -> None:
        from alibabacloud_sts20150401.client import Client  # type: ignore[import-untyped]
        from alibabacloud_tea_openapi.models import Config  # type: ignore[import-untyped]
        from alibabacloud_tea_util.models import RuntimeOptions  # type: ignore[import-untyped]

        self.settings = settings
        self._secret = settings.access_key_secret.reveal()
        config = Config(
            access_key_id=settings.access_key_id,
            access_key_secret=self._secret,
            endpoint=settings.endpoint,
            protocol=settings.protocol,
            region_id=settings.region_id,
            connect_timeout=int(settings.connect_timeout_seconds * 1000),
            read_timeout=int(settings.read_timeout_seconds * 1000),
        )
        if settings.ca_file is not None:
            config.ca = str(settings.ca_file)
        self._client = Client(config)
        self._runtime = RuntimeOptions(
            autoretry=False,
            connect_timeout=int(settings.connect_timeout_seconds * 1000),
            read_timeout=int(settings.read_timeout_seconds * 1000),
            ca=str(settings.ca_file) if settings.ca_file is not None else None,
        )

    async def assume_role(self, call: AssumeRoleCall) -> IssuedCredentials:
        return await anyio.to_thread.run_sync(self._assume_role, call)

    def _assume_role(self, call: AssumeRoleCall) -> IssuedCredentials:
        from alibabacloud_sts20150401 import models  # type: ignore[import-untyped]

        request = models.AssumeRoleRequest(
            role_arn=call.role_arn,
            role_session_name=call.role_session_name,
            duration_seconds=call.duration_seconds,
            policy=call.policy,
        )
        try:
            response = self._client.assume_role_with_options(request, self._runtime)
        except Exception as exc:
            raise self._translate(exc) from None
        return _credentials(response.body, call.role_session_name)

    def _translate(self, exc: Exception) -> StsError:
        data: Any = getattr(exc, "data", None)
        code = getattr(exc, "code", None)
        if isinstance(data, dict) and code and data.get("Code"):
            message = self._scrub(str(data.get("Message") or ""))
            status = getattr(exc, "status_code", None) or data.get("statusCode")
            request_id = data.get("RequestId")
            log.warning("STS refused AssumeRole: %s %s (RequestId %s)", status, code, request_id)
            return StsError(
                str(code),
                message or f"STS refused AssumeRole with {code}",
                int(status) if isinstance(status, int) else None,
                str(request_id) if request_id else None,
            )
        log.warning("STS AssumeRole failed: %s", type(exc).__name__)
        return StsUnavailable(f"the STS endpoint {self.settings.url} could not be reached")

    def _scrub(self, text: str) -> str:
        if self._secret and self._secret in text:
            text = text.replace(self._secret, "***")
        return text[:MAX_MESSAGE]


def _credentials(body: Any, session_name: str) -> IssuedCredentials:
    creds = getattr(body, "credentials", None)
    fields: list[str] = []
    for name in ("access_key_id", "access_key_secret", "security_token", "expiration"):
        value = getattr(creds, name, None)
        if not isinstance(value, str) or not value:
            raise StsUnavailable("STS answered AssumeRole without usable credentials")
        fields.append(value)
    key_id, secret, token, expiration = fields
    try:
        expires_at = parse_iso8601(expiration)
    except ValueError:
        raise StsUnavailable("STS answered AssumeRole with an unreadable Expiration") from None
    return IssuedCredentials(
        access_key_id=key_id,
        access_key_secret=secret,
        security_token=token,
        expiration=expiration,
        expires_at=expires_at,
        role_session_name=session_name,
        sts_request_id=str(getattr(body, "request_id", "") or ""),
    )
