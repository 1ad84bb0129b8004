"""DPoP (RFC 9449): the key that proves possession of a token, the proofs it signs, and the
nonces servers hand out.

:class:`DPoPKey` is the public face: a private key (ES256 by default; RS256, PS256, EdDSA and a
few more on request) loaded or generated through joserfc, with what the RFC lets a client work
out once (the public JWK, its RFC 7638 thumbprint, the encoded proof header). A
:class:`Signer` is one credentials object's DPoP state: its key and the nonces each origin gave
(shared by every transport using those credentials); a :class:`Proof` is what signs the proofs
of one token's requests (its ``ath`` computed once per token), or of a token request.

Sans-I/O and pure but for the clock readings the callers pass in and the randomness of each
proof's ``jti``. joserfc (and the crypto backend under it) is imported on the first key made, not
with the package.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import threading
import warnings
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._http import Origin, origin_of

if TYPE_CHECKING:
    from ._http import Request, Response

#: The key type and curve each algorithm signs with (``None``: any size of RSA key).
_KEY_OF_ALG: dict[str, tuple[str, str | None]] = {
    "ES256": ("EC", "P-256"),
    "ES384": ("EC", "P-384"),
    "ES512": ("EC", "P-521"),
    "RS256": ("RSA", None),
    "RS384": ("RSA", None),
    "RS512": ("RSA", None),
    "PS256": ("RSA", None),
    "PS384": ("RSA", None),
    "PS512": ("RSA", None),
    "EdDSA": ("OKP", "Ed25519"),
    "Ed25519": ("OKP", "Ed25519"),
}
#: The algorithm a loaded key signs with when none is named.
_DEFAULT_ALG = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512", "RSA": "RS256"}
#: The public members of each key type, as RFC 7638 orders them: all a proof's ``jwk`` needs.
_PUBLIC_MEMBERS = {
    "EC": ("crv", "kty", "x", "y"),
    "RSA": ("e", "kty", "n"),
    "OKP": ("crv", "kty", "x"),
}
_MIN_RSA_BITS = 2048


#: Claims written as they are need no JSON escaping: printable ASCII, and every quote or
#: backslash is one of the claims' own (a value holding one fails the match).
_TEXT = r'"[\x20\x21\x23-\x5b\x5d-\x7e]*"'
_PLAIN_JSON = re.compile(
    rf'\{{"jti":{_TEXT},"htm":{_TEXT},"htu":{_TEXT},"iat":-?\d+'
    rf'(,"nonce":{_TEXT})?(,"ath":{_TEXT})?\}}'
)


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def ath_of(access_token: str) -> str:
    """RFC 9449 §4.2 ``ath``: the base64url SHA-256 of the access token's ASCII bytes."""
    return _b64(hashlib.sha256(access_token.encode("ascii")).digest()).decode("ascii")


def thumbprint_of(jwk: Mapping[str, Any]) -> str:
    """RFC 7638: the base64url SHA-256 of a public JWK's required members, in lexical order,
    as JSON without whitespace (the ``jkt`` of RFC 9449 §6)."""
    members = {name: jwk[name] for name in _PUBLIC_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True)
    return _b64(hashlib.sha256(canonical.encode("utf-8")).digest()).decode("ascii")


def target_uri(url: Any) -> str:
    """RFC 9449 §4.2 ``htu``: the request's target URI without query, fragment or userinfo
    (``https://api.example.com/items`` for ``https://user@api.example.com/items?page=2#top``).
    ``url`` is an ``httpx.URL`` (of either stack) or a string."""
    if isinstance(url, str):
        from ._http import URL

        url = URL(url)
    path = url.raw_path.split(b"?", 1)[0].decode("ascii")
    return f"{url.scheme}://{url.netloc.decode('ascii')}{path}"


