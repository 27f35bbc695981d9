"""The structured access log: one JSON line per request.

Owns: ``AccessRecord`` (filled in as a request is handled: request id, principal, action,
resource, decision, status, latency) and its emission on the ``tessera.access`` logger.
Must not: ever hold secrets, signatures, security tokens or AccessKey secrets — only the
AccessKeyId and names. Fields are set by name, so nothing else can slip in.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field

logger = logging.getLogger("tessera.access")


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

    def emit(self) -> None:
        if not logger.isEnabledFor(logging.INFO):
            return
        line = {
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
        logger.info(json.dumps(line, ensure_ascii=False, separators=(",", ":")))
