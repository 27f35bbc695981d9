"""tessera.crypto (keyring, AEAD, SecretBox, MasterKey, private files) and tessera.secret."""

from __future__ import annotations

import copy
import json
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tessera.crypto import (
    KEY_BYTES,
    Aead,
    KeyEntry,
    Keyring,
    MasterKey,
    SecretBox,
    derive_key,
    open_sealed,
    seal,
    write_private_file,
)
from tessera.errors import InternalError
from tessera.secret import Secret

KEY = bytes(range(32))

# ------------------------------------------------------------------------------------------ AEAD


def test_seal_round_trip_and_fresh_nonces() -> None:
    first, second = seal(KEY, b"plain", b"aad"), seal(KEY, b"plain", b"aad")
    assert first != second
    assert open_sealed(KEY, first, b"aad") == open_sealed(KEY, second, b"aad") == b"plain"
    assert len(first) == 12 + len(b"plain") + 16


@pytest.mark.parametrize(
    ("key", "aad", "mutate"),
    [
        (bytes(32), b"aad", lambda b: b),
        (KEY, b"other", lambda b: b),
        (KEY, b"aad", lambda b: b[:-1]),
        (KEY, b"aad", lambda b: b[:27]),
        (KEY, b"aad", lambda b: b""),
        (KEY, b"aad", lambda b: b + b"\x00"),
        (KEY, b"aad", lambda b: bytes([b[0] ^ 1]) + b[1:]),
        (KEY, b"aad", lambda b: b[:-1] + bytes([b[-1] ^ 1])),
    ],
)
def test_open_sealed_refuses(key: bytes, aad: bytes, mutate: object) -> None:
    blob = mutate(seal(KEY, b"plain", b"aad"))  # type: ignore[operator]
    with pytest.raises(InternalError):
        open_sealed(key, blob, aad)


@given(st.binary(max_size=200), st.binary(max_size=50), st.binary(max_size=80))
def test_aead_open_never_raises_on_garbage(plaintext: bytes, aad: bytes, garbage: bytes) -> None:
    aead = Aead(KEY)
    assert aead.open(aead.seal(plaintext, aad), aad) == plaintext
    assert aead.open(garbage, aad) is None


def test_aead_key_length_and_repr() -> None:
    with pytest.raises(ValueError):
        Aead(b"short")
    assert KEY.hex() not in repr(Aead(KEY))


def test_derive_key_separates_purposes() -> None:
    assert len(derive_key(KEY, "a")) == KEY_BYTES
    assert derive_key(KEY, "a") == derive_key(KEY, "a")
    assert derive_key(KEY, "a") != derive_key(KEY, "b")
    assert derive_key(KEY, "a") != derive_key(bytes(32), "a")


# --------------------------------------------------------------------------------------- keyring


def test_generate_has_one_current_key() -> None:
    ring = Keyring.generate()
    assert len(ring) == 1 and ring.kids == (ring.current.kid,)
    assert len(ring.current.material) == KEY_BYTES
    assert ring.current.superseded_at is None
    assert Keyring.generate().current.material != ring.current.material


def test_rotate_is_immutable_and_marks_the_old_key() -> None:
    ring = Keyring.generate()
    rotated = ring.rotate(now=100.0)
    assert len(ring) == 1 and ring.current.superseded_at is None
    assert rotated.kids == (ring.current.kid, rotated.current.kid)
    old = rotated.get(ring.current.kid)
    assert old is not None and old.superseded_at == 100.0
    assert old.material == ring.current.material
    assert rotated.current.superseded_at is None


def test_retire() -> None:
    ring = Keyring.generate()
    rotated = ring.rotate(now=100.0).rotate(now=200.0)
    oldest = ring.current.kid
    pruned = rotated.retire(oldest)
    assert oldest not in pruned.kids and len(pruned) == 2
    with pytest.raises(ValueError):
        rotated.retire(rotated.current.kid)
    with pytest.raises(KeyError):
        pruned.retire(oldest)


def test_retirable_waits_for_the_longest_token() -> None:
    ring = Keyring.generate()
    rotated = ring.rotate(now=1000.0)
    assert rotated.retirable(now=1000.0 + 43199, max_lifetime=43200) == ()
    assert rotated.retirable(now=1000.0 + 43200, max_lifetime=43200) == (ring.current.kid,)


def test_keyring_dict_round_trip_through_json() -> None:
    ring = Keyring.generate().rotate(now=5.5)
    data = json.loads(json.dumps(ring.to_dict()))
    again = Keyring.from_dict(data)
    assert again.kids == ring.kids and again.current.kid == ring.current.kid
    assert [e.material for e in again] == [e.material for e in ring]
    assert [e.superseded_at for e in again] == [e.superseded_at for e in ring]


def test_keyring_repr_shows_no_material() -> None:
    ring = Keyring.generate()
    text = repr(ring) + repr(ring.current)
    assert ring.current.material.hex() not in text
    assert repr(ring.current.material) not in text