class DPoPKey:
    """A private key that proves possession of DPoP-bound tokens (RFC 9449).

    ``DPoPKey(private_key, alg=None)`` loads a PEM (``str`` or ``bytes``) or a JWK (a mapping
    with its private members); :meth:`generate` makes a new one. ``alg`` is ``ES256`` (the
    default for a new key, and for a P-256 key), ``ES384``, ``ES512``, ``RS256`` (the default
    for an RSA key, 2048 bits or more), ``RS384``, ``RS512``, ``PS256``, ``PS384``, ``PS512``,
    ``EdDSA`` or ``Ed25519`` (an Ed25519 key). Signing goes through joserfc.

    Give it to the credentials (``ClientCredentials(..., dpop=key)``, ``RefreshToken``,
    ``DeviceCode``), or to the transport (``dpop=key``) for a token source whose tokens are
    DPoP-bound. The key never leaves the process: its ``repr`` shows the algorithm and the
    public thumbprint only, and it refuses to be pickled; keep it with :meth:`private_pem` or
    :meth:`private_jwk` where you keep secrets.
    """

    __slots__ = ("_algorithm", "_header", "_key", "alg", "public_jwk", "thumbprint")

    alg: str
    #: The public key as the proofs carry it (the RFC 7638 members only).
    public_jwk: Mapping[str, str]
    #: The RFC 7638 SHA-256 thumbprint of the public key, base64url: the ``jkt`` a server binds
    #: tokens to (RFC 9449 §6).
    thumbprint: str

    def __init__(
        self, private_key: str | bytes | Mapping[str, Any], alg: str | None = None
    ) -> None:
        key, alg = _load(private_key, alg)
        self._init(key, alg)

    def _init(self, key: Any, alg: str) -> None:
        from joserfc.jws import JWSRegistry

        public = key.as_dict(private=False)
        members = {name: public[name] for name in _PUBLIC_MEMBERS[key.key_type]}
        self._key = key
        self._algorithm = JWSRegistry.algorithms[alg]
        self.alg = alg
        self.public_jwk = _ReadOnly(members)
        self.thumbprint = thumbprint_of(members)
        header = {"typ": "dpop+jwt", "alg": alg, "jwk": members}
        # The header is the same on every proof: encoded once (RFC 9449 §4.2 lets it be).
        self._header = _b64(json.dumps(header, separators=(",", ":")).encode("ascii")) + b"."

    @classmethod
    def generate(cls, alg: str = "ES256") -> DPoPKey:
        """A new key for ``alg`` (``ES256`` by default; an RSA key has 2048 bits)."""
        if alg not in _KEY_OF_ALG:
            raise ValueError(_unknown_alg(alg))
        from joserfc.jwk import ECKey, OKPKey, RSAKey

        kind, curve = _KEY_OF_ALG[alg]
        key: Any
        if kind == "EC":
            key = ECKey.generate_key(curve)
        elif kind == "OKP":
            key = OKPKey.generate_key("Ed25519")
        else:
            key = RSAKey.generate_key(_MIN_RSA_BITS)
        made = cls.__new__(cls)
        made._init(key, alg)
        return made

    def proof(
        self,
        method: str,
        url: str,
        *,
        nonce: str | None = None,
        access_token: str | None = None,
        iat: int | None = None,
        jti: str | None = None,
    ) -> str:
        """A DPoP proof (RFC 9449 §4.2) for ``method`` and ``url`` (its query and fragment are
        left out of ``htu``); with ``access_token``, its ``ath``; with ``nonce``, the server's
        nonce. The transports make these themselves: this is for a request you send otherwise.
        """
        import time

        ath = None if access_token is None else ath_of(access_token)
        issued = int(time.time()) if iat is None else iat
        return self.sign(method.upper(), target_uri(url), issued, nonce, ath, jti)

    def sign(
        self,
        htm: str,
        htu: str,
        iat: float,
        nonce: str | None,
        ath: str | None,
        jti: str | None = None,
    ) -> str:
        """The proof JWT for these claims (``jti`` random unless given). The cached header,
        the claims, and joserfc's signature of the two."""
        jti = jti or _b64(os.urandom(16)).decode("ascii")
        extra = (f',"nonce":"{nonce}"' if nonce is not None else "") + (
            f',"ath":"{ath}"' if ath is not None else ""
        )
        claims = f'{{"jti":"{jti}","htm":"{htm}","htu":"{htu}","iat":{int(iat)}{extra}}}'
        if _PLAIN_JSON.fullmatch(claims) is None:
            # Something needs escaping (a jti or nonce passed to proof()): the JSON encoder's.
            data: dict[str, object] = {"jti": jti, "htm": htm, "htu": htu, "iat": int(iat)}
            if nonce is not None:
                data["nonce"] = nonce
            if ath is not None:
                data["ath"] = ath
            claims = json.dumps(data, separators=(",", ":"))
        signing_input = self._header + _b64(claims.encode("ascii"))
        signature = self._algorithm.sign(signing_input, self._key)
        return (signing_input + b"." + _b64(signature)).decode("ascii")

    def private_pem(self) -> bytes:
        """The private key as PKCS#8 PEM, to keep where you keep secrets."""
        pem: bytes = self._key.as_pem(private=True)
        return pem

    def private_jwk(self) -> dict[str, Any]:
        """The private key as a JWK (a dict with its private members), to keep where you keep
        secrets."""
        jwk: dict[str, Any] = dict(self._key.as_dict(private=True))
        return jwk

    def __repr__(self) -> str:
        return f"DPoPKey(alg={self.alg!r}, thumbprint={self.thumbprint!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DPoPKey):
            return NotImplemented
        return (self.thumbprint, self.alg) == (other.thumbprint, other.alg)

    def __hash__(self) -> int:
        return hash((self.thumbprint, self.alg))

    def __reduce__(self) -> Any:
        raise TypeError(
            "a DPoPKey holds a private key and is not pickled: keep it with private_pem() or "
            "private_jwk() where you keep secrets, and load it with DPoPKey(...)"
        )

    def __copy__(self) -> DPoPKey:
        return self

    def __deepcopy__(self, memo: object) -> DPoPKey:
        return self


