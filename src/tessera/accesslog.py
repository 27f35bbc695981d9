"""The structured access log: one JSON line per request.

Owns: ``AccessRecord`` (filled in as a request is handled: request id, principal, action,
resource, decision, status, latency) and ``AccessLog``, which writes the lines out.
Must not: ever hold secrets, signatures, security tokens or AccessKey secrets — only the
AccessKeyId and names. Fields are set by name, so nothing else can slip in.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TextIO

import orjson


@dataclass(slots=True)
class AccessRecord:
    request_id: str
    method: str
    path: str
    source_ip: str
    api: str = "-"
    started: float = field(default_factory=time.perf_counter)
    principal: str = "-"
    access_key_id: str = "-"
    action: str = "-"
    resource: str = "-"
    decision: str = "-"
    error_code: str = "-"
    status: int = 0

    def note_decision(self, action: str, resource: str, decision: str) -> None:
        self.action = action
        self.resource = resource
        self.decision = decision

    def line(self) -> str:
        """The JSON line for this request; only the fields above, never a secret."""
        fields = {
            "request_id": self.request_id,
            "api": self.api,
            "method": self.method,
            "path": self.path,
            "source_ip": self.source_ip,
            "principal": self.principal,
            "access_key_id": self.access_key_id,
            "action": self.action,
            "resource": self.resource,
            "decision": self.decision,
            "status": self.status,
            "error_code": self.error_code,
            "latency_ms": round((time.perf_counter() - self.started) * 1000, 3),
        }
        return orjson.dumps(fields).decode()


#: PIPE_BUF on Linux: the largest write a pipe keeps in one piece
ATOMIC_WRITE = 4096


class AccessLog:
    """Writes access lines to a text stream, buffered so a busy server does not pay a system
    call per request: the buffer is written out when it holds 64 KiB, when its oldest line is
    older than ``max_delay`` seconds, and whenever ``flush`` is called (the server calls it
    every 100 ms and at shutdown). ``stream=None`` disables the log."""

    def __init__(self, stream: TextIO | None, max_delay: float = 0.1) -> None:
        self._stream = stream
        self._max_delay = max_delay
        self._lines: list[str] = []
        self._size = 0
        self._oldest = 0.0
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self._stream is not None

    def write(self, record: AccessRecord) -> None:
        if self._stream is None:
            return
        line = record.line()
        now = time.monotonic()
        with self._lock:
            if not self._lines:
                self._oldest = now
            self._lines.append(line)
            self._size += len(line)
            due = self._size >= 65536 or now - self._oldest >= self._max_delay
        if due:
            self.flush()

    def flush(self) -> None:
        """Write the buffered lines in pieces of whole lines of at most ``ATOMIC_WRITE`` bytes,
        each flushed on its own: the worker processes of ``serve --workers`` share one
        stderr, and a write up to that size to a pipe (or an O_APPEND file) is never
        interleaved with another process's."""
        with self._lock:
            lines, self._lines, self._size = self._lines, [], 0
        if not lines or self._stream is None:
            return
        piece: list[str] = []
        size = 0
        for line in lines:
            length = len(line.encode("utf-8", "replace")) + 1
            if piece and size + length > ATOMIC_WRITE:
                self._write(piece)
                piece, size = [], 0
            piece.append(line)
            size += length
        self._write(piece)

    def _write(self, lines: list[str]) -> None:
        assert self._stream is not None
        self._stream.write("\n".join(lines) + "\n")
        self._stream.flush()
