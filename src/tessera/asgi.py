"""The ASGI vocabulary Tessera's own apps share: message types, the lifespan answer, replay.

Owns: the type aliases of the ASGI interface, the lifespan exchange every app answers the
same way (nothing to start or stop), and ``replay`` — a ``receive`` that hands over a body
already read, for the layers that must look at a body before passing the request on.
Must not: know about RPC, OSS or the broker.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["ASGIApp", "Message", "Receive", "Scope", "Send", "lifespan", "replay"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def lifespan(receive: Receive, send: Send) -> None:
    """Answer the server's start-up and shut-down messages."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def replay(body: bytes) -> Receive:
    """A ``receive`` that hands out ``body`` once, then reports the disconnect."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
