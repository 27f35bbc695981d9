"""What one token request goes through, in order, without HTTP.

Owns: the order of the checks — authenticate the app user (401 before anything else is
revealed, not even whether a template exists) → per-user and overall rate limits (429) →
template lookup (404) and the user's right to it (403) → the variable values (400) →
the cache (a fresh token is served as is) → on a miss: render the session policy, the
AssumeRole rate limit, AssumeRole, the audit record — and only then the token.
Must not: parse HTTP or render responses (``tessera.broker.app``), or talk to STS except
through the ``Sts`` interface it is given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from tessera.broker.audit import AuditLog, AuditRecord
from tessera.broker.auth import AppUser, Authenticator, Presented
from tessera.broker.cache import IssuedCredentials, TokenCache
from tessera.broker.config import BrokerSettings, Template
from tessera.broker.errors import Forbidden, TemplateNotFound, Throttled
from tessera.broker.ratelimit import RateLimiter
from tessera.broker.sts_client import AssumeRoleCall, Sts
from tessera.broker.templates import CLAIM_PREFIX, USER_ID, role_session_name
from tessera.clock import Clock


@dataclass(frozen=True, slots=True)
class TokenRequest:
    template: str
    presented: Presented
    params: Mapping[str, str] = field(default_factory=dict)
    source_ip: str = ""
    request_id: str = ""


class Broker:
    def __init__(
        self,
        settings: BrokerSettings,
        *,
        authenticator: Authenticator,
        sts: Sts,
        clock: Clock,
        audit: AuditLog,
    ) -> None:
        self.settings = settings
        self.authenticator = authenticator
        self.sts = sts
        self.clock = clock
        self.audit = audit
        limits = settings.rate_limit
        self.cache = TokenCache(clock, settings.renew_before_seconds, settings.cache_max_entries)
        self.per_user = RateLimiter(clock, limits.per_user_per_second, limits.per_user_burst)
        self.overall = RateLimiter(clock, limits.overall_per_second, limits.overall_burst)
        self.assume_role_limit = RateLimiter(
            clock, limits.assume_role_per_second, limits.assume_role_burst
        )
        self.assume_role_calls = 0

    async def credentials(self, request: TokenRequest) -> tuple[IssuedCredentials, bool]:
        """``(credentials, served_without_a_new_AssumeRole)`` or a ``BrokerError``."""
        user = await self.authenticator.authenticate(request.presented)
        wait = self.per_user.take(user.user_id)
        if wait:
            raise Throttled("too many token requests for this app user", wait, "Throttling.User")
        wait = self.overall.take()
        if wait:
            raise Throttled("the broker is busy", wait, "Throttling")
        template = self.settings.templates.get(request.template)
        if template is None:
            raise TemplateNotFound(request.template)
        if not user.may_use(template.name):
            raise Forbidden(f"this app user may not use the template {template.name!r}")
        values = self._values(template, user, request.params)
        if not template.cache:
            return await self._assume_role(template, user, values, request), False
        key = (template.name, tuple(sorted(values.items())))
        return await self.cache.get(key, lambda: self._assume_role(template, user, values, request))

    def _values(
        self, template: Template, user: AppUser, params: Mapping[str, str]
    ) -> dict[str, str]:
        """Every value the template may be filled with (checked when it is rendered); they
        all go into the cache key, so one user's devices or buckets never share a token."""
        values = {USER_ID: user.user_id}
        values.update(template.variables)
        for name in template.request_variables:
            if name in params:
                values[name] = params[name]
        placeholders = template.policy.placeholders if template.policy else frozenset()
        for name in placeholders:
            if name.startswith(CLAIM_PREFIX):
                claim = user.claims.get(name.removeprefix(CLAIM_PREFIX))
                if claim is not None:
                    values[name] = claim
        return values

    async def _assume_role(
        self, template: Template, user: AppUser, values: dict[str, str], request: TokenRequest
    ) -> IssuedCredentials:
        policy = template.policy.render(values) if template.policy else None
        wait = self.assume_role_limit.take()
        if wait:
            raise Throttled("the broker's AssumeRole budget is spent", wait, "Throttling.Sts")
        session_name = role_session_name(user.user_id, self.settings.session_name_prefix)
        self.assume_role_calls += 1
        issued = await self.sts.assume_role(
            AssumeRoleCall(template.role_arn, session_name, template.duration_seconds, policy)
        )
        self.audit.record(
            AuditRecord(
                user_id=user.user_id,
                auth_method=user.method,
                template=template.name,
                role_arn=template.role_arn,
                role_session_name=session_name,
                access_key_id=issued.access_key_id,
                expiration=issued.expiration,
                sts_request_id=issued.sts_request_id,
                source_ip=request.source_ip,
                request_id=request.request_id,
                variables={k: v for k, v in values.items() if k != USER_ID},
            )
        )
        return issued
