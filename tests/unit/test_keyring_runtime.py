"""Token keys in the data directory: created once, rotated on schedule, shared by nodes."""

from __future__ import annotations

from pathlib import Path

from tessera.clock import FixedClock
from tessera.config import load_settings
from tessera.identity.model import IdentityType
from tessera.runtime import KEY_ROTATION_SECONDS, MAX_TOKEN_LIFETIME, build_runtime, refresh_keyring
from tessera.sts.tokens import SessionClaims

START = 1_800_000_000.0


TRUST = (
    '{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole",'
    '"Principal":{"RAM":"acs:ram::1234567890123456:root"}}]}'
)


def claims(now: float, role_id: str = "1", role_name: str = "r") -> SessionClaims:
    return SessionClaims(
        account_id="1234567890123456",
        role_id=role_id,
        role_name=role_name,
        session_name="s",
        caller_arn="acs:ram::1234567890123456:user/u",
        caller_principal_id="2",
        access_key_id="STS.abcdefghijklmnopqrstuvwxy",
        issued_at=int(now),
        expires_at=int(now) + 3600,
    )


def test_keys_rotate_on_schedule_and_old_tokens_keep_working(tmp_path: Path) -> None:
    settings = load_settings(environ={}, overrides={"data_dir": tmp_path})
    clock = FixedClock(START)
    runtime = build_runtime(settings, clock=clock)
    try:
        first = runtime.tokens.keyring.current.kid
        old = runtime.tokens.mint(claims(START))
        clock.advance(KEY_ROTATION_SECONDS)
        refresh_keyring(runtime)
        assert runtime.tokens.keyring.current.kid != first
        assert runtime.tokens.open(old.security_token, now=START + 10).key_id == first
        clock.advance(MAX_TOKEN_LIFETIME)
        refresh_keyring(runtime)
        assert first not in runtime.tokens.keyring.kids
    finally:
        runtime.close()


def test_a_node_picks_up_a_key_another_node_rotated_in(tmp_path: Path) -> None:
    settings = load_settings(environ={}, overrides={"data_dir": tmp_path})
    clock_a, clock_b = FixedClock(START), FixedClock(START)
    node_a = build_runtime(settings, clock=clock_a)
    node_b = build_runtime(settings, clock=clock_b)
    try:
        node_a.services.ram.create_account("1234567890123456")
        role = node_a.services.ram.create_role("1234567890123456", "r", TRUST)
        clock_a.advance(KEY_ROTATION_SECONDS)
        refresh_keyring(node_a)  # node A rotates the shared keyring
        issued = node_a.tokens.mint(claims(clock_a.now(), role.role_id, role.role_name))
        assert not node_b.tokens.knows(node_a.tokens.keyring.current.kid)
        found = node_b.authenticator.authenticate(
            issued.access_key_id, issued.security_token, clock_a.now()
        )
        assert found.caller.identity_type is IdentityType.ASSUMED_ROLE
        assert found.secret == issued.access_key_secret
    finally:
        node_a.close()
        node_b.close()
