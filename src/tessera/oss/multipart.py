"""Multipart upload: Initiate, UploadPart(Copy), Complete, Abort, ListParts, ListMultipartUploads.

Owns: these operations' request parsing, store/blob calls and responses; registered in
``MULTIPART_OPERATIONS`` and looked up by ``oss.app`` through the route's operation name.
Must not: authenticate or authorize (``oss.app`` has done both before an operation runs).
"""

from __future__ import annotations

from .bucket_ops import Operation

__all__ = ["MULTIPART_OPERATIONS"]

MULTIPART_OPERATIONS: dict[str, Operation] = {}
