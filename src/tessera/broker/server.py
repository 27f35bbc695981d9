"""Assembling the broker from ``BrokerSettings`` and serving it.

Owns: wiring (authenticators, JWKS source, STS client, audit log, cache, the ASGI app) in
``build_broker``; serving with granian embedded exactly as ``tessera serve`` does
(``embedded_server``; ``tessera.runtime`` uses it to run the broker in-process on its own
port beside the main listener), and the standalone ``tessera broker`` process (``run``)
with clean shutdown on SIGINT/SIGTERM.
Must not: hold request logic.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from tessera.asgi import ASGIApp
from tessera.broker.app import create_app
from tessera.broker.audit import AuditLog
from tessera.broker.auth import (
    ApiKeys,
    Authenticator,
    JwkSource,
    JwtVerifier,
    RemoteJwks,
    StaticJwks,
)
from tessera.broker.config import BrokerSettings, BrokerSettingsError
from tessera.broker.service import Broker
from tessera.broker.sts_client import AlibabaSts, Sts
from tessera.clock import Clock, SystemClock
from tessera.listen import AddressInUse, ensure_port_free

log = logging.getLogger("tessera.broker")


@dataclass(frozen=True, slots=True)
class BrokerRuntime:
    settings: BrokerSettings
    broker: Broker
    app: ASGIApp

    def close(self) -> None:
        self.broker.audit.close()


def _jwk_source(settings: BrokerSettings, clock: Clock) -> JwkSource | None:
    jwt_settings = settings.jwt
    if jwt_settings is None:
        return None
    if jwt_settings.jwks_file is not None:
        try:
            document = json.loads(jwt_settings.jwks_file.read_text(encoding="utf-8"))
            return StaticJwks(document)
        except (OSError, ValueError) as exc:
            raise BrokerSettingsError(f"jwt.jwks_file {jwt_settings.jwks_file}: {exc}") from None
    assert jwt_settings.jwks_url is not None
    return RemoteJwks(
        jwt_settings.jwks_url,
        clock,
        cache_seconds=jwt_settings.jwks_cache_seconds,
        min_refresh_seconds=jwt_settings.jwks_min_refresh_seconds,
    )


def build_broker(
    settings: BrokerSettings,
    *,
    clock: Clock | None = None,
    sts: Sts | None = None,
    jwks: JwkSource | None = None,
) -> BrokerRuntime:
    """The broker for ``settings``; tests inject ``clock``, ``sts`` and ``jwks``."""
    clock = clock or SystemClock()
    source = jwks if jwks is not None else _jwk_source(settings, clock)
    verifier = (
        JwtVerifier(settings.jwt, clock, source)
        if settings.jwt is not None and source is not None
        else None
    )
    authenticator = Authenticator(ApiKeys(settings.api_keys), verifier, settings.query_api_key)
    audit = AuditLog(settings.audit_path, clock)
    broker = Broker(
        settings,
        authenticator=authenticator,
        sts=sts if sts is not None else AlibabaSts(settings.sts),
        clock=clock,
        audit=audit,
    )
    return BrokerRuntime(settings, broker, create_app(broker, settings.cors))


def embedded_server(app: Any, host: str, port: int) -> Any:
    """A granian embedded server for ``app``, configured as ``tessera serve`` runs its own."""
    from granian.constants import Interfaces
    from granian.server.embed import Server

    return Server(
        app,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        websockets=False,
        log_enabled=False,
        backlog=1024,
    )


def describe(runtime: BrokerRuntime, host: str, port: int) -> str:
    settings = runtime.settings
    methods = []
    if settings.api_keys:
        methods.append(f"{len(settings.api_keys)} API keys")
    if settings.jwt is not None:
        methods.append(f"JWT from {settings.jwt.issuer}")
    return (
        f"Tessera broker listening on http://{host}:{port} "
        f"(STS {settings.sts.url} as {settings.sts.access_key_id}; "
        f"templates {', '.join(sorted(settings.templates))}; {'; '.join(methods)}; "
        f"audit {settings.audit_path})"
    )


async def _serve(runtime: BrokerRuntime) -> None:
    settings = runtime.settings
    server = embedded_server(runtime.app, settings.host, settings.port)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, server.stop)
    await server.serve()


def _run_loop(main: Coroutine[Any, Any, None]) -> None:
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
        return
    uvloop.run(main)


def run(settings: BrokerSettings) -> int:
    """``tessera broker``: serve until SIGINT/SIGTERM; returns the exit code."""
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    logging.getLogger("_granian").setLevel(logging.WARNING)
    logging.getLogger("granian").setLevel(logging.WARNING)
    try:
        ensure_port_free(settings.host, settings.port)
    except AddressInUse as exc:
        print(f"tessera broker: {exc}", file=sys.stderr, flush=True)
        return 1
    runtime = build_broker(settings)
    print(describe(runtime, settings.host, settings.port), flush=True)
    try:
        _run_loop(_serve(runtime))
    finally:
        runtime.close()
    return 0
