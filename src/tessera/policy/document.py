"""Policy documents: JSON → a frozen, compiled :class:`Policy`.

Owns: the document grammar (spec sts-ram.md 4.1, oss.md 11) for the four kinds of policy
(``identity``, ``session``, ``trust``, ``resource``), compiling every pattern once, and the two
reading modes:

* strict (create/update): the first problem raises :class:`MalformedPolicy` whose detail names its
  place, e.g. ``Statement[1].Condition.IpAddress["acs:SourceIp"][0]: "10.0.0.300" is not an IP
  address or CIDR``;
* lenient (loading stored documents): unknown elements are ignored; element names, effects and
  operators match case-insensitively; ``Version`` is not checked; action and resource patterns
  are taken literally as wildcard strings, whatever their shape; a statement without a usable
  Effect or Action is skipped; any other element that has no meaning (a missing Resource or
  Principal, a non-string value, an unknown operator, an unreadable condition value) fails
  closed: an Allow statement never applies, a Deny statement applies as if that element
  matched. When both Action and NotAction (or Resource and NotResource) are present, the
  positive one is used.

Must not: evaluate requests (``evaluator.py``) or do I/O.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from tessera.errors import MalformedPolicy

from .actions import compile_actions, is_action_pattern
from .conditions import Condition, compile_conditions
from .principals import PrincipalBlock, compile_bucket_principal, compile_trust_principal
from .request import AuthzRequest
from .resources import ResourceMatcher, compile_resources, is_resource_pattern
from .wildcard import Matcher

__all__ = ["KINDS", "Policy", "Statement", "load_policy", "parse_policy"]

KINDS = ("identity", "session", "trust", "resource")
_TOP = ("Version", "Statement")
_ELEMENTS = (
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Principal",
    "Condition",
)
_EFFECTS = {"allow": "Allow", "deny": "Deny"}
_INDEX_LIMIT = 4096  # distinct actions remembered per policy


@dataclass(frozen=True, slots=True, eq=False)
class Statement:
    """One compiled statement. ``index`` is its position in the document's Statement list,
    ``slot`` its position in :attr:`Policy.statements` (they differ when lenient mode skipped
    a statement)."""

    index: int
    slot: int
    sid: str | None
    effect: str
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...] | None
    not_resource: bool
    match_action: Matcher
    match_resource: ResourceMatcher | None
    principal: PrincipalBlock | None
    conditions: tuple[Condition, ...]
    deny: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "deny", self.effect == "Deny")

    def applies(self, request: AuthzRequest) -> bool:
        """Whether resource, principal and conditions hold (the action was checked already)."""
        if self.match_resource is not None and not self.match_resource(request.resource_key):
            return False
        if self.principal is not None and not self.principal.matches(request.principal):
            return False
        context = request.context_lookup
        for condition in self.conditions:  # noqa: SIM110 - a loop, not all(): no generator per call
            if not condition(context):
                return False
        return True


@dataclass(frozen=True, slots=True, eq=False)
class Policy:
    """A compiled policy document. ``statements_for`` is the per-action index: it returns, in
    document order, the statements whose Action/NotAction admits a (normalised) action."""

    kind: str
    version: str | None
    statements: tuple[Statement, ...]
    _index: dict[str, tuple[Statement, ...]] = field(default_factory=dict, init=False, repr=False)

    def statements_for(self, action_key: str) -> tuple[Statement, ...]:
        found = self._index.get(action_key)
        if found is None:
            found = tuple(s for s in self.statements if s.match_action(action_key))
            if len(self._index) < _INDEX_LIMIT:
                self._index[action_key] = found
        return found


def _fail(place: str, reason: str) -> MalformedPolicy:
    return MalformedPolicy(f"{place}: {reason}")


class _JsonObject(dict[str, Any]):
    """A decoded JSON object that remembers the keys it saw more than once."""

    duplicates: tuple[str, ...] = ()


def _json_object(pairs: list[tuple[str, Any]]) -> _JsonObject:
    obj = _JsonObject(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        duplicates: list[str] = []
        for key, _ in pairs:
            if key in seen:
                duplicates.append(key)
            seen.add(key)
        obj.duplicates = tuple(duplicates)
    return obj


def _reject_duplicates(node: object, place: str) -> None:
    """Strict mode: a key given twice anywhere (JSON keeps only the last) is an error."""
    if isinstance(node, Mapping):
        duplicates = getattr(node, "duplicates", ())
        if duplicates:
            raise _fail(place, f'duplicate element "{duplicates[0]}"')
        for key, value in node.items():
            _reject_duplicates(value, f"{place}.{key}" if place != "Policy" else str(key))
    elif isinstance(node, list):
        for i, item in enumerate(node):
            _reject_duplicates(item, f"{place}[{i}]")


def _decode(text: str) -> object:
    try:
        return json.loads(text, object_pairs_hook=_json_object)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise _fail("Policy", f"not valid JSON ({exc.msg} at {where})") from None
    except RecursionError:
        raise _fail("Policy", "nested too deeply") from None


_Resources = tuple[tuple[str, ...] | None, bool, ResourceMatcher | None]


def _constant_principal(result: bool) -> PrincipalBlock:
    return PrincipalBlock(lambda principal: result)


def _constant_resource(result: bool) -> ResourceMatcher:
    return lambda name: result


class _Parser:
    """Reads one document; every ``_element`` method gets the raw value and its place."""

    def __init__(self, *, strict: bool, kind: str) -> None:
        self.strict = strict
        self.kind = kind

    def policy(self, data: object) -> Policy:
        if not isinstance(data, Mapping):
            raise _fail("Policy", "the document must be a JSON object")
        top = self._elements(data, "Policy", _TOP)
        version = self._version(top.get("Version"))
        raws = self._statement_list(top.get("Statement"))
        statements: list[Statement] = []
        for index, raw in enumerate(raws):
            statement = self._statement(raw, index, len(statements))
            if statement is not None:
                statements.append(statement)
        return Policy(self.kind, version, tuple(statements))

    def _elements(
        self, obj: Mapping[Any, Any], place: str, names: tuple[str, ...]
    ) -> dict[str, Any]:
        if not self.strict:
            folded = {name.lower(): name for name in names}
            found: dict[str, Any] = {}
            for key, value in obj.items():
                canonical = folded.get(str(key).lower())
                if canonical is not None:
                    found.setdefault(canonical, value)
            return found
        for key in obj:
            if key not in names:
                raise _fail(place, f'unknown element "{key}"')
        return dict(obj)

    def _version(self, raw: object) -> str | None:
        if self.strict and raw is None:
            raise _fail("Version", "is required")
        if self.strict and raw != "1":
            raise _fail("Version", 'must be "1"')
        return raw if isinstance(raw, str) else None

    def _statement_list(self, raw: object) -> list[Any]:
        if isinstance(raw, list) and (raw or not self.strict):
            return raw
        if self.strict:
            reason = "is required" if raw is None else "must be a non-empty list of statements"
            raise _fail("Statement", reason)
        if raw is None:
            return []
        if isinstance(raw, Mapping):
            return [raw]
        raise _fail("Statement", "must be a list of statements")

    def _statement(self, raw: object, index: int, slot: int) -> Statement | None:
        place = f"Statement[{index}]"
        if not isinstance(raw, Mapping):
            if self.strict:
                raise _fail(place, "must be an object")
            return None
        elements = self._elements(raw, place, _ELEMENTS)
        effect = self._effect(elements.get("Effect"), f"{place}.Effect")
        actions = self._action(elements, place)
        if effect is None or actions is None:
            return None
        fallback = effect == "Deny"
        resources, not_resource, match_resource = self._resource(elements, place, fallback)
        return Statement(
            index=index,
            slot=slot,
            sid=self._sid(elements.get("Sid"), f"{place}.Sid"),
            effect=effect,
            actions=actions[0],
            not_action=actions[1],
            resources=resources,
            not_resource=not_resource,
            match_action=compile_actions(actions[0], negate=actions[1]),
            match_resource=match_resource,
            principal=self._principal(elements, place, fallback),
            conditions=self._conditions(elements, place, fallback),
        )

    def _sid(self, raw: object, place: str) -> str | None:
        if self.strict and raw is not None and not isinstance(raw, str):
            raise _fail(place, "must be a string")
        return raw if isinstance(raw, str) else None

    def _effect(self, raw: object, place: str) -> str | None:
        if isinstance(raw, str):
            effect = _EFFECTS.get(raw.lower() if self.strict else raw.strip().lower())
            if effect is not None:
                return effect
        if self.strict:
            raise _fail(place, "is required" if raw is None else 'must be "Allow" or "Deny"')
        return None

    def _strings(self, raw: object, place: str) -> tuple[str, ...]:
        if isinstance(raw, str):
            return (raw,)
        if not isinstance(raw, list) or not raw:
            raise _fail(place, "must be a string or a non-empty list of strings")
        for i, item in enumerate(raw):
            if self.strict and not isinstance(item, str):
                raise _fail(f"{place}[{i}]", "must be a string")
        strings = tuple(item for item in raw if isinstance(item, str))
        if not strings:  # lenient only: an empty NotAction/NotResource would match everything
            raise _fail(place, "holds no strings")
        return strings

    def _pick(self, elements: dict[str, Any], place: str, name: str) -> tuple[str, object] | None:
        """The present one of ``name`` / ``Not<name>``: (element name, raw value), or None."""
        positive, negative = elements.get(name), elements.get(f"Not{name}")
        if self.strict and positive is not None and negative is not None:
            raise _fail(place, f"{name} and Not{name} are mutually exclusive")
        if positive is not None:
            return name, positive
        if negative is not None:
            return f"Not{name}", negative
        return None

    def _checked(
        self, raw: object, place: str, valid: Callable[[str], bool], what: str
    ) -> tuple[str, ...]:
        values = self._strings(raw, place)
        for i, value in enumerate(values):
            if self.strict and not valid(value):
                value_place = place if isinstance(raw, str) else f"{place}[{i}]"
                raise _fail(value_place, f'"{value}" is not {what}')
        return values

    def _action(self, elements: dict[str, Any], place: str) -> tuple[tuple[str, ...], bool] | None:
        picked = self._pick(elements, place, "Action")
        if picked is None:
            if self.strict:
                raise _fail(place, "Action or NotAction is required")
            return None
        name, raw = picked
        what = "an action (service:ActionName, or *)"
        try:
            return self._checked(raw, f"{place}.{name}", is_action_pattern, what), name != "Action"
        except MalformedPolicy:
            if self.strict:
                raise
            return None

    def _resource(self, elements: dict[str, Any], place: str, fallback: bool) -> _Resources:
        picked = self._pick(elements, place, "Resource")
        if picked is None:
            if self.kind == "trust":
                return None, False, None
            if self.strict:
                raise _fail(place, "Resource or NotResource is required")
            return (), False, _constant_resource(fallback)
        name, raw = picked
        negate = name != "Resource"
        what = '"*" or an ACS resource name (acs:<service>:<region>:<account>:<relative-id>)'
        try:
            values = self._checked(raw, f"{place}.{name}", is_resource_pattern, what)
        except MalformedPolicy:
            if self.strict:
                raise
            return (), negate, _constant_resource(fallback)
        return values, negate, compile_resources(values, negate=negate)

    def _principal(
        self, elements: dict[str, Any], place: str, fallback: bool
    ) -> PrincipalBlock | None:
        raw = elements.get("Principal")
        if self.kind in ("identity", "session"):
            if raw is not None and self.strict:
                raise _fail(f"{place}.Principal", f"not allowed in {self.kind} policies")
            return None
        if raw is None:
            if self.strict:
                raise _fail(place, f"Principal is required in {self.kind} policies")
            return _constant_principal(fallback)
        compile_principal = (
            compile_trust_principal if self.kind == "trust" else compile_bucket_principal
        )
        try:
            return compile_principal(raw, f"{place}.Principal", strict=self.strict)
        except MalformedPolicy:
            if self.strict:
                raise
            return _constant_principal(fallback)

    def _conditions(
        self, elements: dict[str, Any], place: str, fallback: bool
    ) -> tuple[Condition, ...]:
        raw = elements.get("Condition")
        if raw is None:
            return ()
        return compile_conditions(raw, f"{place}.Condition", strict=self.strict, fallback=fallback)


def parse_policy(
    document: str | Mapping[str, Any], *, strict: bool = True, kind: str = "identity"
) -> Policy:
    """Parse and compile a policy document (JSON text or an already decoded object).

    Raises :class:`MalformedPolicy` for invalid JSON and, in strict mode, for any grammar error;
    raises ``ValueError`` for an unknown ``kind`` (a programming error, not a client one).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown policy kind {kind!r}; expected one of {KINDS}")
    data = _decode(document) if isinstance(document, str) else document
    if strict:
        _reject_duplicates(data, "Policy")
    return _Parser(strict=strict, kind=kind).policy(data)


@lru_cache(maxsize=2048)
def _load_cached(text: str, kind: str) -> Policy:
    return parse_policy(text, strict=False, kind=kind)


def load_policy(text: str, kind: str = "identity") -> Policy:
    """Leniently parse a stored document; compiled once per distinct (text, kind) and cached."""
    return _load_cached(text, kind)
