"""Policy templates: a named session-policy document with ``${...}`` variables, filled safely.

Owns: the placeholder grammar (``${user_id}``, ``${device_id}``, ``${bucket}``, any variable a
template declares, ``${claims.<name>}`` for claims of the app user's JWT), the rule for which
values are safe, rendering a template into the session-policy JSON handed to AssumeRole, and
deriving a valid ``RoleSessionName`` from the app user.
Must not: do I/O, read a clock, or know about HTTP, STS or authentication. Pure.

Why it is safe:

- Substitution happens *inside* JSON strings of the parsed document, never on the JSON text:
  the document is decoded once, each string value has its placeholders replaced in one pass
  (a value is never re-scanned), and the result is encoded again. Object keys cannot hold
  placeholders.
- A value must match ``SAFE_VALUE``: ASCII letters, digits and ``_ . @ + = | -``, 1-128
  characters, not containing ``..``. So a value cannot widen a resource pattern (``*``,
  ``?``), climb or add path segments (``/``, ``..``), end an ACS field (``:``), close a
  string (quotes, backslash) or start another variable (``$``, ``{``). Everything else is
  refused with ``InvalidParameter``, never escaped or trimmed: a refused value is a visible
  error, an altered one would be a silent scope change.
- The rendered document is checked by ``tessera.policy``'s strict parser and against the
  2048-byte session-policy limit of STS before it is sent.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tessera.broker.errors import InvalidParameter, MissingParameter
from tessera.errors import MalformedPolicy
from tessera.policy import parse_policy

#: ``${name}``; what may stand between the braces is checked by ``_check_placeholder``
PLACEHOLDER = re.compile(r"\$\{([^{}]*)\}")
VARIABLE_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
CLAIM_PREFIX = "claims."
CLAIM_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_:/.\-]{0,127}")
SAFE_VALUE = re.compile(r"[A-Za-z0-9_.@+=|\-]{1,128}")  # whole value: use fullmatch
MAX_VALUE_LENGTH = 128
#: STS refuses a session policy of 2048 bytes or more (spec sts-ram.md §1.2)
MAX_SESSION_POLICY = 2047
USER_ID = "user_id"

_SESSION_UNSAFE = re.compile(r"[^\w.@\-]", re.ASCII)
SESSION_NAME_MAX = 64


class TemplateSyntaxError(ValueError):
    """A template document is not usable (found while loading the configuration)."""


def check_value(name: str, value: str) -> str:
    """``value`` if it is safe inside a resource pattern, else ``InvalidParameter``."""
    if not SAFE_VALUE.fullmatch(value):
        bad = next((ch for ch in value if not SAFE_VALUE.fullmatch(ch)), None)
        if not value:
            reason = "is empty"
        elif len(value) > MAX_VALUE_LENGTH:
            reason = f"is longer than {MAX_VALUE_LENGTH} characters"
        else:
            reason = f"contains {bad!r}"
        raise InvalidParameter(
            name,
            f"the value of {name!r} {reason}; allowed: letters, digits and _ . @ + = | -",
        )
    if ".." in value:
        raise InvalidParameter(name, f"the value of {name!r} contains '..'")
    return value


def _check_placeholder(name: str) -> None:
    if name.startswith(CLAIM_PREFIX):
        if not CLAIM_NAME.fullmatch(name.removeprefix(CLAIM_PREFIX)):
            raise TemplateSyntaxError(f"bad claim name in ${{{name}}}")
    elif not VARIABLE_NAME.fullmatch(name):
        raise TemplateSyntaxError(
            f"bad variable ${{{name}}}: use lower-case names or ${{claims.<claim>}}"
        )


def _walk_strings(node: Any, found: set[str], where: str) -> None:
    if isinstance(node, str):
        for match in PLACEHOLDER.finditer(node):
            _check_placeholder(match.group(1))
            found.add(match.group(1))
        if "${" in PLACEHOLDER.sub("", node):
            raise TemplateSyntaxError(f"unterminated or nested '${{' in {where}: {node!r}")
    elif isinstance(node, list):
        for item in node:
            _walk_strings(item, found, where)
    elif isinstance(node, dict):
        for key, value in node.items():
            if "${" in key:
                raise TemplateSyntaxError(f"variables are not allowed in keys: {key!r}")
            _walk_strings(value, found, f"{where}.{key}")


def _substitute(node: Any, values: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return PLACEHOLDER.sub(lambda m: values[m.group(1)], node)
    if isinstance(node, list):
        return [_substitute(item, values) for item in node]
    if isinstance(node, dict):
        return {key: _substitute(value, values) for key, value in node.items()}
    return node


def _encode(document: Any) -> str:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=True)


@dataclass(frozen=True, slots=True)
class PolicyTemplate:
    """A session-policy document with placeholders; ``text`` is its compact JSON."""

    text: str
    placeholders: frozenset[str]

    @classmethod
    def compile(cls, document: str | Mapping[str, Any]) -> PolicyTemplate:
        """Check the template's own grammar: JSON object, well-formed placeholders, a valid
        session policy once filled, and under the STS size limit even with the longest values."""
        if isinstance(document, str):
            try:
                document = json.loads(document)
            except ValueError as exc:
                raise TemplateSyntaxError(f"the policy is not JSON: {exc}") from None
        if not isinstance(document, Mapping):
            raise TemplateSyntaxError("the policy must be a JSON object")
        found: set[str] = set()
        _walk_strings(dict(document), found, "Policy")
        template = cls(_encode(document), frozenset(found))
        longest = template._fill({name: "a" * MAX_VALUE_LENGTH for name in found})
        size = len(longest.encode())
        if size > MAX_SESSION_POLICY:
            raise TemplateSyntaxError(
                f"the policy can reach {size} bytes with {MAX_VALUE_LENGTH}-character values; "
                f"STS accepts at most {MAX_SESSION_POLICY}"
            )
        try:
            parse_policy(longest, strict=True, kind="session")
        except MalformedPolicy as exc:
            raise TemplateSyntaxError(f"not a valid session policy: {exc.detail}") from None
        return template

    def render(self, values: Mapping[str, str]) -> str:
        """The session policy with every placeholder filled from ``values``.

        Raises ``MissingParameter`` for a placeholder without a value, ``InvalidParameter``
        for an unsafe value or a result that is not a valid session policy."""
        for name in sorted(self.placeholders):
            value = values.get(name)
            if value is None:
                raise MissingParameter(name)
            check_value(name, value)
        rendered = self._fill(values)
        if len(rendered.encode()) > MAX_SESSION_POLICY:
            raise InvalidParameter(
                "Policy", f"the session policy would exceed {MAX_SESSION_POLICY} bytes"
            )
        try:
            parse_policy(rendered, strict=True, kind="session")
        except MalformedPolicy as exc:
            raise InvalidParameter(
                "Policy", f"the filled template is not valid: {exc.detail}"
            ) from None
        return rendered

    def _fill(self, values: Mapping[str, str]) -> str:
        return _encode(_substitute(json.loads(self.text), values))


def role_session_name(user_id: str, prefix: str = "") -> str:
    """A valid ``RoleSessionName`` (``[\\w.@-]{2,64}``) naming the app user.

    ``prefix + user_id`` as is when it is already valid; otherwise every other character
    becomes ``-`` and 8 hex digits of the user id's SHA-256 are appended, so two users whose
    ids differ only in replaced characters still get different names. The audit log keeps the
    exact user id next to the AccessKeyId either way."""
    raw = prefix + user_id
    clean = _SESSION_UNSAFE.sub("-", raw)
    if clean == raw and 2 <= len(clean) <= SESSION_NAME_MAX:
        return clean
    digest = hashlib.sha256(user_id.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{clean[: SESSION_NAME_MAX - 9]}-{digest}"
