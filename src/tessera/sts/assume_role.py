"""AssumeRole: parameter rules, the two authorization checks, and minting credentials.

Owns: the constraints of spec §1.2 (RoleArn, RoleSessionName, Policy, DurationSeconds,
ExternalId), refusing the root account, check A (the caller's policies allow
``sts:AssumeRole`` on the role) and check B (the role's trust policy names the caller), role
chaining (a new token never outlives the caller's), and the response shape of spec §1.2.
Must not: know about HTTP or signatures; the caller arrives authenticated.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tessera.clock import iso8601
from tessera.errors import (
    AccessDenied,
    InvalidArgument,
    MalformedPolicy,
    NotFound,
    RootCannotAssumeRole,
)
from tessera.identity.authorize import Verdict, authorize
from tessera.identity.model import Caller, IdentityType
from tessera.identity.resolve import PolicyResolver
from tessera.ids import IdSource, sts_access_key_id
from tessera.policy import (
    AuthzRequest,
    Effect,
    NamedPolicy,
    PrincipalRef,
    evaluate_trust,
    load_policy,
    parse_policy,
)
from tessera.store.base import IdentityStore
from tessera.sts.tokens import SessionClaims, TokenService

ROLE_ARN = re.compile(r"acs:ram::(\d{1,32}):role/([A-Za-z0-9.\-]{1,64})")
SESSION_NAME = re.compile(r"[\w.@\-]{2,64}", re.ASCII)  # each checked with fullmatch
EXTERNAL_ID = re.compile(r"[\w+=,.@:/\-]{2,1224}", re.ASCII)
MIN_DURATION = 900
DEFAULT_DURATION = 3600
MAX_SESSION_POLICY = 2048

_MESSAGES = {
    "RoleArn": "The parameter RoleArn is wrongly formed.",
    "RoleSessionName": "The parameter RoleSessionName is wrongly formed.",
    "ExternalId": "The parameter ExternalId is wrongly formed.",
    "DurationSeconds": "The Min/Max value of DurationSeconds is 15min/1hr.",
    "PolicySize": "The size of Policy must be smaller than 2048 bytes.",
}


@dataclass(frozen=True, slots=True)
class AssumeRoleInput:
    role_arn: str
    role_session_name: str
    policy: str | None = None
    duration_seconds: str | None = None
    external_id: str | None = None
    source_identity: str | None = None


def _bad(param: str) -> InvalidArgument:
    return InvalidArgument(param, None, _MESSAGES[param])


def _check_format(request: AssumeRoleInput) -> tuple[str, str]:
    match = ROLE_ARN.fullmatch(request.role_arn)
    if match is None:
        raise _bad("RoleArn")
    if not SESSION_NAME.fullmatch(request.role_session_name):
        raise _bad("RoleSessionName")
    if request.external_id is not None and not EXTERNAL_ID.fullmatch(request.external_id):
        raise _bad("ExternalId")
    if request.policy is not None:
        if len(request.policy) > MAX_SESSION_POLICY:
            raise _bad("PolicySize")
        try:
            _check_session_policy(request.policy)
        except MalformedPolicy as exc:
            raise InvalidArgument(
                "PolicyGrammar",
                None,
                f"The parameter Policy has not passed grammar check. {exc.detail}",
            ) from None
    return match.group(1), match.group(2)


@functools.lru_cache(maxsize=1024)
def _check_session_policy(text: str) -> None:
    """Strict grammar check; the same text always gets the same answer, so it is cached."""
    parse_policy(text, strict=True, kind="session")


@functools.lru_cache(maxsize=4096)
def _trust_policy(text: str) -> NamedPolicy:
    return NamedPolicy("TrustPolicy", "v1", load_policy(text, "trust"), "Trust")


def _duration(text: str | None, role_max: int) -> int:
    if text is None or text == "":
        value = DEFAULT_DURATION
    else:
        try:
            value = int(text)
        except ValueError:
            raise _bad("DurationSeconds") from None
    if value < MIN_DURATION or value > role_max:
        # spec §1.2 documents the message for the default one-hour maximum word for word
        message = (
            _MESSAGES["DurationSeconds"]
            if role_max == DEFAULT_DURATION
            else f"The Min/Max value of DurationSeconds is 15min/{role_max // 60}min."
        )
        raise InvalidArgument("DurationSeconds", None, message)
    return value


class AssumeRoleService:
    """Issues temporary credentials for a role to an authenticated, authorized caller."""

    def __init__(
        self,
        store: IdentityStore,
        policies: PolicyResolver,
        tokens: TokenService,
        ids: IdSource,
    ) -> None:
        self._store = store
        self._policies = policies
        self._tokens = tokens
        self._ids = ids

    def assume_role(
        self,
        caller: Caller,
        request: AssumeRoleInput,
        now: float,
        context: Mapping[str, tuple[str, ...]],
        on_verdict: Callable[[str, str, str], None] | None = None,
    ) -> dict[str, Any]:
        role_account, role_name = _check_format(request)
        if caller.is_root:
            raise RootCannotAssumeRole(action="sts:AssumeRole", resource=request.role_arn)
        role = self._policies.role(role_account, role_name)
        if role is None:
            raise NotFound("Role", role_name, "The specified Role not exists .")
        duration = _duration(request.duration_seconds, role.max_session_duration)
        resource = f"acs:ram:*:{role_account}:role/{role.role_name}"
        full_context = dict(context)
        if request.external_id is not None:
            full_context["sts:ExternalId"] = (request.external_id,)
        self._authorize(caller, resource, role.trust_policy, full_context, on_verdict)
        expires_at = int(now) + duration
        if caller.identity_type is IdentityType.ASSUMED_ROLE and caller.expires_at is not None:
            expires_at = min(expires_at, int(caller.expires_at))
        return self._issue(caller, role, request, now, expires_at)

    def _authorize(
        self,
        caller: Caller,
        resource: str,
        trust_policy: str,
        context: Mapping[str, tuple[str, ...]],
        on_verdict: Callable[[str, str, str], None] | None,
    ) -> None:
        principal = PrincipalRef(
            account_id=caller.account_id,
            arns=caller.trust_arns,
            kind=caller.identity_type.value,
            principal_id=caller.principal_id,
        )
        request = AuthzRequest(principal, "sts:AssumeRole", resource, context)
        verdict = authorize(
            caller,
            request,
            self._policies.identity_policies(caller),
            self._policies.session_policy(caller),
        )
        if verdict.allowed:
            verdict = self._trust(request, trust_policy)
        if on_verdict is not None:
            on_verdict("sts:AssumeRole", resource, verdict.decision_label)
        if not verdict.allowed:
            denied = AccessDenied("sts:AssumeRole", resource, verdict.explanation)
            denied.detail = verdict.detail(caller, "sts:AssumeRole")
            raise denied

    @staticmethod
    def _trust(request: AuthzRequest, trust_policy: str) -> Verdict:
        decision = evaluate_trust(_trust_policy(trust_policy), request)
        if decision.effect is Effect.ALLOW:
            return Verdict(True, "TrustPolicy", False, decision.matched, "Trusted by the role.")
        explicit = decision.effect is Effect.EXPLICIT_DENY
        text = (
            "Explicitly denied by the role's trust policy."
            if explicit
            else "Implicitly denied: the role's trust policy does not name the caller."
        )
        return Verdict(False, "TrustPolicy", explicit, decision.matched, text)

    def _issue(
        self, caller: Caller, role: Any, request: AssumeRoleInput, now: float, expires_at: int
    ) -> dict[str, Any]:
        claims = SessionClaims(
            account_id=role.account_id,
            role_id=role.role_id,
            role_name=role.role_name,
            session_name=request.role_session_name,
            issued_at=int(now),
            expires_at=expires_at,
            session_policy=request.policy,
            caller_arn=caller.arn,
            caller_principal_id=caller.principal_id,
            access_key_id=sts_access_key_id(self._ids),
            source_identity=request.source_identity,
        )
        issued = self._tokens.mint(claims)
        body: dict[str, Any] = {
            "AssumedRoleUser": {
                "AssumedRoleId": f"{role.role_id}:{request.role_session_name}",
                "Arn": (
                    f"acs:ram::{role.account_id}:role/{role.role_name}/{request.role_session_name}"
                ),
            },
            "Credentials": {
                "SecurityToken": issued.security_token,
                "Expiration": iso8601(expires_at),
                "AccessKeySecret": issued.access_key_secret,
                "AccessKeyId": issued.access_key_id,
            },
        }
        if request.source_identity:
            body["SourceIdentity"] = request.source_identity
        return body
