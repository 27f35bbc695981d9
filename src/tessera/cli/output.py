"""How the client commands print: JSON as the aliyun CLI prints it, and error lines.

Owns: ``format_json`` (keys sorted, tab indentation, non-ASCII and ``<>&`` left as they are,
like the aliyun CLI's ``sortJSON``; spec/sts-ram.md §5.4), ``fail`` for one-line errors on
stderr, and ``connection_problem``: the short reason a request got no answer.
Must not: decide what to print; callers hand over the value.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any, TextIO


def format_json(value: Any) -> str:
    """``value`` with sorted keys and tab indentation, no escaping beyond JSON's own."""
    return json.dumps(value, sort_keys=True, indent="\t", ensure_ascii=False)


def print_json(value: Any, stream: TextIO | None = None) -> None:
    print(format_json(value), file=stream or sys.stdout)


def fail(message: str, code: int = 1) -> int:
    """Print ``tessera: <message>`` on stderr and return ``code`` (the exit status)."""
    print(f"tessera: {message}", file=sys.stderr)
    return code


_OS_ERROR = re.compile(r"\[Errno -?\d+\] [^\"')]+|timed out")
_TLS_ERROR = re.compile(r"certificate verify failed: [^\"')(]+")


def connection_problem(exc: BaseException) -> str:
    """A short reason for a failed connection: the OS or TLS error inside the client's text."""
    text = str(getattr(exc, "message", None) or exc) or type(exc).__name__
    tls = _TLS_ERROR.search(text)
    if tls is not None:
        return f"{tls.group(0).strip()} (trust a private CA with SSL_CERT_FILE=<ca.pem>)"
    found = _OS_ERROR.search(text)
    return found.group(0).strip() if found else text.splitlines()[0][:300]
