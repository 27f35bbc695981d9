"""An RPC request failing for the server's own reason (status 500) is logged with its cause;
one failing for the client's reason is not (its answer already says why)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from tessera.accesslog import AccessRecord
from tessera.errors import InternalError, MissingArgument, TesseraError
from tessera.rpc.actions import RequestFacts
from tessera.rpc.app import RpcApp, RpcRequest


def _failing_with(error: TesseraError) -> RpcApp:
    app = RpcApp(None, None, None, None, None, "tessera.test")  # type: ignore[arg-type]

    def prepare(*_: Any) -> Any:
        raise error

    app._prepare = prepare  # type: ignore[method-assign,assignment]
    return app


def _handle(app: RpcApp) -> tuple[int, bytes, AccessRecord]:
    request = RpcRequest("POST", "/", [], [], {}, b"", RequestFacts("127.0.0.1", False))
    record = AccessRecord("REQ-1", "POST", "/", "127.0.0.1")
    status, _, body = asyncio.run(app.handle(request, record))
    return status, body, record


def test_a_server_failure_is_logged_with_its_cause(caplog: pytest.LogCaptureFixture) -> None:
    app = _failing_with(InternalError("the write-ahead log could not be synced"))
    with caplog.at_level(logging.ERROR, logger="tessera.rpc"):
        status, body, record = _handle(app)
    assert status == 500 and b"InternalError" in body
    [logged] = [r for r in caplog.records if r.name == "tessera.rpc"]
    assert record.request_id in logged.getMessage()
    assert "the write-ahead log could not be synced" in logged.getMessage()


def test_a_client_error_is_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    app = _failing_with(MissingArgument("RoleArn"))
    with caplog.at_level(logging.ERROR, logger="tessera.rpc"):
        status, _, _ = _handle(app)
    assert 400 <= status < 500
    assert [r for r in caplog.records if r.name == "tessera.rpc"] == []
