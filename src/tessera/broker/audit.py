"""The audit trail: one JSON line per token the broker obtained from STS.

Owns: ``DATA_DIR/audit.jsonl`` (created 0600, opened ``O_APPEND``, one ``write`` per record so
lines never interleave), the record's fields, and reading it back for ``tessera broker audit``.
A record names the app user, how it authenticated, the template, the role, the
RoleSessionName, the AccessKeyId and its expiration, the STS RequestId, the client address
and the broker's request id — enough to trace an OSS access-log line (which shows the
AccessKeyId and the session name) back to the app user behind it.
Must not: ever record the AccessKeySecret, the SecurityToken, an API key or a JWT.

Tokens served again from the cache are not recorded again: the cache key holds the user, so
each AccessKeyId belongs to exactly one app user and its first record says who.
If a record cannot be written the token is not handed out (``BrokerInternalError``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tessera.broker.errors import BrokerInternalError
from tessera.clock import Clock, iso8601


@dataclass(frozen=True, slots=True)
class AuditRecord:
    user_id: str
    auth_method: str
    template: str
    role_arn: str
    role_session_name: str
    access_key_id: str
    expiration: str
    sts_request_id: str = ""
    source_ip: str = ""
    request_id: str = ""
    variables: Mapping[str, str] = field(default_factory=dict)


class AuditLog:
    def __init__(self, path: Path, clock: Clock) -> None:
        self.path = path
        self.clock = clock
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def record(self, record: AuditRecord) -> None:
        entry: dict[str, Any] = {"time": iso8601(self.clock.now()), "event": "AssumeRole"}
        entry.update(asdict(record))
        entry["variables"] = dict(record.variables)
        line = (json.dumps(entry, separators=(",", ":"), ensure_ascii=False) + "\n").encode()
        try:
            written = os.write(self._fd, line)
        except OSError as exc:
            raise BrokerInternalError(f"the audit log cannot be written ({exc.strerror})") from None
        if written != len(line):
            raise BrokerInternalError("the audit log could not be written in full")

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def read_audit(path: Path) -> Iterator[dict[str, Any]]:
    """The records of an audit file, oldest first (a torn last line is skipped)."""
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            try:
                yield json.loads(line)
            except ValueError:
                continue