def _good_dict() -> dict[str, object]:
    return Keyring.generate().to_dict()


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(format=2),
        lambda d: d.pop("keys"),
        lambda d: d.update(current=7),
        lambda d: d.update(current="ffffffff"),
        lambda d: d.update(keys="nope"),
        lambda d: d.update(keys=[]),
        lambda d: d.update(keys=["x"]),
        lambda d: d["keys"][0].update(kid="ABCDEFGH"),
        lambda d: d["keys"][0].update(kid="123"),
        lambda d: d["keys"][0].update(key="***"),
        lambda d: d["keys"][0].update(key="AAAA"),
        lambda d: d["keys"][0].update(superseded_at="yesterday"),
        lambda d: d["keys"].append(dict(d["keys"][0])),
    ],
)
def test_from_dict_rejects_malformed(mutate: object) -> None:
    data = _good_dict()
    mutate(data)  # type: ignore[operator]
    with pytest.raises(ValueError):
        Keyring.from_dict(data)


def test_key_entry_validates() -> None:
    with pytest.raises(ValueError):
        KeyEntry("zzzzzzzz", bytes(32))
    with pytest.raises(ValueError):
        KeyEntry("0a0b0c0d", bytes(31))


# ----------------------------------------------------------------------------- master key, box


def test_master_key_text_round_trip() -> None:
    key = MasterKey.generate()
    assert MasterKey.from_text(key.to_text()).reveal() == key.reveal()
    assert MasterKey.from_text("  " + key.to_text() + "\n").reveal() == key.reveal()
    assert key.to_text() not in repr(key)


@pytest.mark.parametrize("text", ["", "not base64!", "AAAA", "A" * 45, "é"])
def test_master_key_rejects_bad_text(text: str) -> None:
    with pytest.raises(ValueError):
        MasterKey.from_text(text)


def test_secret_box_round_trip_and_format() -> None:
    box = SecretBox(MasterKey.generate())
    sealed = box.encrypt("wyLTSmsyPGP1ohvvw8xYgB29dlGI8K", aad="LTAI5tTestAccessKeyId")
    assert sealed.startswith("tsb1.") and sealed.isascii() and len(sealed) < 100
    assert box.decrypt(sealed, aad="LTAI5tTestAccessKeyId") == "wyLTSmsyPGP1ohvvw8xYgB29dlGI8K"
    assert box.encrypt("x", "a") != box.encrypt("x", "a")


def test_secret_box_accepts_raw_bytes() -> None:
    raw = os.urandom(32)
    assert SecretBox(raw).decrypt(SecretBox(MasterKey(raw)).encrypt("s", "a"), "a") == "s"
    with pytest.raises(ValueError):
        SecretBox(b"short")


def test_secret_box_aad_binds_the_row() -> None:
    box = SecretBox(MasterKey.generate())
    sealed = box.encrypt("secret-of-alice", aad="LTAIalice")
    with pytest.raises(InternalError, match="failed authentication"):
        box.decrypt(sealed, aad="LTAIbob")


def test_secret_box_tells_a_wrong_master_key() -> None:
    sealed = SecretBox(MasterKey.generate()).encrypt("s", "a")
    with pytest.raises(InternalError, match="another master key"):
        SecretBox(MasterKey.generate()).decrypt(sealed, "a")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda s: s[:-2],
        lambda s: s[:10],
        lambda s: "tsb2" + s[4:],
        lambda s: s.replace("tsb1.", ""),
        lambda s: s[:-1] + ("A" if s[-1] != "A" else "B"),
        lambda s: s + "é",
        lambda s: "tsb1.",
    ],
)
def test_secret_box_refuses_tampering(mutate: object) -> None:
    box = SecretBox(MasterKey.generate())
    sealed = box.encrypt("value", "row")
    with pytest.raises(InternalError):
        box.decrypt(mutate(sealed), "row")  # type: ignore[operator]


@given(st.text(max_size=100), st.text(max_size=40))
def test_secret_box_round_trips_any_text(plaintext: str, aad: str) -> None:
    box = SecretBox(KEY)
    assert box.decrypt(box.encrypt(plaintext, aad), aad) == plaintext


# --------------------------------------------------------------------------------- private files


def test_write_private_file(tmp_path: Path) -> None:
    target = tmp_path / "keyring.json"
    old_umask = os.umask(0)
    try:
        write_private_file(target, b"first")
        write_private_file(target, b"second")
    finally:
        os.umask(old_umask)
    assert target.read_bytes() == b"second"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["keyring.json"]


def test_write_private_file_leaves_nothing_on_failure(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        write_private_file(tmp_path / "missing-dir" / "f", b"x")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------- Secret


def test_secret_is_masked_everywhere() -> None:
    secret = Secret("hunter2")
    for shown in (repr(secret), str(secret), f"{secret}", f"{secret!r}", format(secret, "")):
        assert shown == "Secret('**********')"
    assert "hunter2" not in repr([secret, {"k": secret}])
    assert secret.reveal() == "hunter2"


def test_secret_equality_copy_and_truth() -> None:
    assert Secret("a") == Secret("a") and Secret("a") != Secret("b")
    assert Secret("a") != "a"
    assert hash(Secret("a")) == hash(Secret("a"))
    assert copy.deepcopy(Secret("a")).reveal() == "a"
    assert not Secret("") and Secret("x")
    with pytest.raises(TypeError):
        Secret(b"bytes")  # type: ignore[arg-type]
