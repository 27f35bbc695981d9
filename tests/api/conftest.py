"""Fixtures: one real ``tessera serve`` shared by the session, fresh ones where needed.

Every test under ``tests/api`` talks to a real server process over loopback. Tests share the
session server (``server``) and keep out of each other's way with unique names
(``clients.unique``); a test that needs its own process (TLS, a first start, signals, a
second account) asks ``fresh_server`` for one, which is stopped when the test ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.clients import ROOT, FreshServer, Identities, TeaApi, ram_api, sts_api
from tests.api.rawrpc import RawRpc
from tests.server import TesseraServer


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TesseraServer]:
    """The shared server (plain http, known root credentials)."""
    base = tmp_path_factory.mktemp("tessera-session")
    srv = TesseraServer(base / "data").start()
    try:
        yield srv
    finally:
        code = srv.stop()
        assert code == 0, f"the session server exited with {code}:\n{srv.log()}"


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[FreshServer]:
    """A factory for servers of this test only: ``fresh_server(tls=True, extra_env={...})``."""
    started: list[TesseraServer] = []

    def start(
        *,
        tls: bool = False,
        server_class: type[TesseraServer] = TesseraServer,
        data_dir: Path | None = None,
        **kwargs: object,
    ) -> TesseraServer:
        directory = data_dir or tmp_path / f"data{len(started)}"
        srv = server_class(directory, tls=tls, **kwargs)  # type: ignore[arg-type]
        started.append(srv)
        return srv.start()

    yield start
    for srv in started:
        srv.stop()


@pytest.fixture(scope="session")
def root_ram(server: TesseraServer) -> TeaApi:
    return ram_api(server, ROOT)


@pytest.fixture(scope="session")
def root_sts(server: TesseraServer) -> TeaApi:
    return sts_api(server, ROOT)


@pytest.fixture(scope="session")
def ids(server: TesseraServer) -> Identities:
    """Creates users (with keys and policies) and roles on the session server."""
    return Identities(server)


@pytest.fixture(scope="session")
def raw(server: TesseraServer) -> RawRpc:
    return RawRpc(server.endpoint)
