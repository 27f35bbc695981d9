"""Helpers of the broker unit tests: settings from a TOML snippet, a scripted STS, JWT keys."""

from __future__ import annotations

import base64
import json
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tessera.broker.auth import hash_api_key
from tessera.broker.cache import IssuedCredentials
from tessera.broker.config import BrokerSettings, parse_broker_settings
from tessera.broker.errors import BrokerError
from tessera.broker.sts_client import AssumeRoleCall
from tessera.clock import FixedClock, iso8601

START = 1_800_000_000.0
ROLE_ARN = "acs:ram::1234567890123456:role/oss-objectmanager"
ALICE_KEY = "tsk_alice-" + "a" * 40
BOB_KEY = "tsk_bob-" + "b" * 40
ISSUER = "https://login.example.com/"
AUDIENCE = "tessera-broker"

BASE_TOML = f"""
[broker]
data_dir = "data"
query_api_key = true

[sts]
endpoint = "http://127.0.0.1:1"
access_key_id = "LTAIappserver0001"
access_key_secret = "appserver-secret-value-0001"

[[api_keys]]
user_id = "alice"
key_sha256 = "{hash_api_key(ALICE_KEY)}"

[[api_keys]]
user_id = "bob"
key_sha256 = "{hash_api_key(BOB_KEY)}"
templates = ["download"]

[templates.user-prefix]
role_arn = "{ROLE_ARN}"
variables = {{ bucket = "sample-bucket" }}
request_variables = ["device_id"]
policy = '''{{"Version": "1", "Statement": [{{"Effect": "Allow", "Action": ["oss:GetObject",
  "oss:PutObject"], "Resource": ["acs:oss:*:*:${{bucket}}/users/${{user_id}}/*"]}}]}}'''

[templates.download]
role_arn = "{ROLE_ARN}"
variables = {{ bucket = "sample-bucket" }}
policy = '''{{"Version": "1", "Statement": [{{"Effect": "Allow", "Action": "oss:GetObject",
  "Resource": "acs:oss:*:*:${{bucket}}/shared/*"}}]}}'''

[templates.uncached]
role_arn = "{ROLE_ARN}"
cache = false

[templates.inbox]
role_arn = "{ROLE_ARN}"
duration_seconds = 7200
variables = {{ bucket = "sample-inbox" }}
request_variables = ["device_id"]
policy = '''{{"Version": "1", "Statement": [{{"Effect": "Allow", "Action": "oss:PutObject",
  "Resource": "acs:oss:*:*:${{bucket}}/inbox/${{user_id}}/${{device_id}}/*"}}]}}'''

[templates.tenant]
role_arn = "{ROLE_ARN}"
policy = '''{{"Version": "1", "Statement": [{{"Effect": "Allow", "Action": "oss:GetObject",
  "Resource": "acs:oss:*:*:tenants/${{claims.tenant}}/*"}}]}}'''
"""


def settings_from(
    toml: str = BASE_TOML, base: Path = Path("/nonexistent"), env: dict[str, str] | None = None
) -> BrokerSettings:
    return parse_broker_settings(tomllib.loads(toml), base_dir=base, environ=env or {})


@dataclass
class ScriptedSts:
    """An STS stand-in for unit tests: records calls, mints predictable credentials from the
    clock, or raises what ``fail`` says."""

    clock: FixedClock
    calls: list[AssumeRoleCall] = field(default_factory=list)
    fail: BrokerError | None = None
    gate: Any = None  # an asyncio.Event the call waits for (single-flight tests)
    on_call: Callable[[AssumeRoleCall], None] | None = None

    async def assume_role(self, call: AssumeRoleCall) -> IssuedCredentials:
        self.calls.append(call)
        if self.on_call is not None:
            self.on_call(call)
        if self.gate is not None:
            await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        n = len(self.calls)
        expires = self.clock.now() + call.duration_seconds
        return IssuedCredentials(
            access_key_id=f"STS.test{n:04d}",
            access_key_secret=f"secret{n:04d}",
            security_token=f"token{n:04d}",
            expiration=iso8601(expires),
            expires_at=float(int(expires)),
            role_session_name=call.role_session_name,
            sts_request_id=f"REQ-{n}",
        )


# ---- JWT -------------------------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: Any
    alg: str

    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = json.loads(
            jwt.algorithms.get_default_algorithms()[self.alg].to_jwk(self.private.public_key())
        )
        jwk.update(kid=self.kid, use="sig", alg=self.alg)
        return jwk

    def public_pem(self) -> bytes:
        return bytes(
            self.private.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        headers = {"kid": self.kid, **header}
        return jwt.encode(claims, self.private, algorithm=self.alg, headers=headers)


def rsa_key(kid: str = "rsa-1") -> SigningKey:
    return SigningKey(kid, rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256")


def ec_key(kid: str = "ec-1") -> SigningKey:
    return SigningKey(kid, ec.generate_private_key(ec.SECP256R1()), "ES256")


def jwks(*keys: SigningKey) -> dict[str, Any]:
    return {"keys": [key.public_jwk() for key in keys]}


def claims(now: float = START, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-42",
        "iat": int(now),
        "exp": int(now) + 600,
        "tenant": "acme",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def unsigned_token(payload: dict[str, Any], header: dict[str, Any]) -> str:
    """A JWS with an empty signature (``alg: none`` style), built by hand."""
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}."
