"""Bucket and object naming rules (spec oss.md 7.8).

Owns: deciding whether a bucket name or an object key is acceptable, raising
:class:`tessera.errors.InvalidName` with OSS's own messages otherwise.
Must not: look anything up (existence is the store's business) or decode percent-escapes (the
addressing layer hands over decoded text).
"""

from __future__ import annotations

import re
from typing import Final

from tessera.errors import InvalidName

__all__ = ["MAX_KEY_BYTES", "check_bucket_name", "check_object_key", "is_valid_bucket_name"]

#: 1-1023 bytes of UTF-8 (spec 7.8; OSS: "must be less than 1024").
MAX_KEY_BYTES: Final = 1023

# 3-63 characters, lowercase letters, digits and '-', starting and ending with a letter or digit.
# This also keeps '-' (Tessera's own /-/ prefix) from ever being a bucket.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")

_BUCKET_MESSAGE: Final = "The specified bucket is not valid."


def is_valid_bucket_name(name: str) -> bool:
    return _BUCKET.fullmatch(name) is not None


def check_bucket_name(name: str) -> str:
    """Return ``name`` or raise ``InvalidName("Bucket")`` (400 InvalidBucketName)."""
    if not is_valid_bucket_name(name):
        raise InvalidName("Bucket", name, _BUCKET_MESSAGE)
    return name


def _key_problem(key: str) -> str | None:
    if not key:
        return "The Object name can not be empty"
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:  # lone surrogates cannot come from valid UTF-8
        return "The specified object is not valid."
    if size > MAX_KEY_BYTES:
        return "The Length of Object name must be less than 1024"
    if key[0] in "/\\":
        return "The specified object is not valid."
    return None


def check_object_key(key: str) -> str:
    """Return ``key`` or raise ``InvalidName("Object")`` (400 InvalidObjectName)."""
    problem = _key_problem(key)
    if problem is not None:
        raise InvalidName("Object", key, problem)
    return key
