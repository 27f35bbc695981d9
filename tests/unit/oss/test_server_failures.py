"""A failure of the server's own answers ``InternalError`` (500), telling the client nothing
more, and is logged with its cause for the operator: a full disk under a PutObject, say."""

from __future__ import annotations

import asyncio
import errno
import logging
from pathlib import Path

import pytest

from tessera.asgi import Message
from tessera.blobs import filesystem
from tessera.config import load_settings
from tessera.runtime import build_runtime
from tessera.store.oss_base import Bucket

BODY = b"x" * (100 * 1024)  # above the inline bound: written to a blob file


def _disk_full(fd: int, data: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


async def _put(app: object, path: str, body: bytes, query: bytes = b"") -> tuple[int, bytes]:
    """An anonymous PutObject through the ASGI app, in process; (status, body)."""
    sent: list[Message] = []
    scope = {
        "type": "http",
        "method": "PUT",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "headers": [(b"host", b"127.0.0.1:9000"), (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
    }

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)  # type: ignore[operator]
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def test_a_full_disk_is_an_internal_error_whose_cause_is_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    runtime = build_runtime(load_settings(environ={}, overrides={"data_dir": tmp_path}))
    try:
        account = "1234567890123456"
        bucket = Bucket("open", account, "cn-hangzhou", "2026-01-01T00:00:00.000Z")
        runtime.oss_store.create_bucket(bucket)
        runtime.oss_store.put_bucket_acl("open", "public-read-write")
        monkeypatch.setattr(filesystem, "_write_all", _disk_full)
        with caplog.at_level(logging.ERROR, logger="tessera.oss"):
            status, body = asyncio.run(_put(runtime.app, "/open/big.bin", BODY))
        assert status == 500
        assert b"<Code>InternalError</Code>" in body
        assert b"space" not in body  # the cause stays in the server's log
        [logged] = [r for r in caplog.records if r.name == "tessera.oss"]
        request_id = body.split(b"<RequestId>")[1].split(b"</RequestId>")[0].decode()
        assert request_id in logged.getMessage()
        assert "No space left on device" in logged.getMessage()
        assert runtime.oss_store.get_object("open", "big.bin") is None  # nothing stored
        monkeypatch.undo()
        assert asyncio.run(_put(runtime.app, "/open/big.bin", BODY))[0] == 200
    finally:
        runtime.close()


def test_an_answer_to_the_clients_request_is_not_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """501 NotImplemented (PutBucketLifecycle: not offered) is no failure of the server."""
    runtime = build_runtime(load_settings(environ={}, overrides={"data_dir": tmp_path}))
    try:
        with caplog.at_level(logging.ERROR, logger="tessera.oss"):
            status, body = asyncio.run(_put(runtime.app, "/open", b"<x/>", b"lifecycle"))
        assert status == 501 and b"<Code>NotImplemented</Code>" in body
        assert [r for r in caplog.records if r.name == "tessera.oss"] == []
    finally:
        runtime.close()
