"""The Principal element of trust policies (role AssumeRolePolicyDocument) and bucket policies.

Owns: the grammar of both Principal forms and matching them against a :class:`PrincipalRef`.

Trust policies (spec sts-ram.md 4.6) use ``"*"`` or an object with ``RAM``, ``Service`` and
``Federated`` entries. ``acs:ram::<acct>:root`` matches every identity of that account (the STS
layer, not this matcher, refuses root callers); a user ARN matches that user; a role ARN matches
sessions of that role (role chaining); role names compare case-insensitively. ``{"RAM": "*"}``
matches any RAM identity of any account but no service, federated or anonymous caller; only a bare
``"*"`` matches everyone.

Bucket policies (spec oss.md 11) use ``"*"`` or a list of account UIDs, RAM user ids and
``arn:sts::<uid>:assumed-role/<RoleId>/<session>`` names (``*``/``?`` wildcards allowed); an empty
list means ``"*"``. A UID matches that account itself, not its RAM users.
Must not: look identities up (the caller says who is asking) or do I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from tessera.errors import MalformedPolicy

from .request import RAM_KINDS, PrincipalRef
from .resources import compile_resources
from .wildcard import compile_any

__all__ = ["PrincipalBlock", "compile_bucket_principal", "compile_trust_principal"]

PrincipalMatcher = Callable[[PrincipalRef | None], bool]

_RAM_VALUE = re.compile(r"\*|acs:ram:[^:]*:[^:]+:(?:root|user/.+|role/.+)")
_SERVICE_VALUE = re.compile(r"[A-Za-z0-9.*?-]+")
_FEDERATED_VALUE = re.compile(r"acs:ram:[^:]*:[^:]+:(?:saml-provider|oidc-provider)/.+")
_BUCKET_VALUE = re.compile(r"\*|[0-9]+|arn:sts::[0-9]+:assumed-role/[^/]+/.+")
_TRUST_KEYS = {"ram": "RAM", "service": "Service", "federated": "Federated"}
_TRUST_SHAPES = {"RAM": _RAM_VALUE, "Service": _SERVICE_VALUE, "Federated": _FEDERATED_VALUE}


@dataclass(frozen=True, slots=True)
class PrincipalBlock:
    """A compiled Principal element; ``anyone`` is true for the wildcard principal ``"*"``."""

    matches: PrincipalMatcher
    anyone: bool = False


def _fail(place: str, reason: str) -> MalformedPolicy:
    return MalformedPolicy(f"{place}: {reason}")


def _anyone(principal: PrincipalRef | None) -> bool:
    return True


def _strings(raw: object, place: str, shape: re.Pattern[str] | None, what: str) -> tuple[str, ...]:
    """The string values of ``raw``; ``shape`` (strict mode only) checks each one."""
    items = raw if isinstance(raw, list) else [raw]
    scalar = not isinstance(raw, list)
    for i, item in enumerate(items):
        item_place = place if scalar else f"{place}[{i}]"
        if not isinstance(item, str):
            raise _fail(item_place, "must be a string")
        if shape is not None and shape.fullmatch(item) is None:
            raise _fail(item_place, f'"{item}" is not {what}')
    return tuple(items)


# --- trust policies ---------------------------------------------------------------------------


def _ram(values: tuple[str, ...]) -> PrincipalMatcher:
    if "*" in values:
        return lambda p: p is not None and p.kind in RAM_KINDS
    matches = compile_resources(values)
    return lambda p: p is not None and any(matches(name) for name in p.trust_names)


def _service(values: tuple[str, ...]) -> PrincipalMatcher:
    matches = compile_any(value.lower() for value in values)
    return lambda p: p is not None and p.service is not None and matches(p.service.lower())


def _federated(values: tuple[str, ...]) -> PrincipalMatcher:
    matches = compile_resources(values)
    return lambda p: p is not None and p.kind == "Federated" and any(map(matches, p.trust_names))


_TRUST_BUILDERS = {"RAM": _ram, "Service": _service, "Federated": _federated}
_TRUST_WHAT = {
    "RAM": '"*" or a RAM ARN (acs:ram::<account>:root, :user/<name> or :role/<name>)',
    "Service": "a service name such as ecs.aliyuncs.com",
    "Federated": "an identity provider ARN (acs:ram::<account>:saml-provider/<name>)",
}


def _trust_entry(key: object, raw: object, place: str, strict: bool) -> PrincipalMatcher | None:
    canonical = key if strict else _TRUST_KEYS.get(str(key).lower())
    if canonical not in _TRUST_BUILDERS:
        if strict:
            raise _fail(place, f'unknown principal type "{key}" (use RAM, Service or Federated)')
        return None
    entry_place = f"{place}.{canonical}"
    if isinstance(raw, list) and not raw:
        raise _fail(entry_place, "must hold at least one principal")
    shape = _TRUST_SHAPES[canonical] if strict else None
    values = _strings(raw, entry_place, shape, _TRUST_WHAT[canonical])
    return _TRUST_BUILDERS[canonical](values)


def compile_trust_principal(raw: object, place: str, *, strict: bool) -> PrincipalBlock:
    """Compile a trust-policy Principal element; raises :class:`MalformedPolicy` if invalid."""
    if raw == "*":
        return PrincipalBlock(_anyone, anyone=True)
    if not isinstance(raw, Mapping) or not raw:
        raise _fail(place, 'must be "*" or an object with RAM, Service or Federated principals')
    entries = [_trust_entry(key, value, place, strict) for key, value in raw.items()]
    matchers = tuple(m for m in entries if m is not None)
    if not matchers:
        raise _fail(place, "names no RAM, Service or Federated principal")
    if len(matchers) == 1:
        return PrincipalBlock(matchers[0])
    return PrincipalBlock(lambda p: any(m(p) for m in matchers))


# --- bucket policies --------------------------------------------------------------------------

_BUCKET_WHAT = '"*", an account or RAM user id, or arn:sts::<uid>:assumed-role/<role-id>/<session>'


def compile_bucket_principal(raw: object, place: str, *, strict: bool) -> PrincipalBlock:
    """Compile a bucket-policy Principal element; raises :class:`MalformedPolicy` if invalid."""
    if raw == "*" or raw == []:
        return PrincipalBlock(_anyone, anyone=True)
    if not isinstance(raw, str | list):
        raise _fail(place, "must be a string or a list of strings")
    values = _strings(raw, place, _BUCKET_VALUE if strict else None, _BUCKET_WHAT)
    if "*" in values:
        return PrincipalBlock(_anyone, anyone=True)
    matches = compile_any(values)
    return PrincipalBlock(lambda p: p is not None and any(map(matches, p.bucket_names)))
