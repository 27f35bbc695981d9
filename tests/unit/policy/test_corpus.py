"""Every accepted policy form in ``tests/corpus`` parses strictly (and leniently, the same way)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tessera.policy import KINDS, OPERATORS, parse_policy

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
FILES = sorted(CORPUS.glob("*.json"))


def _load(path: Path) -> dict[str, Any]:
    entry: dict[str, Any] = json.loads(path.read_text())
    return entry


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_form_is_accepted_strictly(path: Path) -> None:
    entry = _load(path)
    assert entry["kind"] in KINDS
    text = json.dumps(entry["document"])
    strict = parse_policy(text, kind=entry["kind"])
    lenient = parse_policy(text, kind=entry["kind"], strict=False)
    assert len(strict.statements) == len(entry["document"]["Statement"])
    assert [s.index for s in lenient.statements] == [s.index for s in strict.statements]


def test_corpus_covers_every_kind_and_operator() -> None:
    entries = [_load(path) for path in FILES]
    assert {entry["kind"] for entry in entries} == set(KINDS)
    used: set[str] = set()
    for entry in entries:
        for statement in entry["document"]["Statement"]:
            for name in statement.get("Condition", {}):
                base = name.rpartition(":")[2]
                used.add(base.removesuffix("IfExists") or base)
    assert set(OPERATORS) <= used, set(OPERATORS) - used
