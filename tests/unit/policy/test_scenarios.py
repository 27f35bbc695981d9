"""Runs every scenario in ``tests/scenarios/*.json`` (format in ``tests/scenarios/README.md``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tessera.policy import (
    AuthzRequest,
    Decision,
    NamedPolicy,
    PrincipalRef,
    all_of,
    any_of,
    evaluate,
    evaluate_resource_policy,
    evaluate_trust,
    parse_policy,
)

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def _principal(spec: dict[str, Any]) -> PrincipalRef:
    fields = {**spec, "arns": tuple(spec.get("arns", ()))}
    return PrincipalRef(**fields)


def _policies(scenario: dict[str, Any]) -> list[NamedPolicy]:
    return [
        NamedPolicy(p["name"], p["version"], parse_policy(p["document"], kind=p["kind"]), p["type"])
        for p in scenario["policies"]
    ]


def _of_kind(policies: list[NamedPolicy], kind: str) -> list[NamedPolicy]:
    return [p for p in policies if p.policy.kind == kind]


def _oss(policies: list[NamedPolicy], request: AuthzRequest, owner: str | None) -> Decision:
    buckets = [
        evaluate_resource_policy(b, request, bucket_owner=owner)
        for b in _of_kind(policies, "resource")
    ]
    granted = any_of(evaluate(_of_kind(policies, "identity"), request), *buckets)
    sessions = _of_kind(policies, "session")
    return all_of(granted, evaluate(sessions, request)) if sessions else granted


Mode = Callable[[list[NamedPolicy], AuthzRequest, dict[str, Any]], Decision]

MODES: dict[str, Mode] = {
    "identity": lambda ps, r, s: evaluate(ps, r),
    "session": lambda ps, r, s: all_of(
        evaluate(_of_kind(ps, "identity"), r), evaluate(_of_kind(ps, "session"), r)
    ),
    "trust": lambda ps, r, s: evaluate_trust(_of_kind(ps, "trust")[0], r),
    "assume_role": lambda ps, r, s: all_of(
        evaluate(_of_kind(ps, "identity"), r), evaluate_trust(_of_kind(ps, "trust")[0], r)
    ),
    "oss": lambda ps, r, s: _oss(ps, r, s.get("bucket_owner")),
}


def _cases() -> Iterator[Any]:
    for path in sorted(SCENARIOS.glob("*.json")):
        scenario = json.loads(path.read_text())
        for index, request in enumerate(scenario["requests"]):
            yield pytest.param(
                scenario, request, id=f"{path.stem}[{index}] {request['description']}"
            )


def test_there_are_scenarios() -> None:
    assert len(list(SCENARIOS.glob("*.json"))) >= 5
    assert (SCENARIOS / "seed_oss_full_access_with_session_policy.json").exists()


@pytest.mark.parametrize(("scenario", "spec"), list(_cases()))
def test_scenario(scenario: dict[str, Any], spec: dict[str, Any]) -> None:
    policies = _policies(scenario)
    if "policies" in spec:
        policies = [p for p in policies if p.name in spec["policies"]]
    name = spec["principal"]
    principal = None if name is None else _principal(scenario["principals"][name])
    context = {key: tuple(values) for key, values in spec["context"].items()}
    request = AuthzRequest(principal, spec["action"], spec["resource"], context)

    decision = MODES[scenario["evaluation"]](policies, request, scenario)

    expected = spec["expect"]
    assert decision.effect.value == expected["effect"], decision.explain()
    matched = sorted((ref.policy_name, ref.index) for ref in decision.matched)
    assert matched == sorted((name, index) for name, index in expected["matched"])