class _ReadOnly(dict[str, str]):
    """The public JWK: a dict that cannot be changed (the thumbprint and header are made from
    it once)."""

    def _refuse(self, *args: object, **kwargs: object) -> Any:
        raise TypeError("a DPoPKey's public_jwk cannot be changed")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _refuse


def _unknown_alg(alg: object) -> str:
    return f"unknown DPoP alg {alg!r}: use one of {', '.join(_KEY_OF_ALG)}"


def _load(private_key: str | bytes | Mapping[str, Any], alg: str | None) -> tuple[Any, str]:
    """The joserfc key in ``private_key`` (a PEM or a private JWK) and the algorithm it signs
    with; ``ValueError`` for a public key, a symmetric one, a short RSA key, or an ``alg`` the
    key cannot sign with."""
    from joserfc.errors import JoseError, SecurityWarning
    from joserfc.jwk import import_key

    if alg is not None and alg not in _KEY_OF_ALG:
        raise ValueError(_unknown_alg(alg))
    if isinstance(private_key, Mapping):
        candidates: list[Any] = [None]
        data: Any = dict(private_key)
    elif isinstance(private_key, (str, bytes)):
        candidates, data = ["EC", "OKP", "RSA"], private_key
    else:
        raise TypeError(
            f"a DPoP key is a PEM (str or bytes) or a JWK (a mapping), not {type(private_key)!r}"
        )
    key: Any = None
    for key_type in candidates:
        try:
            with warnings.catch_warnings():
                # joserfc warns of a short RSA key: it is refused below, with the reason.
                warnings.simplefilter("ignore", SecurityWarning)
                key = import_key(data, key_type)
            break
        except (JoseError, ValueError, TypeError):
            continue
    if key is None or key.key_type not in _PUBLIC_MEMBERS:
        raise ValueError("a DPoP key must be an EC, RSA or Ed25519 private key, as PEM or JWK")
    if not key.is_private:
        raise ValueError("a DPoP key must be a private key: this one is public")
    curve = getattr(key, "curve_name", None) if key.key_type != "RSA" else None
    if key.key_type == "RSA":
        bits = key.private_key.key_size
        if bits < _MIN_RSA_BITS:
            raise ValueError(f"a DPoP RSA key needs {_MIN_RSA_BITS} bits or more, not {bits}")
    if key.key_type == "OKP" and curve != "Ed25519":
        raise ValueError(f"a DPoP OKP key must be Ed25519, not {curve}")
    if alg is None:
        alg = "EdDSA" if key.key_type == "OKP" else _DEFAULT_ALG.get(curve or "RSA")
        if alg is None:
            raise ValueError(f"no DPoP alg signs with a {curve} key: use P-256, P-384 or P-521")
    kind, wanted = _KEY_OF_ALG[alg]
    if kind != key.key_type or (wanted is not None and wanted != curve):
        raise ValueError(
            f"alg {alg!r} signs with a {wanted or kind} key, not this {curve or key.key_type} key"
        )
    return key, alg


