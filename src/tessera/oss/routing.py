"""The OSS operation table: ``(method, target, subresource)`` → operation and ``oss:`` actions.

Owns: ``ROUTES`` (spec oss.md 7-11), which query parameters select an operation
(``ROUTING_SUBRESOURCES``, in precedence order) and which OSS features Tessera knows but does not
implement (``UNSUPPORTED_SUBRESOURCES`` → 501 NotImplemented). A PUT on an object with an
``x-oss-copy-source`` header is a copy, so that header acts as the pseudo-subresource
``COPY_SOURCE`` (CopyObject, and ``uploadId&x-oss-copy-source`` for UploadPartCopy). A method that
no route defines for the target raises ``MethodNotAllowed``.
Must not: look at bodies, authenticate, or run operations; handlers are bound elsewhere by
operation name.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Final

from tessera.errors import MethodNotAllowed, NotSupported

from .addressing import Target

__all__ = [
    "COPY_SOURCE",
    "ROUTES",
    "ROUTING_SUBRESOURCES",
    "UNSUPPORTED_SUBRESOURCES",
    "Route",
    "RouteKey",
    "route",
    "subresource_of",
]

COPY_SOURCE: Final = "x-oss-copy-source"


@dataclass(frozen=True, slots=True)
class Route:
    """``action`` is checked on the addressed resource (None: no authorization, e.g. the CORS
    preflight); ``source_action`` on the ``x-oss-copy-source`` object; ``per_key`` means the
    action is checked on each object the body names (DeleteMultipleObjects, PostObject's key)."""

    operation: str
    action: str | None
    source_action: str | None = None
    per_key: bool = False


RouteKey = tuple[str, Target, str | None]


def _r(
    operation: str,
    action: str | None = None,
    *,
    source_action: str | None = None,
    per_key: bool = False,
) -> Route:
    """A route whose action defaults to ``oss:<operation>``."""
    return Route(operation, action or f"oss:{operation}", source_action, per_key)


ROUTES: Final[Mapping[RouteKey, Route]] = {
    # service
    ("GET", "service", None): _r("ListBuckets"),
    # bucket
    ("PUT", "bucket", None): _r("PutBucket"),
    ("DELETE", "bucket", None): _r("DeleteBucket"),
    ("GET", "bucket", None): _r("ListObjects"),
    ("GET", "bucket", "list-type"): _r("ListObjectsV2", "oss:ListObjects"),
    ("GET", "bucket", "bucketInfo"): _r("GetBucketInfo"),
    ("GET", "bucket", "location"): _r("GetBucketLocation"),
    ("GET", "bucket", "stat"): _r("GetBucketStat"),
    ("PUT", "bucket", "acl"): _r("PutBucketAcl"),
    ("GET", "bucket", "acl"): _r("GetBucketAcl"),
    ("PUT", "bucket", "policy"): _r("PutBucketPolicy"),
    ("GET", "bucket", "policy"): _r("GetBucketPolicy"),
    ("DELETE", "bucket", "policy"): _r("DeleteBucketPolicy"),
    ("PUT", "bucket", "cors"): _r("PutBucketCors"),
    ("GET", "bucket", "cors"): _r("GetBucketCors"),
    ("DELETE", "bucket", "cors"): _r("DeleteBucketCors"),
    ("GET", "bucket", "uploads"): _r("ListMultipartUploads"),
    ("GET", "bucket", "live"): _r("ListLiveChannel"),
    ("POST", "bucket", "delete"): _r("DeleteMultipleObjects", "oss:DeleteObject", per_key=True),
    ("POST", "bucket", None): _r("PostObject", "oss:PutObject", per_key=True),
    ("OPTIONS", "bucket", None): Route("PreflightRequest", None),
    # object
    ("PUT", "object", None): _r("PutObject"),
    ("PUT", "object", COPY_SOURCE): _r(
        "CopyObject", "oss:PutObject", source_action="oss:GetObject"
    ),
    ("GET", "object", None): _r("GetObject"),
    ("HEAD", "object", None): _r("HeadObject", "oss:GetObject"),
    ("HEAD", "object", "objectMeta"): _r("GetObjectMeta", "oss:GetObject"),
    ("DELETE", "object", None): _r("DeleteObject"),
    ("POST", "object", "append"): _r("AppendObject", "oss:PutObject"),
    ("PUT", "object", "acl"): _r("PutObjectACL", "oss:PutObjectAcl"),
    ("GET", "object", "acl"): _r("GetObjectACL", "oss:GetObjectAcl"),
    ("POST", "object", "uploads"): _r("InitiateMultipartUpload", "oss:PutObject"),
    ("PUT", "object", "uploadId"): _r("UploadPart", "oss:PutObject"),
    ("PUT", "object", f"uploadId&{COPY_SOURCE}"): _r(
        "UploadPartCopy", "oss:PutObject", source_action="oss:GetObject"
    ),
    ("POST", "object", "uploadId"): _r("CompleteMultipartUpload", "oss:PutObject"),
    ("DELETE", "object", "uploadId"): _r("AbortMultipartUpload"),
    ("GET", "object", "uploadId"): _r("ListParts"),
    ("OPTIONS", "object", None): Route("PreflightRequest", None),
}

#: Query parameters that select an operation, highest precedence first.
ROUTING_SUBRESOURCES: Final = (
    "uploadId",
    "uploads",
    "append",
    "list-type",
    "delete",
    "acl",
    "objectMeta",
    "bucketInfo",
    "location",
    "stat",
    "policy",
    "cors",
    "live",
)

#: OSS features selected by a query parameter that Tessera does not implement.
UNSUPPORTED_SUBRESOURCES: Final = frozenset(
    {
        "lifecycle",
        "logging",
        "website",
        "referer",
        "tagging",
        "symlink",
        "restore",
        "versioning",
        "versions",
        "encryption",
        "replication",
        "inventory",
        "worm",
        "qos",
        "requestPayment",
        "transferAcceleration",
        "cname",
        "select",
        "x-oss-process",
        "policyStatus",
        "accessPoint",
    }
)

_ROUTED_SUBRESOURCES: Final = frozenset(ROUTING_SUBRESOURCES)


def subresource_of(query: Collection[str]) -> str | None:
    """The routing subresource among the query parameter names (``?acl`` and ``?acl=`` alike)."""
    for name in ROUTING_SUBRESOURCES:
        if name in query:
            return name
    unsupported = sorted(UNSUPPORTED_SUBRESOURCES.intersection(query))
    if unsupported:
        raise NotSupported(unsupported[0])
    return None


def _with_copy(subresource: str | None) -> str:
    return COPY_SOURCE if subresource is None else f"{subresource}&{COPY_SOURCE}"


def route(
    method: str, target: Target, query: Collection[str], *, copy_source: bool = False
) -> Route:
    """The route for a request; ``copy_source`` says whether ``x-oss-copy-source`` was sent.
    Raises ``NotSupported`` (501) or ``MethodNotAllowed`` (405)."""
    method = method.upper()
    subresource = subresource_of(query)
    if copy_source and method == "PUT" and target == "object":
        subresource = _with_copy(subresource)
    found = ROUTES.get((method, target, subresource))
    if found is None:
        raise MethodNotAllowed(method, target.capitalize())
    return found
