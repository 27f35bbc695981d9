"""Hand-made RPC requests for the cases no official SDK can produce.

A tiny, independent implementation of the two RPC signatures, written from spec/sts-ram.md
§2.3 (V1, HMAC-SHA1) and §2.4 (V3, ACS3-HMAC-SHA256). It deliberately does not import
``tessera.signing``: the tests that use it check the server's verification, so the signer
must not share code with the verifier.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import http.client
import json
import socket
import ssl
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree

STS_VERSION = "2015-04-01"
RAM_VERSION = "2015-05-01"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

Pairs = list[tuple[str, str]]


# ---- V1 (spec §2.3) --------------------------------------------------------------------------


def percent_encode(text: str) -> str:
    """RFC 3986: unreserved ``A-Z a-z 0-9 - _ . ~`` stay, everything else ``%XY`` of UTF-8."""
    return quote(text, safe="-_.~", encoding="utf-8")


def v1_canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    encoded = sorted((percent_encode(k), percent_encode(v)) for k, v in pairs if k != "Signature")
    return "&".join(f"{k}={v}" for k, v in encoded)


def v1_string_to_sign(method: str, pairs: Iterable[tuple[str, str]]) -> str:
    return f"{method}&{percent_encode('/')}&{percent_encode(v1_canonical_query(pairs))}"


def v1_signature(string_to_sign: str, secret: str) -> str:
    digest = hmac.new(f"{secret}&".encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def timestamp(offset_seconds: float = 0.0) -> str:
    when = datetime.now(UTC) + timedelta(seconds=offset_seconds)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def nonce() -> str:
    return uuid.uuid4().hex


@dataclass
class Credentials:
    access_key_id: str
    access_key_secret: str
    security_token: str | None = None


def v1_common(
    creds: Credentials | None,
    action: str | None,
    version: str | None,
    *,
    fmt: str | None = "JSON",
    ts: str | None = None,
    signature_nonce: str | None = None,
) -> Pairs:
    pairs: Pairs = []
    if action is not None:
        pairs.append(("Action", action))
    if version is not None:
        pairs.append(("Version", version))
    if fmt is not None:
        pairs.append(("Format", fmt))
    pairs += [
        ("Timestamp", ts or timestamp()),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("SignatureNonce", signature_nonce or nonce()),
    ]
    if creds is not None:
        pairs.append(("AccessKeyId", creds.access_key_id))
        if creds.security_token is not None:
            pairs.append(("SecurityToken", creds.security_token))
    return pairs


def v1_sign(method: str, pairs: Sequence[tuple[str, str]], secret: str) -> tuple[Pairs, str]:
    """``pairs`` plus ``Signature``, and the string to sign."""
    string_to_sign = v1_string_to_sign(method, pairs)
    return [*pairs, ("Signature", v1_signature(string_to_sign, secret))], string_to_sign


def encode_pairs(pairs: Iterable[tuple[str, str]]) -> str:
    return "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in pairs)


# ---- V3 (spec §2.4) --------------------------------------------------------------------------


@dataclass
class V3Signed:
    headers: dict[str, str]
    query: str
    canonical_request: str
    string_to_sign: str


def v3_sign(
    method: str,
    host: str,
    action: str,
    version: str,
    query: Sequence[tuple[str, str]],
    creds: Credentials,
    *,
    body: bytes = b"",
    date: str | None = None,
    signature_nonce: str | None = None,
    extra_headers: Mapping[str, str] | None = None,
) -> V3Signed:
    payload_hash = hashlib.sha256(body).hexdigest()
    headers = {
        "host": host,
        "x-acs-action": action,
        "x-acs-version": version,
        "x-acs-date": date or timestamp(),
        "x-acs-signature-nonce": signature_nonce or nonce(),
        "x-acs-content-sha256": payload_hash,
    }
    if creds.security_token is not None:
        headers["x-acs-security-token"] = creds.security_token
    headers.update({k.lower(): v for k, v in (extra_headers or {}).items()})
    signed = sorted(headers)
    canonical_query = "&".join(
        f"{k}={v}" for k, v in sorted((percent_encode(k), percent_encode(v)) for k, v in query)
    )
    canonical_headers = "".join(f"{name}:{headers[name].strip()}\n" for name in signed)
    canonical_request = "\n".join(
        [method, "/", canonical_query, canonical_headers, ";".join(signed), payload_hash]
    )
    string_to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical_request.encode()).hexdigest()
    signature = hmac.new(
        creds.access_key_secret.encode(), string_to_sign.encode(), hashlib.sha256
    ).hexdigest()
    headers["authorization"] = (
        f"ACS3-HMAC-SHA256 Credential={creds.access_key_id},"
        f"SignedHeaders={';'.join(signed)},Signature={signature}"
    )
    return V3Signed(headers, canonical_query, canonical_request, string_to_sign)


# ---- sending -------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    elapsed_ok: bool = True
    _json: Any = field(default=None, repr=False)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def json(self) -> Any:
        if self._json is None:
            self._json = json.loads(self.body)
        return self._json

    def xml(self) -> ElementTree.Element:
        return ElementTree.fromstring(self.body)

    @property
    def code(self) -> str | None:
        """The error ``Code`` of a JSON or XML body (``None`` when there is none)."""
        if "xml" in self.content_type:
            found = self.xml().find("Code")
            return None if found is None else found.text
        value = self.json().get("Code")
        return value if isinstance(value, str) else None

    @property
    def message(self) -> str:
        if "xml" in self.content_type:
            found = self.xml().find("Message")
            return "" if found is None or found.text is None else found.text
        return str(self.json().get("Message", ""))


def send(
    endpoint: str,
    method: str,
    target: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
    tls_context: ssl.SSLContext | None = None,
    timeout: float = 5.0,
) -> Reply:
    """One raw HTTP request; ``target`` goes on the request line exactly as given."""
    host, _, port = endpoint.partition(":")
    conn: http.client.HTTPConnection
    if tls_context is not None:
        conn = http.client.HTTPSConnection(host, int(port), timeout=timeout, context=tls_context)
    else:
        conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        sent = {k.lower(): v for k, v in (headers or {}).items()}
        sent.setdefault("host", endpoint)
        if body or method in ("POST", "PUT"):
            sent.setdefault("content-length", str(len(body)))
        for name, value in sent.items():
            conn.putheader(name, value)
        # the server may answer (413) and close before reading the whole body: its answer
        # is still waiting in the socket
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            conn.endheaders(body or None)
        response = conn.getresponse()
        data = response.read()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
    finally:
        conn.close()


class RawRpc:
    """Signed and unsigned RPC requests against one server."""

    def __init__(self, endpoint: str, tls_context: ssl.SSLContext | None = None) -> None:
        self.endpoint = endpoint
        self.tls_context = tls_context

    def v1(
        self,
        creds: Credentials | None,
        action: str | None,
        params: Mapping[str, str] | Sequence[tuple[str, str]] = (),
        *,
        version: str | None = STS_VERSION,
        method: str = "GET",
        fmt: str | None = "JSON",
        ts: str | None = None,
        signature_nonce: str | None = None,
        sign_with: str | None = None,
        in_body: bool = False,
        overrides: Mapping[str, str] | None = None,
    ) -> tuple[Reply, str]:
        """A V1 request; returns the reply and the string to sign the client used.

        ``sign_with`` replaces the secret (a wrong secret); ``overrides`` replace parameters
        after signing (a tampered request); ``in_body`` sends everything as a form body.
        """
        items = list(params.items()) if isinstance(params, Mapping) else list(params)
        pairs = v1_common(creds, action, version, fmt=fmt, ts=ts, signature_nonce=signature_nonce)
        pairs += items
        secret = sign_with if sign_with is not None else (creds.access_key_secret if creds else "")
        signed, string_to_sign = v1_sign(method, pairs, secret)
        if overrides:
            signed = [(k, overrides.get(k, v)) for k, v in signed]
        encoded = encode_pairs(signed)
        if in_body:
            reply = self.request(
                method,
                "/",
                headers={"content-type": "application/x-www-form-urlencoded"},
                body=encoded.encode(),
            )
        else:
            reply = self.request(method, f"/?{encoded}")
        return reply, string_to_sign

    def v3(
        self,
        creds: Credentials,
        action: str,
        params: Mapping[str, str] | Sequence[tuple[str, str]] = (),
        *,
        version: str = STS_VERSION,
        method: str = "POST",
        sign_with: str | None = None,
        date: str | None = None,
        signature_nonce: str | None = None,
    ) -> tuple[Reply, V3Signed]:
        items = list(params.items()) if isinstance(params, Mapping) else list(params)
        signer = creds
        if sign_with is not None:
            signer = Credentials(creds.access_key_id, sign_with, creds.security_token)
        signed = v3_sign(
            method,
            self.endpoint,
            action,
            version,
            items,
            signer,
            date=date,
            signature_nonce=signature_nonce,
            extra_headers={"accept": "application/json"},
        )
        target = f"/?{signed.query}" if signed.query else "/"
        return self.request(method, target, headers=signed.headers), signed

    def request(
        self,
        method: str,
        target: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        timeout: float = 5.0,
    ) -> Reply:
        return send(
            self.endpoint,
            method,
            target,
            headers=headers,
            body=body,
            tls_context=self.tls_context,
            timeout=timeout,
        )


def raw_exchange(port: int, request: bytes, *, timeout: float = 10.0) -> bytes:
    """Send bytes to 127.0.0.1:``port``, half-close (the client stops sending, as one that
    hangs up mid-body does), and read whatever the server answers until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(request)
            sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass
    return b"".join(chunks)
