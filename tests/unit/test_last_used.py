"""AccessKey last use is recorded for GetAccessKeyLastUsed, at most once a minute per key."""

from __future__ import annotations

from tessera.clock import FixedClock, iso8601
from tessera.crypto import Keyring, MasterKey, SecretBox
from tessera.identity.resolve import Authenticator
from tessera.identity.service import RamService
from tessera.ids import SecureIds
from tessera.policy import parse_policy
from tessera.store import MemoryIdentityStore
from tessera.sts.tokens import TokenService

START = 1_800_000_000.0


def _validate(document: str, kind: str) -> None:
    parse_policy(document, strict=True, kind=kind)


def test_last_use_is_written_once_a_minute() -> None:
    store = MemoryIdentityStore()
    clock = FixedClock(START)
    box = SecretBox(MasterKey.generate())
    ram = RamService(store, clock, SecureIds(), box.encrypt, _validate)
    _, root, _ = ram.create_account("1234567890123456")
    auth = Authenticator(store, box.decrypt, TokenService(Keyring.generate()))
    try:
        auth.authenticate(root.access_key_id, None, START)
        auth.authenticate(root.access_key_id, None, START + 30)  # within the minute: no write
        auth.close()  # waits for the background write
        key = store.get_access_key(root.access_key_id)
        assert key is not None and key.last_used_at == iso8601(START)
    finally:
        auth.close()
    auth = Authenticator(store, box.decrypt, TokenService(Keyring.generate()))
    auth.authenticate(root.access_key_id, None, START + 61)
    auth.close()
    key = store.get_access_key(root.access_key_id)
    assert key is not None and key.last_used_at == iso8601(START + 61)
