"""Deciding an OSS request: identity and session policies, the bucket policy, then ACLs.

Owns: the rule of DESIGN.md "Authorization" for OSS (spec oss.md 7.7, 11) — an explicit Deny in
the bucket policy or the caller's policies wins; the account's root owns its account's buckets;
a RAM user's or role session's own policies count only inside its account; the bucket policy
may allow anyone (an STS session still needs its session policy to allow); otherwise the object
or bucket ACL; otherwise ``AccessDenied`` with an explanation. Each decision is noted in the
access record.
Must not: authenticate or run operations; policy evaluation itself is ``tessera.policy``'s.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from tessera.accesslog import AccessRecord
from tessera.errors import AccessDenied
from tessera.identity.authorize import authorize
from tessera.identity.model import Caller, IdentityType
from tessera.identity.resolve import PolicyResolver
from tessera.policy import (
    AuthzRequest,
    Decision,
    Effect,
    NamedPolicy,
    PrincipalRef,
    evaluate,
    evaluate_resource_policy,
    load_policy,
)
from tessera.store.oss_base import Bucket, OssMetadataStore

from .authz import (
    Acl,
    ObjectRef,
    RequestFacts,
    acl_allows,
    authz_requests,
    condition_context,
    effective_acl,
)
from .exchange import OssRequest, Prefetched

__all__ = ["CopySource", "Gate", "principal_of"]

_LISTING = frozenset({"ListObjects", "ListObjectsV2"})


@functools.lru_cache(maxsize=4096)  # a session's requests share one Caller
def principal_of(caller: Caller | None) -> PrincipalRef:
    if caller is None:
        return PrincipalRef.anonymous()
    if caller.identity_type is IdentityType.RAM_USER:
        return PrincipalRef.ram_user(
            caller.account_id, caller.user_name or "", caller.user_id or ""
        )
    if caller.identity_type is IdentityType.ASSUMED_ROLE:
        return PrincipalRef.assumed_role(
            caller.account_id,
            caller.role_name or "",
            caller.role_id or "",
            caller.session_name or "",
        )
    return PrincipalRef.account(caller.account_id)


@dataclass(frozen=True, slots=True)
class CopySource:
    """The ``x-oss-copy-source`` object of a copy route, in its (loaded) bucket."""

    bucket: Bucket
    key: str


@dataclass(slots=True)  # made per request: a frozen __init__ costs ~3x
class _Scope:
    """Where one question is asked: the bucket whose policy and ACL apply, and the object whose
    ACL counts (``reads``: only reads consult an object's ACL)."""

    bucket: Bucket | None
    key: str | None
    reads: bool
    known: Prefetched | None = None  # the object, when already read with its bucket


@dataclass(slots=True)  # made per request: a frozen __init__ costs ~3x
class _Outcome:
    allowed: bool
    label: str
    explanation: str = ""


class Gate:
    """Authorizes routed, authenticated requests whose bucket (if any) is loaded."""

    def __init__(self, store: OssMetadataStore, policies: PolicyResolver) -> None:
        self._store = store
        self._policies = policies

    def check(
        self,
        req: OssRequest,
        facts: RequestFacts,
        record: AccessRecord,
        *,
        source: CopySource | None = None,
        keys: Sequence[str] = (),
    ) -> None:
        """Raise ``AccessDenied`` unless every question the route asks is allowed: the copy
        source read (decided by the source bucket's policy and ACLs) and, for ``per_key``
        routes, one question per key the body names."""
        owner = self._owner(req)
        target = ObjectRef(owner, req.address.bucket, req.address.key)
        query = req.params if req.route.operation in _LISTING else None
        context = condition_context(facts, query)
        source_ref = (
            ObjectRef(source.bucket.owner_account_id, source.bucket.name, source.key)
            if source is not None
            else None
        )
        requests = authz_requests(
            req.route, principal_of(req.caller), target, context, source=source_ref, keys=keys
        )
        here = _Scope(req.bucket, req.address.key, req.method in ("GET", "HEAD"), req.prefetched)
        for index, request in enumerate(requests):
            scope = here
            if source is not None and index == 0:
                scope = _Scope(source.bucket, source.key, True)
            scope_owner = scope.bucket.owner_account_id if scope.bucket is not None else owner
            outcome = self._decide(req, request, scope_owner, scope)  # pure + cached policies
            record.note_decision(request.action, request.resource, outcome.label)
            if not outcome.allowed:
                raise AccessDenied(request.action, request.resource, outcome.explanation)

    @staticmethod
    def _owner(req: OssRequest) -> str:
        if req.bucket is not None:
            return req.bucket.owner_account_id
        return req.caller.account_id if req.caller is not None else "*"

    def _bucket_policy(
        self, bucket: Bucket | None, request: AuthzRequest, owner: str
    ) -> Decision | None:
        document = bucket.policy if bucket is not None else None
        if not document:
            return None
        named = NamedPolicy("BucketPolicy", "v1", load_policy(document, "resource"), "Bucket")
        return evaluate_resource_policy(named, request, bucket_owner=owner)

    def _session_allows(self, caller: Caller, request: AuthzRequest) -> bool:
        session = self._policies.session_policy(caller)
        return session is None or evaluate([session], request).allowed

    def _decide(
        self, req: OssRequest, request: AuthzRequest, owner: str, scope: _Scope
    ) -> _Outcome:
        bucket = self._bucket_policy(scope.bucket, request, owner)
        if bucket is not None and bucket.effect is Effect.EXPLICIT_DENY:
            return _Outcome(False, "explicit-deny", "Explicitly denied by the bucket policy.")
        caller = req.caller
        explanation = "Access denied: no policy or ACL allows this request."
        if caller is not None:
            verdict = authorize(
                caller,
                request,
                self._policies.identity_policies(caller),
                self._policies.session_policy(caller),
                resource_account=owner,
            )
            if verdict.explicit:
                return _Outcome(False, "explicit-deny", verdict.explanation)
            if verdict.allowed and (caller.is_root or caller.account_id == owner):
                return _Outcome(True, "allow")
            explanation = verdict.explanation
            if bucket is not None and bucket.allowed and self._session_allows(caller, request):
                return _Outcome(True, "allow")
        elif bucket is not None and bucket.allowed:
            return _Outcome(True, "allow")
        if self._acl_allows(scope, request.action):
            return _Outcome(True, "allow")
        return _Outcome(False, "implicit-deny", explanation)

    def _acl_allows(self, scope: _Scope, action: str) -> bool:
        if scope.bucket is None:
            return False
        bucket_acl = Acl(scope.bucket.acl)
        object_acl: Acl | None = None
        if scope.key is not None and scope.reads:
            meta = (
                scope.known.meta
                if scope.known is not None
                else self._store.get_object(scope.bucket.name, scope.key)
            )
            object_acl = Acl(meta.attrs.acl) if meta is not None else None
        return acl_allows(effective_acl(bucket_acl, object_acl), action)
