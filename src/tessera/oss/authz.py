"""What an OSS request asks the authorizer, and what ACLs allow (spec oss.md 7.7, 11).

Owns: the resource ARNs (``acs:oss:*:<bucket-owner>:<bucket>[/<key>]``, and
``acs:oss:*:<account>:*`` for ListBuckets), the condition context an OSS request carries
(``oss:Prefix``, ``oss:Delimiter``, ``acs:SourceIp``, ``acs:SecureTransport``,
``acs:CurrentTime``, ``acs:UserAgent``, ``acs:Referer``, ``acs:AccessId``), the
:class:`~tessera.policy.AuthzRequest` list a route needs (CopyObject / UploadPartCopy: the source
read and the destination write; DeleteMultipleObjects: one per key), and the canned-ACL rules for
requests no policy allowed.
Must not: evaluate policies (``tessera.policy`` does), read a clock (``now`` is passed in) or
touch a store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final
from urllib.parse import unquote

from tessera.clock import iso8601
from tessera.errors import InvalidArgument
from tessera.policy import AuthzRequest, ContextKey, PrincipalRef

from .routing import Route

__all__ = [
    "ACL_READ_ACTIONS",
    "ACL_WRITE_ACTIONS",
    "Acl",
    "ObjectRef",
    "RequestFacts",
    "acl_allows",
    "authz_requests",
    "condition_context",
    "effective_acl",
    "parse_acl",
    "parse_copy_source",
    "resource_arn",
]


class Acl(StrEnum):
    PRIVATE = "private"
    PUBLIC_READ = "public-read"
    PUBLIC_READ_WRITE = "public-read-write"
    DEFAULT = "default"  # objects only: inherit the bucket's


#: What ``public-read`` grants to anyone (anonymous included). Listing is included: real OSS
#: serves ListObjects anonymously on public-read buckets (spec 7.7 lists it as UNCONFIRMED).
ACL_READ_ACTIONS: Final = frozenset({"oss:GetObject", "oss:ListObjects"})
#: What ``public-read-write`` grants on top: object writes, never bucket administration.
ACL_WRITE_ACTIONS: Final = frozenset(
    {
        "oss:PutObject",
        "oss:DeleteObject",
        "oss:AbortMultipartUpload",
        "oss:ListParts",
        "oss:ListMultipartUploads",
    }
)


def parse_acl(text: str, *, for_object: bool = False, header: str = "x-oss-acl") -> Acl:
    """An ``x-oss-acl`` / ``x-oss-object-acl`` value; ``default`` only for objects."""
    try:
        acl = Acl(text.strip())
    except ValueError:
        raise InvalidArgument(header, message="no such bucket access control exists") from None
    if acl is Acl.DEFAULT and not for_object:
        raise InvalidArgument(header, message="no such bucket access control exists")
    return acl


def parse_copy_source(header: str) -> tuple[str, str]:
    """``x-oss-copy-source: /<bucket>/<urlencoded key>[?versionId=…]`` → (bucket, key) (spec 7.5).

    The key is percent-decoded (never ``+`` → space); a missing bucket or key is
    ``InvalidArgument``."""
    path = header.strip().partition("?")[0]
    bucket, _, quoted_key = path.removeprefix("/").partition("/")
    try:
        key = unquote(quoted_key, errors="strict")
    except UnicodeError:
        key = ""
    if not bucket or not key:
        raise InvalidArgument(
            "x-oss-copy-source", message="Copy Source must mention the source bucket and key."
        )
    return bucket, key


def effective_acl(bucket_acl: Acl, object_acl: Acl | None = None) -> Acl:
    """The ACL that governs an object: its own unless absent or ``default``."""
    return bucket_acl if object_acl in (None, Acl.DEFAULT) else object_acl


def acl_allows(acl: Acl, action: str) -> bool:
    """Whether a canned ACL grants ``action`` to any caller, anonymous included. The bucket
    owner's account is governed by policies, not by this function."""
    if acl is Acl.PUBLIC_READ_WRITE:
        return action in ACL_READ_ACTIONS or action in ACL_WRITE_ACTIONS
    if acl is Acl.PUBLIC_READ:
        return action in ACL_READ_ACTIONS
    return False


def resource_arn(owner: str, bucket: str | None = None, key: str | None = None) -> str:
    """``acs:oss:*:<owner>:<bucket>[/<key>]``; without a bucket ``acs:oss:*:<owner>:*``."""
    if bucket is None:
        return f"acs:oss:*:{owner}:*"
    return f"acs:oss:*:{owner}:{bucket}" + ("" if key is None else f"/{key}")


@dataclass(slots=True)  # made per request: a frozen __init__ costs ~3x
class RequestFacts:
    """The request-wide facts condition keys are drawn from; ``now`` is epoch seconds."""

    source_ip: str
    secure_transport: bool
    now: float
    user_agent: str | None = None
    referer: str | None = None
    access_key_id: str | None = None


@dataclass(slots=True)  # made per request: a frozen __init__ costs ~3x
class ObjectRef:
    """A bucket (``key`` None) or object and the account owning the bucket."""

    owner: str
    bucket: str | None
    key: str | None = None

    @property
    def arn(self) -> str:
        return resource_arn(self.owner, self.bucket, self.key)


_LIST_KEYS: Final = (("prefix", ContextKey.OSS_PREFIX), ("delimiter", ContextKey.OSS_DELIMITER))


def condition_context(
    facts: RequestFacts, query: Mapping[str, str] | None = None
) -> dict[str, tuple[str, ...]]:
    """The condition keys of one request. ``oss:Prefix`` / ``oss:Delimiter`` come from the
    listing query (present, possibly empty, when sent; absent otherwise)."""
    context: dict[str, tuple[str, ...]] = {
        ContextKey.SOURCE_IP: (facts.source_ip,),
        ContextKey.SECURE_TRANSPORT: ("true" if facts.secure_transport else "false",),
        ContextKey.CURRENT_TIME: (iso8601(facts.now),),
    }
    optional = (
        (ContextKey.USER_AGENT, facts.user_agent),
        (ContextKey.REFERER, facts.referer),
        (ContextKey.ACCESS_ID, facts.access_key_id),
    )
    context.update({name: (value,) for name, value in optional if value is not None})
    for param, name in _LIST_KEYS:
        if query is not None and param in query:
            context[name] = (query[param],)
    return context


def authz_requests(
    route: Route,
    principal: PrincipalRef | None,
    target: ObjectRef,
    context: Mapping[str, tuple[str, ...]],
    *,
    source: ObjectRef | None = None,
    keys: Sequence[str] = (),
) -> tuple[AuthzRequest, ...]:
    """Every question the route asks; all must be allowed. ``keys`` are the objects named in
    the body for ``per_key`` routes; ``source`` is the copy source for copy routes."""
    if route.action is None:
        return ()
    requests: list[AuthzRequest] = []
    if route.source_action is not None:
        if source is None:
            raise ValueError(f"{route.operation} needs its copy source")
        requests.append(AuthzRequest(principal, route.source_action, source.arn, context))
    targets = (
        [ObjectRef(target.owner, target.bucket, key) for key in keys] if route.per_key else [target]
    )
    requests += [AuthzRequest(principal, route.action, ref.arn, context) for ref in targets]
    return tuple(requests)
