"""A token endpoint and an API on ``httpx.MockTransport`` that check every DPoP proof.

The proofs are checked by the testing package's ``DPoPChecker`` (written from RFC 9449 §4.3 on
joserfc, sharing no code with the client side); what each request carried is recorded, so the
tests read the proofs as the server saw them.
"""

from __future__ import annotations

import base64
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import httpx

from httpx_remedy.testing._server_dpop import DPoPChecker, ProofRejected

from .conftest import FakeClock

TOKEN_URL = "https://auth.example.com/oauth/token"
API = "https://api.example.com"
SECRET = "client-s3cret-value"


def claims_of(proof: str) -> dict[str, Any]:
    part = proof.split(".")[1]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return data


def header_of(proof: str) -> dict[str, Any]:
    part = proof.split(".")[0]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return data


@dataclass
class Seen:
    """One request as the server saw it."""

    method: str
    url: str
    scheme: str | None
    proofs: list[str]
    status: int
    error: str | None = None

    @property
    def claims(self) -> dict[str, Any]:
        return claims_of(self.proofs[0])


@dataclass
class DPoPServer:
    """``token_type`` is what the token endpoint issues (``DPoP`` only when a proof came);
    ``nonces`` makes the endpoint and the API demand a nonce; ``api_answers`` queues responses
    the API gives before checking anything; ``nonce_on_success`` adds the current nonce to
    every 2xx (a server announcing its next nonce)."""

    clock: FakeClock
    nonces: bool = False
    token_type: str = "DPoP"
    nonce_on_success: bool = False
    seen: list[Seen] = field(default_factory=list)
    api_answers: deque[httpx.Response] = field(default_factory=deque)
    token_answers: deque[httpx.Response] = field(default_factory=deque)
    issued: dict[str, str | None] = field(default_factory=dict)  # access token -> jkt
    minted: int = 0
    checker: DPoPChecker = field(init=False)

    def __post_init__(self) -> None:
        self.checker = DPoPChecker(require_nonce=self.nonces)

    def token_requests(self) -> list[Seen]:
        return [s for s in self.seen if s.url == TOKEN_URL]

    def api_requests(self) -> list[Seen]:
        return [s for s in self.seen if s.url.startswith(API)]

    def _refuse(self, status: int, error: str, challenge: bool) -> httpx.Response:
        headers = {"DPoP-Nonce": self.checker.nonce} if error == "use_dpop_nonce" else {}
        if challenge:
            headers["WWW-Authenticate"] = f'DPoP error="{error}", algs="ES256 EdDSA"'
        return httpx.Response(status, json={"error": error}, headers=headers)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        proofs = request.headers.get_list("dpop")
        authorization = request.headers.get("authorization")
        scheme, _, token = (authorization or "").partition(" ")
        seen = Seen(request.method, str(request.url), scheme or None, proofs, 0)
        self.seen.append(seen)
        response = self._answer(request, proofs, scheme, token)
        if self.nonce_on_success and response.status_code < 400:
            response.headers["DPoP-Nonce"] = self.checker.nonce
        seen.status = response.status_code
        if response.status_code >= 400:
            seen.error = json.loads(response.content or b"{}").get("error")
        return response

    def _answer(
        self, request: httpx.Request, proofs: list[str], scheme: str, token: str
    ) -> httpx.Response:
        now = self.clock.time()
        if str(request.url) == TOKEN_URL:
            if self.token_answers:
                return self.token_answers.popleft()
            jkt = None
            if proofs:
                try:
                    jkt = self.checker.check(proofs, "POST", TOKEN_URL, now).jkt
                except ProofRejected as error:
                    return self._refuse(400, error.error, challenge=False)
            self.minted += 1
            access = f"tok-{self.minted}"
            self.issued[access] = jkt if self.token_type == "DPoP" else None
            kind = self.token_type if jkt is not None else "Bearer"
            return httpx.Response(
                200, json={"access_token": access, "token_type": kind, "expires_in": 3600}
            )
        if self.api_answers:
            return self.api_answers.popleft()
        if token not in self.issued:
            return self._refuse(401, "invalid_token", challenge=True)
        bound = self.issued[token]
        if bound is None:
            if scheme != "Bearer" or proofs:
                return self._refuse(401, "invalid_token", challenge=True)
            return httpx.Response(200, json={"ok": True, "scheme": "Bearer"})
        if scheme != "DPoP":
            return self._refuse(401, "invalid_token", challenge=True)
        try:
            checked = self.checker.check(proofs, request.method, str(request.url), now, token)
        except ProofRejected as error:
            return self._refuse(401, error.error, challenge=True)
        if checked.jkt != bound:
            return self._refuse(401, "invalid_token", challenge=True)
        return httpx.Response(200, json={"ok": True, "scheme": "DPoP"})


def hand_proof(
    key: Any,
    htm: str,
    htu: str,
    *,
    nonce: str | None = None,
    access_token: str | None = None,
    jti: str | None = None,
) -> str:
    """An ES256 proof made with joserfc alone (no code of the library): for checking servers."""
    import hashlib
    import time
    import uuid

    from joserfc import jwt

    claims: dict[str, Any] = {
        "jti": jti or str(uuid.uuid4()),
        "htm": htm,
        "htu": htu,
        "iat": int(time.time()),
    }
    if nonce is not None:
        claims["nonce"] = nonce
    if access_token is not None:
        digest = hashlib.sha256(access_token.encode("ascii")).digest()
        claims["ath"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.as_dict(private=False)}
    return str(jwt.encode(header, claims, key))
