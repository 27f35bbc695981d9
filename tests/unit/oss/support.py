"""An ``OssRequest`` for unit tests of what an operation reads from it (no server)."""

from __future__ import annotations

from tessera.asgi import Receive
from tessera.oss.addressing import resolve
from tessera.oss.exchange import OssRequest
from tessera.oss.routing import route


def put_request(headers: dict[str, str], receive: Receive) -> OssRequest:
    """A PUT of ``/photos/cat.jpg`` (path style) with ``headers``, its body from ``receive``."""
    address = resolve("127.0.0.1:9000", "/photos/cat.jpg")
    assert address is not None
    return OssRequest(
        method="PUT",
        headers=headers,
        query=(),
        params={},
        address=address,
        route=route("PUT", address.target, []),
        receive=receive,
        now=0.0,
        endpoint="http://127.0.0.1:9000",
    )
