"""Identifiers and secrets generation, as an injected dependency.

Owns: the formats of every generated id (AccessKeyId ``LTAI…``, STS ``STS.…``, numeric
user/role ids, ``g-`` group ids, request ids, 16-digit account ids). Randomness comes from
``secrets``; tests can inject a seeded source for reproducible ids, never for secrets.
"""

from __future__ import annotations

import secrets
import string
import uuid
from typing import Protocol

_ALNUM = string.ascii_letters + string.digits


class IdSource(Protocol):
    def token(self, alphabet: str, length: int) -> str: ...


class SecureIds:
    """The production id source (``secrets`` module)."""

    def token(self, alphabet: str, length: int) -> str:
        return "".join(secrets.choice(alphabet) for _ in range(length))


def access_key_id(ids: IdSource) -> str:
    """Permanent AccessKeyId: ``LTAI`` + 20 alphanumerics."""
    return "LTAI" + ids.token(_ALNUM, 20)


def access_key_secret(ids: IdSource) -> str:
    """Permanent AccessKey secret: 30 alphanumerics."""
    return ids.token(_ALNUM, 30)


def sts_access_key_id(ids: IdSource) -> str:
    """Temporary AccessKeyId: ``STS.`` + 25 alphanumerics."""
    return "STS." + ids.token(_ALNUM, 25)


def numeric_id(ids: IdSource, length: int = 18) -> str:
    """User and role ids: numeric strings without a leading zero."""
    return ids.token("123456789", 1) + ids.token(string.digits, length - 1)


def account_id(ids: IdSource) -> str:
    """Account ids: 16 digits."""
    return numeric_id(ids, 16)


def group_id(ids: IdSource) -> str:
    return "g-" + ids.token(_ALNUM, 14)


def request_id() -> str:
    """RPC RequestId: an upper-case UUID."""
    return str(uuid.uuid4()).upper()
