"""From credentials to a caller: AccessKey or STS token → ``Caller``, secret and policies.

Owns: looking up permanent AccessKeys (and refusing unknown or inactive ones), opening STS
tokens (and refusing tampered, expired, mismatched ones, or tokens whose role was deleted),
and the per-caller identity policies, all behind short-lived caches that every RAM write
invalidates (``invalidate``) and that expire on their own, so several nodes converge.
Must not: verify signatures (``signing`` does, with the secret returned here) or log secrets.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from tessera.clock import iso8601
from tessera.errors import (
    AccessKeyInactive,
    AccessKeyNotFound,
    SecurityTokenInvalid,
    SecurityTokenMalformed,
    SecurityTokenMismatch,
    SecurityTokenMissing,
)
from tessera.identity.model import Caller, IdentityType
from tessera.policy import NamedPolicy, load_policy
from tessera.store.base import IdentityStore, Role
from tessera.sts.tokens import SessionClaims, TokenService, key_id_of

STS_PREFIX = "STS."
LAST_USED_RESOLUTION = 60.0
KEYRING_RELOAD_INTERVAL = 5.0
#: tokens whose caller is remembered (``Authenticator._session``); beyond, all are forgotten
SESSION_CACHE_SIZE = 4096

log = logging.getLogger("tessera.identity")


def _log_failure(future: Future[None]) -> None:
    if future.exception() is not None:
        log.warning("could not record an AccessKey's last use: %s", future.exception())


T = TypeVar("T")


class TtlCache:
    """A small thread-safe cache whose entries expire after ``ttl`` seconds or on ``clear``."""

    def __init__(self, ttl: float, max_entries: int = 100_000) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._data: dict[Any, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get_or_load(self, key: Any, load: Callable[[], T]) -> T:
        now = time.monotonic()
        hit = self._data.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]  # type: ignore[no-any-return]
        value = load()
        with self._lock:
            if len(self._data) >= self._max:
                self._data.clear()
            self._data[key] = (now + self._ttl, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


@dataclass(frozen=True, slots=True)
class Authenticated:
    caller: Caller
    secret: str


class Authenticator:
    """Resolves the AccessKeyId (and SecurityToken) of a request to a caller and its secret."""

    def __init__(
        self,
        store: IdentityStore,
        decrypt_secret: Callable[[str, str], str],
        tokens: TokenService,
        cache_seconds: float = 5.0,
        reload_keyring: Callable[[], None] | None = None,
    ) -> None:
        self._reload_keyring = reload_keyring
        self._last_keyring_reload = -KEYRING_RELOAD_INTERVAL
        self._store = store
        self._decrypt = decrypt_secret
        self._tokens = tokens
        self._keys = TtlCache(cache_seconds)
        self._roles = TtlCache(cache_seconds)
        self._last_touch: dict[str, float] = {}
        #: the caller of each recently seen token, kept with the claims it was made from: a
        #: token's requests share one (checks of expiry and role still run every time)
        self._sessions: dict[str, tuple[SessionClaims, Authenticated]] = {}
        self._toucher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tessera-last-used")

    def close(self) -> None:
        self._toucher.shutdown(wait=True)

    def invalidate(self) -> None:
        self._keys.clear()
        self._roles.clear()
        self._sessions.clear()

    def authenticate(
        self, access_key_id: str, security_token: str | None, now: float
    ) -> Authenticated:
        if access_key_id.startswith(STS_PREFIX):
            if not security_token:
                raise SecurityTokenMissing()
            return self._session(access_key_id, security_token, now)
        if security_token:
            raise SecurityTokenMismatch()
        found = self._keys.get_or_load(access_key_id, lambda: self._permanent(access_key_id))
        self._note_use(access_key_id, now)
        return found

    def _note_use(self, access_key_id: str, now: float) -> None:
        """Record the key's last use for GetAccessKeyLastUsed: at most one write a minute
        per key, made by a worker thread so the request never waits for it."""
        if now - self._last_touch.get(access_key_id, 0.0) < LAST_USED_RESOLUTION:
            return
        if len(self._last_touch) > 100_000:
            self._last_touch.clear()
        self._last_touch[access_key_id] = now
        future = self._toucher.submit(self._store.touch_access_key, access_key_id, iso8601(now))
        future.add_done_callback(_log_failure)

    def _permanent(self, access_key_id: str) -> Authenticated:
        key = self._store.get_access_key(access_key_id)
        if key is None:
            raise AccessKeyNotFound()
        if key.status != "Active":
            raise AccessKeyInactive()
        secret = self._decrypt(key.secret_ciphertext, key.access_key_id)
        if key.user_name is None:
            caller = Caller(IdentityType.ACCOUNT, key.account_id, key.access_key_id)
        else:
            caller = Caller(
                IdentityType.RAM_USER,
                key.account_id,
                key.access_key_id,
                user_id=key.user_id,
                user_name=key.user_name,
            )
        return Authenticated(caller, secret)

    def _session(self, access_key_id: str, token: str, now: float) -> Authenticated:
        try:
            claims = self._tokens.open(token, now=now, access_key_id=access_key_id)
        except SecurityTokenMalformed:
            if not self._reload_keyring_for(token):
                raise
            claims = self._tokens.open(token, now=now, access_key_id=access_key_id)
        role_id = self._roles.get_or_load(
            (claims.account_id, claims.role_name.lower()),
            lambda: self._role_id(claims.account_id, claims.role_name),
        )
        if role_id != claims.role_id:
            raise SecurityTokenInvalid("The role of this SecurityToken no longer exists.")
        known = self._sessions.get(token)
        if known is not None and known[0] is claims:  # the same opened token: the same caller
            return known[1]
        caller = Caller(
            IdentityType.ASSUMED_ROLE,
            claims.account_id,
            access_key_id,
            role_id=claims.role_id,
            role_name=claims.role_name,
            session_name=claims.session_name,
            session_policy=claims.session_policy,
            expires_at=claims.expires_at,
            source_identity=claims.source_identity,
        )
        # by the token's text: the derived secret is cached with the opened token
        found = Authenticated(caller, self._tokens.secret_for(token))
        if len(self._sessions) >= SESSION_CACHE_SIZE:
            self._sessions.clear()
        self._sessions[token] = (claims, found)
        return found

    def _reload_keyring_for(self, token: str) -> bool:
        """A token sealed with a key this node has not loaded (another node rotated the
        shared keyring): reload the keyring, at most every few seconds. True if reloaded."""
        kid = key_id_of(token)
        if kid is None or self._tokens.knows(kid) or self._reload_keyring is None:
            return False
        now = time.monotonic()
        if now - self._last_keyring_reload < KEYRING_RELOAD_INTERVAL:
            return False
        self._last_keyring_reload = now
        self._reload_keyring()
        return self._tokens.knows(kid)

    def _role_id(self, account_id: str, role_name: str) -> str | None:
        role = self._store.get_role(account_id, role_name)
        return None if role is None else role.role_id


class PolicyResolver:
    """The identity policies (and session policy) that govern a caller, compiled and cached."""

    def __init__(self, store: IdentityStore, cache_seconds: float = 5.0) -> None:
        self._store = store
        self._cache = TtlCache(cache_seconds)

    def invalidate(self) -> None:
        self._cache.clear()

    def identity_policies(self, caller: Caller) -> tuple[NamedPolicy, ...]:
        if caller.identity_type is IdentityType.RAM_USER and caller.user_name:
            key = (caller.account_id, "user", caller.user_name)
            return self._cache.get_or_load(
                key, lambda: self._for_user(caller.account_id, caller.user_name or "")
            )
        if caller.identity_type is IdentityType.ASSUMED_ROLE and caller.role_name:
            return self.role_policies(caller.account_id, caller.role_name)
        return ()

    def role_policies(self, account_id: str, role_name: str) -> tuple[NamedPolicy, ...]:
        key = (account_id, "role", role_name.lower())
        return self._cache.get_or_load(key, lambda: self._for_role(account_id, role_name))

    def role(self, account_id: str, role_name: str) -> Role | None:
        """The role record (names are case-insensitive), cached like the policies."""
        key = (account_id, "role-record", role_name.lower())
        return self._cache.get_or_load(key, lambda: self._store.get_role(account_id, role_name))

    @staticmethod
    def session_policy(caller: Caller) -> NamedPolicy | None:
        if not caller.session_policy:
            return None
        return NamedPolicy(
            "SessionPolicy", "v1", load_policy(caller.session_policy, "session"), "Session"
        )

    def _for_user(self, account_id: str, user_name: str) -> tuple[NamedPolicy, ...]:
        return tuple(_named(p) for p in self._store.policies_for_user(account_id, user_name))

    def _for_role(self, account_id: str, role_name: str) -> tuple[NamedPolicy, ...]:
        return tuple(_named(p) for p in self._store.policies_for_role(account_id, role_name))


def _named(attached: Any) -> NamedPolicy:
    return NamedPolicy(
        attached.name,
        attached.version_id,
        load_policy(attached.document, "identity"),
        attached.policy_type,
    )
