"""Hello-world ASGI apps returning ``benchlib.FIXED_BODY``, and a launcher for them.

``raw_app`` is a bare ASGI callable; ``starlette_app`` is the same answer behind one Starlette
route. Both are importable as ``hello_apps:raw_app`` / ``hello_apps:starlette_app`` (with
``bench/`` on the path) for the granian and uvicorn command lines. ``raw_4k_app`` (``--app
raw-4k``) is the bare callable answering ``BODY_4K``, 4 KiB, for ``oss.py``'s GET ceiling.

``python bench/hello_apps.py --app raw --port P`` serves one of them on granian's embedded
server exactly as ``tessera serve`` does: ``tessera.runtime._serve`` itself is called, on the
event loop ``tessera.runtime._run_loop`` picks, so a change to how Tessera runs granian
(event loop, options) is picked up here too. ``_serve`` is
handed a stand-in runtime: real ``Settings``, and the hello app dressed as Tessera's app (any
attribute ``_serve`` reads from it, such as its access log, is a no-op object). If ``_serve``
starts to need more of a runtime, this launcher fails loudly and ``HelloNode`` needs it too.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import FIXED_BODY

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(FIXED_BODY)).encode()),
]

#: a 4 KiB body, as the OSS benchmark's small objects (``bench/oss.py``)
BODY_4K: bytes = (b"0123456789abcdef" * 256)[:4096]
_HEADERS_4K = [
    (b"content-type", b"application/octet-stream"),
    (b"content-length", str(len(BODY_4K)).encode()),
]


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def raw_4k_app(scope: Scope, receive: Receive, send: Send) -> None:
    """``BODY_4K`` for every HTTP request; lifespan acknowledged."""
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS_4K})
    await send({"type": "http.response.body", "body": BODY_4K})


async def raw_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The fixed body for every HTTP request; lifespan acknowledged."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": FIXED_BODY})


async def _hello(request: Request) -> Response:
    return Response(FIXED_BODY, media_type="application/json")


starlette_app = Starlette(routes=[Route("/", _hello, methods=["GET", "POST"])])

APPS: dict[str, Any] = {"raw": raw_app, "raw-4k": raw_4k_app, "starlette": starlette_app}


class _NoOp:
    """Stands for any helper object of Tessera's app: every method call does nothing."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


class HelloNode:
    """A hello app with the attributes ``tessera.runtime._serve`` may read from Tessera's."""

    def __init__(self, app: Any) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # granian inspects callables (__name__, __wrapped__, ...)
            raise AttributeError(name)
        return _NoOp()


def main() -> None:
    parser = argparse.ArgumentParser(description="serve a hello app on Tessera's granian stack")
    parser.add_argument("--app", choices=sorted(APPS), default="raw")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()

    from tessera import runtime as tessera_runtime
    from tessera.config import Settings
    from tessera.runtime import _serve

    # the event loop `tessera serve` runs on (``_run_loop`` picks uvloop when installed)
    run_loop = getattr(tessera_runtime, "_run_loop", asyncio.run)

    runtime = SimpleNamespace(
        settings=Settings(host=args.host, port=args.port), app=HelloNode(APPS[args.app])
    )
    run_loop(_serve(runtime, None))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
