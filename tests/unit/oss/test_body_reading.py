"""How the OSS and RPC body readers consume ASGI ``receive``.

A body framed by ``Content-Length`` is complete once that many bytes are in: the readers must
not ask the server for the end of it (granian reports the end in a message of its own, a round
trip through its thread). A chunked body, or one cut short, is read until the server says so.
The scripted ``receive`` fails the test if it is asked for more than it was given.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from tessera.asgi import Message
from tessera.errors import InvalidArgument, RequestTooLarge
from tessera.oss.exchange import OssRequest
from tessera.web.server import read_body as read_rpc_body

from .support import put_request


class Script:
    """A ``receive`` that hands out ``messages`` in order and refuses to be called again."""

    def __init__(self, messages: Sequence[Message]) -> None:
        self.messages = list(messages)
        self.calls = 0

    async def __call__(self) -> Message:
        self.calls += 1
        if self.calls > len(self.messages):
            raise AssertionError(f"receive() called {self.calls} times; the script has no more")
        return self.messages[self.calls - 1]


def part(body: bytes, more: bool) -> Message:
    return {"type": "http.request", "body": body, "more_body": more}


def request(headers: dict[str, str], receive: Script) -> OssRequest:
    return put_request(headers, receive)


async def chunks_of(req: OssRequest, limit: int = 1 << 20) -> list[bytes]:
    return [chunk async for chunk in req.body_chunks(limit)]


BODY = bytes(range(256)) * 16  # 4 KiB


@pytest.mark.parametrize("end_with_the_bytes", [False, True])
def test_a_framed_body_is_read_without_asking_for_its_end(end_with_the_bytes: bool) -> None:
    """granian reports the end in a message of its own; a server that reports it with the
    last bytes is taken at its word too."""
    script = Script([part(BODY, not end_with_the_bytes)])
    req = request({"content-length": str(len(BODY))}, script)
    assert asyncio.run(req.read_body(1 << 20)) == BODY
    assert script.calls == 1


def test_a_framed_body_streams_without_asking_for_its_end() -> None:
    script = Script([part(BODY[:1000], True), part(BODY[1000:], True)])
    req = request({"content-length": str(len(BODY))}, script)
    assert asyncio.run(chunks_of(req)) == [BODY[:1000], BODY[1000:]]
    assert script.calls == 2


def test_a_framed_body_in_several_messages_is_joined() -> None:
    script = Script([part(BODY[:10], True), part(BODY[10:], True)])
    req = request({"content-length": str(len(BODY))}, script)
    assert asyncio.run(req.read_body(1 << 20)) == BODY
    assert script.calls == 2


def test_a_chunked_body_is_read_until_the_server_ends_it() -> None:
    # Content-Length beside Transfer-Encoding frames nothing: the chunks do
    script = Script([part(b"hello", True), part(b" world", True), part(b"", False)])
    headers = {"transfer-encoding": "chunked", "content-length": "5"}
    assert asyncio.run(request(headers, script).read_body(1 << 20)) == b"hello world"
    assert script.calls == 3
    script = Script([part(b"hello", True), part(b" world", True), part(b"", False)])
    assert asyncio.run(chunks_of(request(headers, script))) == [b"hello", b" world"]
    assert script.calls == 3


def test_a_body_cut_short_is_refused() -> None:
    script = Script([part(BODY[:100], True), {"type": "http.disconnect"}])
    req = request({"content-length": str(len(BODY))}, script)
    with pytest.raises(InvalidArgument):
        asyncio.run(req.read_body(1 << 20))
    script = Script([part(BODY[:100], True), {"type": "http.disconnect"}])
    with pytest.raises(InvalidArgument):
        asyncio.run(chunks_of(request({"content-length": str(len(BODY))}, script)))


def test_no_body_and_an_oversized_one_are_not_read() -> None:
    script = Script([])
    assert asyncio.run(request({"content-length": "0"}, script).read_body(1 << 20)) == b""
    assert asyncio.run(request({}, script).read_body(1 << 20)) == b""
    with pytest.raises(RequestTooLarge):
        asyncio.run(request({"content-length": "5000"}, script).read_body(4096))
    assert script.calls == 0


def test_the_rpc_reader_stops_at_the_framed_length_too() -> None:
    form = b"Action=AssumeRole&RoleArn=acs%3Aram%3A%3A1%3Arole%2Fr&RoleSessionName=s"
    script = Script([part(form, True)])
    headers = {"content-length": str(len(form))}
    assert asyncio.run(read_rpc_body(script, headers, 1 << 16)) == form
    assert script.calls == 1
    script = Script([part(form[:7], True), part(form[7:], True), part(b"", False)])
    chunked = {"transfer-encoding": "chunked"}
    assert asyncio.run(read_rpc_body(script, chunked, 1 << 16)) == form
    assert script.calls == 3
