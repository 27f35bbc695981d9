"""The OSS-compatible REST API.

The pure protocol pieces live here: :mod:`.addressing` (Host + path → bucket, key),
:mod:`.routing` (``ROUTES``), :mod:`.authz` (AuthzRequests, ACL rules), :mod:`.names` (naming
rules), :mod:`.xml` (safe request parsing, response documents) and :mod:`.errors` (the OSS wire
table). None of them does I/O or reads a clock.
"""

from __future__ import annotations

from .addressing import Address, resolve
from .authz import Acl, ObjectRef, RequestFacts, acl_allows, authz_requests, condition_context
from .errors import OssError, error_header, error_xml, to_oss
from .names import check_bucket_name, check_object_key
from .routing import ROUTES, Route, route

__all__ = [
    "ROUTES",
    "Acl",
    "Address",
    "ObjectRef",
    "OssError",
    "RequestFacts",
    "Route",
    "acl_allows",
    "authz_requests",
    "check_bucket_name",
    "check_object_key",
    "condition_context",
    "error_header",
    "error_xml",
    "resolve",
    "route",
    "to_oss",
]
