"""STS: temporary credentials.

Owns: ``tokens`` (the SecurityToken format, minting, opening, secret derivation); AssumeRole
itself lives beside it. Must not: know about HTTP.
"""

from __future__ import annotations

from tessera.sts.tokens import IssuedCredentials, SessionClaims, TokenService

__all__ = ["IssuedCredentials", "SessionClaims", "TokenService"]
