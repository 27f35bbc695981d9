"""Further object operations: CopyObject, AppendObject, DeleteMultipleObjects, ACLs, policy.

Owns: these operations' request parsing, store/blob calls and responses; registered in
``EXTRA_OPERATIONS`` and looked up by ``oss.app`` through the route's operation name.
Must not: authenticate or authorize (``oss.app`` has done both before an operation runs).
"""

from __future__ import annotations

from .bucket_ops import Operation

__all__ = ["EXTRA_OPERATIONS"]

EXTRA_OPERATIONS: dict[str, Operation] = {}
