"""DPoP (RFC 9449) as the testing OAuthServer checks it: proofs, their replay, server nonces.

Written from RFC 9449 §4.3 with joserfc, apart from the client side of this library (it shares
no code with ``httpx_remedy._dpop``): the key is taken from the proof's own ``jwk`` header, the
signature checked by joserfc, the thumbprint computed by joserfc, ``ath`` and ``htu`` worked out
here. The node-oidc-provider rig of the test suite is the independent check of both.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import warnings
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

#: The algorithms a proof may be signed with: asymmetric ones only (RFC 9449 §4.2).
ALGORITHMS = ("ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
EDDSA = ("EdDSA", "Ed25519")
#: How far a proof's ``iat`` may be from the server's clock, in seconds.
MAX_SKEW = 60.0
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "k", "oth"})


class ProofRejected(Exception):
    """A proof failed a check: ``error`` is ``invalid_dpop_proof`` or ``use_dpop_nonce``."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass(frozen=True)
class Checked:
    """A proof that passed: the thumbprint of its key (``jkt``) and its claims."""

    jkt: str
    claims: dict[str, Any]


def _segment(part: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def expected_htu(url: str) -> str:
    """The request's URI as a proof must name it: no query, fragment or userinfo."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port is not None else ""
    return f"{parts.scheme}://{host}{port}{parts.path or '/'}"


def ath_for(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class DPoPChecker:
    """Checks DPoP proofs (RFC 9449 §4.3) and hands out nonces (§8, §9). Thread-safe.

    ``require_nonce``: a proof must carry the current nonce (or the one before it, for requests
    in flight when it changed); :meth:`rotate` makes a new one.
    """

    def __init__(self, *, require_nonce: bool = False) -> None:
        self.require_nonce = require_nonce
        self._lock = threading.Lock()
        self._nonces = [secrets.token_urlsafe(16)]
        self._jtis: dict[str, float] = {}

    @property
    def nonce(self) -> str:
        """The nonce a proof carries now."""
        with self._lock:
            return self._nonces[-1]

    def rotate(self) -> str:
        """A new nonce; the one before it stays good for proofs already on their way."""
        with self._lock:
            self._nonces = [self._nonces[-1], secrets.token_urlsafe(16)]
            return self._nonces[-1]

    def check(
        self,
        proofs: list[str],
        method: str,
        url: str,
        now: float,
        access_token: str | None = None,
    ) -> Checked:
        """Check the request's ``DPoP`` header values (exactly one is allowed); ``access_token``
        is the one presented with it, whose hash the proof must carry. ``ProofRejected`` says
        what failed."""
        from joserfc import jws
        from joserfc.errors import JoseError, SecurityWarning
        from joserfc.jwk import import_key

        if len(proofs) != 1:
            raise ProofRejected("invalid_dpop_proof", f"{len(proofs)} DPoP headers, not one")
        proof = proofs[0]
        parts = proof.split(".")
        try:
            header, claims = _segment(parts[0]), _segment(parts[1])
        except (IndexError, ValueError):
            raise ProofRejected("invalid_dpop_proof", "not a JWT") from None
        if not isinstance(header, dict) or not isinstance(claims, dict) or len(parts) != 3:
            raise ProofRejected("invalid_dpop_proof", "not a JWT")
        if header.get("typ") != "dpop+jwt":
            raise ProofRejected("invalid_dpop_proof", "typ is not dpop+jwt")
        alg = header.get("alg")
        if alg not in ALGORITHMS + EDDSA:
            raise ProofRejected("invalid_dpop_proof", f"alg {alg!r} is not accepted")
        jwk = header.get("jwk")
        if not isinstance(jwk, dict) or _PRIVATE_MEMBERS & set(jwk):
            raise ProofRejected("invalid_dpop_proof", "jwk is missing or holds a private key")
        registry = jws.JWSRegistry(algorithms=[alg])
        registry.max_header_length = 4096  # an RSA key's jwk alone is over joserfc's 512
        try:
            key = import_key(jwk)
            with warnings.catch_warnings():
                # joserfc names EdDSA deprecated (RFC 9864 prefers Ed25519); both are accepted.
                warnings.simplefilter("ignore", SecurityWarning)
                jws.deserialize_compact(proof, key, registry=registry)
        except (JoseError, ValueError, TypeError) as error:
            raise ProofRejected("invalid_dpop_proof", f"bad signature ({error})") from None
        if not isinstance(claims.get("jti"), str) or not claims["jti"]:
            raise ProofRejected("invalid_dpop_proof", "no jti")
        if claims.get("htm") != method:
            raise ProofRejected("invalid_dpop_proof", "htm mismatch")
        htu = claims.get("htu")
        # RFC 9449 §4.3 (9): "ignoring any query and fragment parts", as oidc-provider reads it.
        try:
            same = isinstance(htu, str) and expected_htu(htu) == expected_htu(url)
        except ValueError:  # a port that is not a number
            same = False
        if not same:
            raise ProofRejected("invalid_dpop_proof", "htu mismatch")
        iat = claims.get("iat")
        if not isinstance(iat, int) or abs(iat - now) > MAX_SKEW:
            raise ProofRejected("invalid_dpop_proof", "iat is missing or not recent")
        if access_token is not None and claims.get("ath") != ath_for(access_token):
            raise ProofRejected("invalid_dpop_proof", "ath mismatch")
        if access_token is None and "ath" in claims:
            raise ProofRejected("invalid_dpop_proof", "ath without an access token")
        with self._lock:
            if self.require_nonce and claims.get("nonce") not in self._nonces:
                raise ProofRejected("use_dpop_nonce", "the proof must carry the server's nonce")
            key_id = f"{key.thumbprint()}:{claims['jti']}"
            if key_id in self._jtis:
                raise ProofRejected("invalid_dpop_proof", "jti replayed")
            if len(self._jtis) > 10_000:
                self._jtis = {k: t for k, t in self._jtis.items() if t > now - MAX_SKEW * 2}
            self._jtis[key_id] = now
        return Checked(key.thumbprint(), claims)
