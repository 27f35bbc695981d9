"""The RAM policy language: parse, validate, evaluate, explain.

Pure: no I/O, no clock, no store; imports only the standard library and ``tessera.errors``.
Callers parse documents with :func:`parse_policy` (strict, on create/update) or
:func:`load_policy` (lenient and cached, for stored documents), wrap them in
:class:`NamedPolicy`, describe the request as an :class:`AuthzRequest` and call
:func:`evaluate`, :func:`evaluate_trust` or :func:`evaluate_resource_policy`; :func:`all_of` and
:func:`any_of` combine decisions across policy sets (spec sts-ram.md 4.4, 4.5).
"""

from __future__ import annotations

from .conditions import OPERATORS
from .document import KINDS, Policy, Statement, load_policy, parse_policy
from .evaluator import (
    Decision,
    Effect,
    NamedPolicy,
    StatementRef,
    all_of,
    any_of,
    evaluate,
    evaluate_resource_policy,
    evaluate_trust,
)
from .request import AuthzRequest, ContextKey, PrincipalRef

__all__ = [
    "KINDS",
    "OPERATORS",
    "AuthzRequest",
    "ContextKey",
    "Decision",
    "Effect",
    "NamedPolicy",
    "Policy",
    "PrincipalRef",
    "Statement",
    "StatementRef",
    "all_of",
    "any_of",
    "evaluate",
    "evaluate_resource_policy",
    "evaluate_trust",
    "load_policy",
    "parse_policy",
]