#: A server's nonce (RFC 9449 §8.1: ``1*NQCHAR``), bounded: anything else is ignored.
_NONCE_RE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,1024}")
#: The most origins whose nonce one credentials object remembers (the oldest is dropped).
MAX_NONCES = 256
#: The most recent proofs a signer remembers it issued, to take them off a redirect to an
#: origin the token is not bound to.
_RECENT_PROOFS = 16


class Signer:
    """One credentials object's DPoP state: its key, the nonce each origin gave last, and the
    proofs it issued lately. Shared by every transport using those credentials: a nonce is
    read without a lock (one dict lookup per request) and written under one.
    """

    __slots__ = ("_lock", "issued", "key", "nonces")

    def __init__(self, key: DPoPKey) -> None:
        self.key = key
        self.nonces: dict[Origin, str] = {}
        self.issued: deque[str] = deque(maxlen=_RECENT_PROOFS)
        self._lock = threading.Lock()

    def proof(self, access_token: str | None) -> Proof:
        """What signs the proofs of requests carrying ``access_token`` (None: token requests)."""
        return Proof(self, None if access_token is None else ath_of(access_token))

    def learn(self, origin: Origin, response: Response) -> str | None:
        """Remember the ``DPoP-Nonce`` the response carries, if any; returns it."""
        value: str | None = response.headers.get("dpop-nonce")
        if value is None or _NONCE_RE.fullmatch(value) is None:
            return None
        nonces = self.nonces
        if nonces.get(origin) != value:
            with self._lock:
                if origin not in nonces and len(nonces) >= MAX_NONCES:
                    del nonces[next(iter(nonces))]
                nonces[origin] = value
        return value

    def withdraw(self, request: Request) -> None:
        """Take a proof this signer made off ``request`` (a redirect to an origin the token is
        not bound to carries none of ours)."""
        value = request.headers.get("dpop")
        if value is not None and value in self.issued:
            del request.headers["dpop"]


class Proof:
    """Signs the proofs of one token's requests (``ath`` is that token's), or of a token request
    (``ath`` None). Made once per token: the request path only signs."""

    __slots__ = ("ath", "signer")

    def __init__(self, signer: Signer, ath: str | None) -> None:
        self.signer = signer
        self.ath = ath

    def sign(self, request: Request, wall_now: float) -> None:
        """Put a fresh proof for ``request`` in its ``DPoP`` header (replacing any), with the
        last nonce the request's origin gave, if any."""
        signer = self.signer
        nonce = signer.nonces.get(origin_of(request.url))
        proof = signer.key.sign(request.method, target_uri(request.url), wall_now, nonce, self.ath)
        request.headers["DPoP"] = proof
        signer.issued.append(proof)

    def heard(self, request: Request, response: Response) -> None:
        """Remember the nonce the response to ``request`` carries (a 2xx too): the next proof to
        that origin carries it without asking."""
        if "dpop-nonce" in response.headers:
            self.signer.learn(origin_of(request.url), response)

    def new_nonce(self, request: Request) -> bool:
        """After a ``use_dpop_nonce`` answer to ``request``: whether its origin gave a nonce to
        send it again with (one other than the nonce its proof carried)."""
        current = self.signer.nonces.get(origin_of(request.url))
        return current is not None and current != sent_nonce(request.headers.get("dpop"))


def nonce_note(replayed: bool, replayable: bool) -> str:
    """Why a ``use_dpop_nonce`` answer to a resource request was not sent again."""
    if replayed:
        return "already sent again once with the server's DPoP nonce; not again"
    if not replayable:
        return (
            "the request body is a one-shot stream and cannot be replayed with the server's "
            "DPoP nonce"
        )
    return "the server gave no new DPoP-Nonce to send it again with"


def unprove(request: Request) -> None:
    """Take the ``DPoP`` header off a request that is sent again with a token that is not
    DPoP-bound (a Bearer token never travels with a proof)."""
    if "dpop" in request.headers:
        del request.headers["dpop"]


def sent_nonce(proof_header: str | None) -> str | None:
    """The ``nonce`` claim of a proof this library made (None without one)."""
    if proof_header is None:
        return None
    try:
        payload = proof_header.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None
    nonce: object = claims.get("nonce") if isinstance(claims, dict) else None
    return nonce if isinstance(nonce, str) else None
