"""A string that must not leak into logs, reprs or tracebacks.

Owns: ``Secret``, the wrapper for AccessKey secrets, master keys in text form and passwords.
Must not: do I/O, or offer any way to read the value other than ``reveal()``.
"""

from __future__ import annotations

import hmac

_MASK = "Secret('**********')"


class Secret:
    """Wraps a ``str``; ``repr``, ``str`` and ``format`` all show ``Secret('**********')``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("Secret wraps a str")
        self._value = value

    def reveal(self) -> str:
        """The wrapped value; call it only where the value is really needed."""
        return self._value

    def __repr__(self) -> str:
        return _MASK

    def __str__(self) -> str:
        return _MASK

    def __format__(self, format_spec: str) -> str:
        return _MASK

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        mine = self._value.encode("utf-8", "surrogatepass")
        theirs = other._value.encode("utf-8", "surrogatepass")
        return hmac.compare_digest(mine, theirs)

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> Secret:
        return self
