from __future__ import annotations

import io
import json

from tessera.accesslog import AccessLog, AccessRecord

FIELDS = {
    "request_id",
    "api",
    "method",
    "path",
    "source_ip",
    "principal",
    "access_key_id",
    "action",
    "resource",
    "decision",
    "status",
    "error_code",
    "latency_ms",
}


def record(n: int) -> AccessRecord:
    rec = AccessRecord(f"R{n}", "POST", "/", "127.0.0.1")
    rec.note_decision("sts:AssumeRole", "acs:ram:*:1:role/r", "allow")
    rec.status = 200
    return rec


def test_a_line_is_json_with_exactly_the_named_fields() -> None:
    line = json.loads(record(1).line())
    assert set(line) == FIELDS
    assert (line["action"], line["decision"], line["status"]) == ("sts:AssumeRole", "allow", 200)


def test_lines_are_buffered_until_flush_or_delay() -> None:
    stream = io.StringIO()
    log = AccessLog(stream, max_delay=3600)
    log.write(record(1))
    log.write(record(2))
    assert stream.getvalue() == ""
    log.flush()
    assert [json.loads(x)["request_id"] for x in stream.getvalue().splitlines()] == ["R1", "R2"]


def test_an_old_buffer_is_written_by_the_next_line() -> None:
    stream = io.StringIO()
    log = AccessLog(stream, max_delay=0.0)
    log.write(record(1))
    assert json.loads(stream.getvalue())["request_id"] == "R1"


def test_a_disabled_log_writes_nothing() -> None:
    log = AccessLog(None)
    log.write(record(1))
    log.flush()
    assert not log.enabled
