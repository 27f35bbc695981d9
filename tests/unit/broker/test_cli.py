"""``tessera broker hash-key`` and ``tessera broker audit``; config errors of ``tessera broker``."""

from __future__ import annotations

import io
import json
import re
import tomllib
from pathlib import Path

import pytest

from tessera.broker.auth import hash_api_key
from tessera.cli.main import main


def test_hash_key_prints_a_new_key_once_and_its_entry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["broker", "hash-key", "--user-id", "alice"]) == 0
    out = capsys.readouterr().out
    key = re.search(r"API key \(shown once; give it to the app user\): (\S+)", out)
    assert key is not None
    entry = tomllib.loads(out[out.index("[[api_keys]]") :])["api_keys"][0]
    assert entry == {"user_id": "alice", "key_sha256": hash_api_key(key.group(1))}


def test_hash_key_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "my-own-long-random-key-0123456789abcdef"
    monkeypatch.setattr("sys.stdin", io.StringIO(key + "\n"))
    assert main(["broker", "hash-key", "--stdin"]) == 0
    out = capsys.readouterr().out
    assert key not in out and hash_api_key(key) in out
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["broker", "hash-key", "--stdin"]) == 2
    assert "at least 32" in capsys.readouterr().err


def test_audit_search(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    audit = tmp_path / "audit.jsonl"
    records = [
        {"user_id": "alice", "access_key_id": "STS.a"},
        {"user_id": "bob", "access_key_id": "STS.b"},
        {"user_id": "alice", "access_key_id": "STS.c"},
    ]
    audit.write_text("".join(json.dumps(r) + "\n" for r in records) + '{"torn')
    assert main(["broker", "audit", str(audit), "--access-key-id", "STS.b"]) == 0
    assert [json.loads(x) for x in capsys.readouterr().out.splitlines()] == [records[1]]
    assert main(["broker", "audit", str(audit), "--user-id", "alice"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    assert main(["broker", "audit", str(audit), "--user-id", "carol"]) == 1
    assert main(["broker", "audit", str(tmp_path / "missing.jsonl")]) == 1


def test_serve_needs_a_valid_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TESSERA_BROKER_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("TESSERA_BROKER_ACCESS_KEY_SECRET", raising=False)
    assert main(["broker"]) == 2
    assert "--config" in capsys.readouterr().err
    bad = tmp_path / "broker.toml"
    bad.write_text("[broker]\nport = 1\n")
    assert main(["broker", "--config", str(bad)]) == 2
    assert "AccessKey is required" in capsys.readouterr().err
