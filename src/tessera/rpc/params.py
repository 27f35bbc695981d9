"""Typed access to RPC request parameters.

Owns: turning the flat ``name=value`` parameters of an RPC request (query plus form body) into
typed values — strings with length/charset rules, ints with bounds, the booleans Python SDKs
send as ``True``/``False``, and lists sent either as a JSON string (``Tag=[{...}]``) or
flattened (``Tag.1.Key``). Bad input raises ``InvalidArgument``/``MissingArgument``.
Must not: know which action is running, or render anything.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from tessera.errors import InvalidArgument, MissingArgument

_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})
_FLAT_INDEX = re.compile(r"(\d+)(?:\.(.+))?")


class Params:
    """Read-only view of the request parameters with typed getters."""

    __slots__ = ("_raw",)

    def __init__(self, raw: Mapping[str, str]) -> None:
        self._raw = raw

    def __contains__(self, name: str) -> bool:
        return name in self._raw

    def raw(self) -> Mapping[str, str]:
        return self._raw

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self._raw.get(name)
        return default if value is None or value == "" else value

    def require(self, name: str) -> str:
        value = self._raw.get(name)
        if value is None or value == "":
            raise MissingArgument(name)
        return value

    def string(
        self,
        name: str,
        *,
        required: bool = False,
        min_len: int = 1,
        max_len: int | None = None,
        pattern: re.Pattern[str] | None = None,
    ) -> str | None:
        """A string parameter; length errors are ``.Length``, charset errors ``.InvalidChars``."""
        value = self.require(name) if required else self.get(name)
        if value is None:
            return None
        if len(value) < min_len or (max_len is not None and len(value) > max_len):
            raise InvalidArgument(
                name, "Length", f'The parameter - "{name}" beyond the length limit.'
            )
        if pattern is not None and not pattern.fullmatch(value):
            raise InvalidArgument(
                name, "InvalidChars", f'The parameter - "{name}" contains invalid chars.'
            )
        return value

    def integer(
        self,
        name: str,
        *,
        default: int | None = None,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int | None:
        value = self.get(name)
        if value is None:
            return default
        try:
            number = int(value.strip())
        except ValueError:
            raise InvalidArgument(
                name, "Format", f'The format of the parameter - "{name}" is incorrect.'
            ) from None
        if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
            raise InvalidArgument(
                name, "Range", f'The parameter - "{name}" is out of range [{minimum}, {maximum}].'
            )
        return number

    def boolean(self, name: str, *, default: bool = False) -> bool:
        """Booleans as ``True``/``true``/``1`` (Python SDKs send ``str(bool)``)."""
        value = self.get(name)
        if value is None:
            return default
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise InvalidArgument(
            name, "Format", f'The format of the parameter - "{name}" is incorrect.'
        )

    def choice(
        self, name: str, choices: tuple[str, ...], *, default: str | None = None
    ) -> str | None:
        """One of ``choices``, matched case-insensitively, returned in its canonical spelling."""
        value = self.get(name)
        if value is None:
            return default
        for candidate in choices:
            if candidate.lower() == value.lower():
                return candidate
        raise InvalidArgument(
            name, None, f"The parameter {name} must be one of {', '.join(choices)}."
        )

    def objects(self, name: str) -> list[dict[str, Any]]:
        """A list of objects sent as JSON (``Tag=[{"Key":…}]``) or flattened (``Tag.1.Key=…``)."""
        value = self.get(name)
        if value is not None:
            return _json_list(name, value)
        return _flattened(name, self._raw)


def _json_list(name: str, value: str) -> list[dict[str, Any]]:
    try:
        decoded = json.loads(value)
    except ValueError:
        raise InvalidArgument(name, "Format", f"The parameter {name} is not valid JSON.") from None
    if not isinstance(decoded, list) or not all(isinstance(item, dict) for item in decoded):
        raise InvalidArgument(name, "Format", f"The parameter {name} must be a list of objects.")
    return decoded


def _flattened(name: str, raw: Mapping[str, str]) -> list[dict[str, Any]]:
    prefix = name + "."
    items: dict[int, dict[str, Any]] = {}
    for key, value in raw.items():
        if not key.startswith(prefix):
            continue
        match = _FLAT_INDEX.fullmatch(key[len(prefix) :])
        if match is None:
            raise InvalidArgument(key, "Format", f"The parameter {key} is not a valid list entry.")
        index = int(match.group(1))
        items.setdefault(index, {})[match.group(2) or "Value"] = value
    return [items[i] for i in sorted(items)]
