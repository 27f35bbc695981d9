"""Shared pieces of the RAM service tests: fakes for the injected dependencies, a world."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from tessera.clock import FixedClock
from tessera.errors import MalformedPolicy
from tessera.identity.service import RamLimits, RamService
from tessera.ids import SecureIds
from tessera.store import IdentityStore, MemoryIdentityStore

ACCOUNT = "1234567890123456"
OTHER_ACCOUNT = "6543210987654321"
START = 1_700_000_000.0  # 2023-11-14T22:13:20Z
START_ISO = "2023-11-14T22:13:20Z"
DOC = '{"Statement":[{"Action":"oss:GetObject","Effect":"Allow","Resource":"*"}],"Version":"1"}'
TRUST = (
    '{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow",'
    '"Principal":{"RAM":["acs:ram::1234567890123456:root"]}}],"Version":"1"}'
)


def seal(secret: str, aad: str) -> str:
    """A stand-in for SecretBox: reversible, bound to the aad, never the plaintext itself."""
    return f"sealed:{aad}:{secret.encode().hex()}"


def unseal(ciphertext: str, aad: str) -> str:
    prefix = f"sealed:{aad}:"
    assert ciphertext.startswith(prefix)
    return bytes.fromhex(ciphertext[len(prefix) :]).decode()


@dataclass
class Validator:
    """Accepts any JSON object; records what it was asked to check."""

    calls: list[tuple[str, str]] = field(default_factory=list)

    def __call__(self, document: str, kind: str) -> None:
        self.calls.append((document, kind))
        try:
            decoded = json.loads(document)
        except ValueError:
            raise MalformedPolicy("not JSON") from None
        if not isinstance(decoded, dict):
            raise MalformedPolicy("not an object")


@dataclass
class Listener:
    calls: int = 0

    def __call__(self) -> None:
        self.calls += 1


@dataclass
class World:
    ram: RamService
    store: IdentityStore
    clock: FixedClock
    validator: Validator
    listener: Listener


def make_world(limits: RamLimits | None = None, store: IdentityStore | None = None) -> World:
    store = store or MemoryIdentityStore()
    clock, validator, listener = FixedClock(START), Validator(), Listener()
    ram = RamService(
        store, clock, SecureIds(), seal, validator, limits=limits, change_listener=listener
    )
    ram.create_account(ACCOUNT)
    ram.create_account(OTHER_ACCOUNT)
    listener.calls = 0
    return World(ram, store, clock, validator, listener)
