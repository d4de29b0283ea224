"""The CDS Hooks JWT: who may call ``kapcheck serve`` when it is started with ``--trust``.

Each request carries ``Authorization: Bearer <JWT>``, signed ES384 or RS384 by a key of
the issuer its ``iss`` names, which must be a trusted issuer (``--trust ISSUER=JWKS``,
the JWKS a file or an https URL read at start); ``aud`` a string or a list holding the
URL of the endpoint called (as the service knows itself from ``--public-url``); ``exp``
in the future and at most 300 s after ``iat``; ``jti`` present and not seen before. A
``jku`` header is never fetched: a token that names one other than its issuer's trusted
JWKS URL is refused. A refusal says what was wrong, never which key or what it holds.
PyJWT does the cryptography.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jwt

ALGORITHMS = ("ES384", "RS384")
#: The longest a token may live (exp - iat), in seconds.
MAX_LIFETIME = 300
#: Seconds of clock difference allowed between the EHR and this service.
LEEWAY = 30


class TrustError(ValueError):
    """A --trust option kapcheck cannot use (at start: exit 2)."""


class Refused(Exception):
    """A request whose token does not pass: the reason, naming no key material."""


class Trust:
    """The trusted issuers, their keys, and the token ids already seen."""

    def __init__(self, options: list[str]) -> None:
        self.keys: dict[str, jwt.PyJWKSet] = {}
        self.urls: dict[str, str | None] = {}
        for option in options:
            issuer, sep, where = option.rpartition("=")
            if not sep or not issuer or not where:
                raise TrustError(f"--trust {option!r}: expected ISSUER=JWKS (a file or an "
                                 "https URL)")
            self.keys[issuer] = _jwks(where, option)
            self.urls[issuer] = where if where.startswith("https://") else None
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def check(self, authorization: str | None, audience: str) -> Mapping[str, Any]:
        """The token's claims, or Refused."""
        if not authorization or not authorization.startswith("Bearer "):
            raise Refused("a CDS Hooks JWT is required (Authorization: Bearer)")
        token = authorization[7:].strip()
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise Refused("the token is not a JWT") from None
        if header.get("alg") not in ALGORITHMS:
            raise Refused("the token is not signed ES384 or RS384")
        issuer = unverified.get("iss")
        if not isinstance(issuer, str) or issuer not in self.keys:
            raise Refused("the token's issuer is not trusted")
        jku = header.get("jku")
        if jku is not None and jku != self.urls.get(issuer):
            raise Refused("the token names a JWKS (jku) that is not its issuer's trusted one")
        keys = [k for k in self.keys[issuer].keys
                if header.get("kid") is None or k.key_id == header.get("kid")]
        claims = None
        for key in keys:
            try:
                claims = jwt.decode(token, key.key, algorithms=[header["alg"]],
                                    audience=audience, issuer=issuer, leeway=LEEWAY,
                                    options={"require": ["iss", "aud", "exp", "iat", "jti"]})
                break
            except jwt.InvalidSignatureError:
                continue
            except jwt.ExpiredSignatureError:
                raise Refused("the token has expired") from None
            except jwt.InvalidAudienceError:
                raise Refused(f"the token is not for this endpoint ({audience})") from None
            except jwt.MissingRequiredClaimError as exc:
                raise Refused(f"the token has no {exc.claim} claim") from None
            except jwt.PyJWTError:
                raise Refused("the token does not verify") from None
        if claims is None:
            raise Refused("the token's signature does not verify with its issuer's keys")
        if not isinstance(claims.get("iat"), (int, float)) or \
                claims["exp"] - claims["iat"] > MAX_LIFETIME:
            raise Refused(f"the token lives more than {MAX_LIFETIME} seconds")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise Refused("the token has no jti claim")
        now = time.time()
        with self._lock:
            for seen, until in list(self._seen.items()):
                if until < now - LEEWAY:
                    del self._seen[seen]
            if jti in self._seen:
                raise Refused("the token was used before (its jti)")
            self._seen[jti] = float(claims["exp"])
        return claims


def _jwks(where: str, option: str) -> jwt.PyJWKSet:
    if where.startswith("https://"):
        import httpx

        try:
            text = httpx.get(where, timeout=10).raise_for_status().text
        except httpx.HTTPError as exc:
            raise TrustError(f"--trust {option!r}: the JWKS cannot be fetched: "
                             f"{type(exc).__name__}") from None
    elif "://" in where:
        raise TrustError(f"--trust {option!r}: a JWKS is a file or an https URL")
    else:
        try:
            text = Path(where).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise TrustError(f"--trust {option!r}: cannot read the JWKS file: "
                             f"{getattr(exc, 'strerror', None) or exc}") from None
    try:
        keys = jwt.PyJWKSet.from_dict(json.loads(text))
    except (ValueError, jwt.PyJWTError, TypeError, KeyError):
        raise TrustError(f"--trust {option!r}: the JWKS does not parse (expected "
                         '{"keys": [...]} of ES384 or RS384 public keys)') from None
    return keys
