"""DPoP (RFC 9449): the key, the proofs, and what the transports do with DPoP tokens.

The proof construction is checked against the RFC's own examples where they apply (§4.1's
header and claims, §6.1's ``jkt`` through RFC 7638's thumbprint, §7.1's ``ath``); the
transports run against a token endpoint and an API on ``MockTransport`` that check every proof
(``tests/dpop_server.py``), sync and async. The same flows against node-oidc-provider's own
verifier are in ``test_dpop_rig.py``.
"""

from __future__ import annotations

import copy
import json
import pickle
import subprocess
import sys
import warnings
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc import jws
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, OctKey, OKPKey, import_key

import httpx_remedy as remedy
from httpx_remedy import DPoPKey, Token
from httpx_remedy._dpop import MAX_NONCES, Signer, ath_of, target_uri, thumbprint_of

from .conftest import FakeClock, async_client, on_clock, sync_client
from .dpop_server import API, SECRET, TOKEN_URL, DPoPServer, Seen, claims_of, header_of

ALGS = ["ES256", "ES384", "ES512", "RS256", "PS256", "EdDSA", "Ed25519"]

# RFC 9449 §4.1: the example proof's public key and claims.
RFC_JWK = {
    "kty": "EC",
    "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
    "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA",
    "crv": "P-256",
}
RFC_CLAIMS = {
    "jti": "-BwC3ESc6acc2lTc",
    "htm": "POST",
    "htu": "https://server.example.com/token",
    "iat": 1562262616,
}


@pytest.fixture(scope="module")
def keys() -> dict[str, DPoPKey]:
    return {alg: DPoPKey.generate(alg) for alg in ALGS}


# ---- the key and its proofs, against the RFCs' examples


def test_jkt_is_the_rfc_7638_thumbprint_of_rfc_9449s_example_key() -> None:
    # RFC 9449 §6.1: the jkt of the §4.1 example key.
    assert thumbprint_of(RFC_JWK) == "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
    # RFC 7638 §3.1's own example (an RSA key), members in any order, extra ones ignored.
    rsa_example = {
        "kid": "2011-04-29",
        "e": "AQAB",
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6"
        "tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65"
        "YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt"
        "-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
    }
    assert thumbprint_of(rsa_example) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_ath_is_rfc_9449s_example() -> None:
    # RFC 9449 §7.1: the access token of the example request and the ath of its proof.
    token = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
    assert ath_of(token) == "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"


@pytest.mark.parametrize("alg", ALGS)
def test_a_proof_is_rfc_9449s_example_shape_and_verifies(
    alg: str, keys: dict[str, DPoPKey]
) -> None:
    key = keys[alg]
    proof = key.proof(
        "post", "https://server.example.com/token", iat=1562262616, jti="-BwC3ESc6acc2lTc"
    )
    header = header_of(proof)
    assert header == {"typ": "dpop+jwt", "alg": alg, "jwk": dict(key.public_jwk)}
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(header["jwk"])
    assert claims_of(proof) == RFC_CLAIMS
    # joserfc verifies it with the key the proof carries, and computes the same thumbprint.
    public = import_key(header["jwk"])
    registry = jws.JWSRegistry(algorithms=[alg])
    registry.max_header_length = 4096  # an RSA key's jwk alone is over joserfc's 512
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)  # joserfc: RFC 9864 deprecates EdDSA
        verified = jws.deserialize_compact(proof, public, registry=registry)
    assert json.loads(verified.payload) == RFC_CLAIMS
    assert public.thumbprint() == key.thumbprint
    # joserfc's own compact serialization of the same header and claims has the same parts.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)
        made = jws.serialize_compact(header, verified.payload, key._key, registry=registry)
    assert made.split(".")[:2] == proof.split(".")[:2]


def test_eddsa_proofs_are_joserfcs_byte_for_byte(keys: dict[str, DPoPKey]) -> None:
    """Ed25519 signatures are deterministic: the proof is what joserfc itself makes."""
    key = keys["EdDSA"]
    proof = key.proof("GET", "https://rs.example.com/x", iat=1, jti="j")
    header, payload, _ = proof.split(".")
    import base64

    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    signing_input = f"{header}.{payload}".encode()
    from joserfc.jws import JWSRegistry

    signature = JWSRegistry.algorithms["EdDSA"].sign(signing_input, key._key)
    assert proof.split(".")[2] == base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
    assert raw == b'{"jti":"j","htm":"GET","htu":"https://rs.example.com/x","iat":1}'


def test_ath_and_nonce_go_in_when_given(keys: dict[str, DPoPKey]) -> None:
    proof = keys["ES256"].proof("GET", "https://rs.example.com/r", nonce="n-1", access_token="t")
    claims = claims_of(proof)
    assert claims["ath"] == ath_of("t")
    assert claims["nonce"] == "n-1"
    jtis = {claims_of(keys["ES256"].proof("GET", "https://x.example"))["jti"] for _ in range(50)}
    assert len(jtis) == 50


@pytest.mark.parametrize(
    ("jti", "nonce"),
    [('a"b', "n"), ("x", "q\\z"), ("caf\u00e9", "n"), ("t\x01", "n"), ("j", '","htm":"POST')],
)
def test_claims_that_need_escaping_are_json_encoded(
    keys: dict[str, DPoPKey], jti: str, nonce: str
) -> None:
    proof = keys["ES256"].proof("GET", "https://rs.example.com/x", jti=jti, nonce=nonce)
    claims = claims_of(proof)
    assert (claims["jti"], claims["nonce"], claims["htm"]) == (jti, nonce, "GET")


@pytest.mark.parametrize(
    ("url", "htu"),
    [
        ("https://rs.example.com/a/b?x=1#frag", "https://rs.example.com/a/b"),
        ("https://user:pw@RS.example.com:443/a%20b", "https://rs.example.com/a%20b"),
        ("http://127.0.0.1:8080/api?q", "http://127.0.0.1:8080/api"),
        ("https://[::1]:8443/", "https://[::1]:8443/"),
        ("https://rs.example.com", "https://rs.example.com/"),
    ],
)
def test_htu_leaves_out_query_fragment_and_userinfo(url: str, htu: str) -> None:
    assert target_uri(httpx.URL(url)) == htu
    assert target_uri(url) == htu


def test_a_key_loads_from_its_pem_and_its_jwk(keys: dict[str, DPoPKey]) -> None:
    for alg, key in keys.items():
        again = DPoPKey(key.private_pem(), alg=alg)
        assert again == key
        assert again.thumbprint == key.thumbprint
        assert DPoPKey(key.private_jwk(), alg=alg) == key
    # Without alg: the key's type names it.
    assert DPoPKey(keys["ES384"].private_pem()).alg == "ES384"
    assert DPoPKey(keys["ES512"].private_jwk()).alg == "ES512"
    assert DPoPKey(keys["RS256"].private_pem()).alg == "RS256"
    assert DPoPKey(keys["EdDSA"].private_pem().decode()).alg == "EdDSA"
    assert DPoPKey.generate().alg == "ES256"


def test_keys_that_cannot_prove_possession_are_refused(keys: dict[str, DPoPKey]) -> None:
    public = ECKey.generate_key("P-256").as_pem(private=False)
    with pytest.raises(ValueError, match="must be a private key"):
        DPoPKey(public)
    with pytest.raises(ValueError, match="EC, RSA or Ed25519 private key"):
        DPoPKey(OctKey.generate_key(256).as_dict(private=True))
    with pytest.raises(ValueError, match="EC, RSA or Ed25519 private key"):
        DPoPKey("not a key")
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(ValueError, match="2048 bits or more, not 1024"):
        DPoPKey(small)
    k1 = ec.generate_private_key(ec.SECP256K1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(ValueError, match="no DPoP alg signs with a secp256k1 key"):
        DPoPKey(k1)
    with pytest.raises(ValueError, match="must be Ed25519"):
        DPoPKey(OKPKey.generate_key("Ed448").as_dict(private=True))
    with pytest.raises(ValueError, match="signs with a P-256 key, not this RSA key"):
        DPoPKey(keys["RS256"].private_pem(), alg="ES256")
    with pytest.raises(ValueError, match="signs with a RSA key, not this P-384 key"):
        DPoPKey(keys["ES384"].private_pem(), alg="PS256")
    with pytest.raises(ValueError, match="unknown DPoP alg 'HS256'"):
        DPoPKey.generate("HS256")
    with pytest.raises(ValueError, match="unknown DPoP alg 'none'"):
        DPoPKey(keys["ES256"].private_pem(), alg="none")
    with pytest.raises(TypeError, match=r"PEM .* or a JWK"):
        DPoPKey(42)  # type: ignore[arg-type]


def test_the_key_keeps_its_secret(keys: dict[str, DPoPKey]) -> None:
    key = keys["ES256"]
    private = key.private_jwk()["d"]
    assert private not in repr(key)
    assert private not in str(key)
    assert repr(key) == f"DPoPKey(alg='ES256', thumbprint='{key.thumbprint}')"
    with pytest.raises(TypeError, match="not pickled"):
        pickle.dumps(key)
    assert copy.copy(key) is key
    assert copy.deepcopy(key) is key
    with pytest.raises(TypeError, match="cannot be changed"):
        key.public_jwk["x"] = "y"  # type: ignore[index]
    assert "d" not in key.public_jwk
    assert hash(key) == hash(DPoPKey(key.private_pem()))
    assert key != keys["ES384"]
    assert key != "key"


def test_importing_the_package_loads_no_crypto() -> None:
    code = (
        "import sys, httpx_remedy; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('joserfc', 'cryptography')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---- the nonces a signer keeps


def test_nonces_are_kept_per_origin_bounded_and_checked() -> None:
    signer = Signer(DPoPKey.generate())
    request = httpx.Request("GET", "https://a.example/x")
    ok = httpx.Response(200, headers={"DPoP-Nonce": "n1"}, request=request)
    assert signer.learn(("https", "a.example", None), ok) == "n1"
    for bad in ("", "has space", 'quo"te', "back\\slash", "x" * 1025, "caf\u00e9"):
        response = httpx.Response(200, headers=[(b"DPoP-Nonce", bad.encode())])
        assert signer.learn(("https", "a.example", None), response) is None
    assert signer.nonces == {("https", "a.example", None): "n1"}
    for i in range(MAX_NONCES + 10):
        signer.learn(("https", f"h{i}.example", None), ok)
    assert len(signer.nonces) == MAX_NONCES
    assert ("https", "a.example", None) not in signer.nonces  # the oldest went first


# ---- the transports: proofs on the token request and on every resource request


def dpop_credentials(key: DPoPKey, **options: Any) -> remedy.ClientCredentials:
    return remedy.ClientCredentials(TOKEN_URL, "app", SECRET, scope="read", dpop=key, **options)


@pytest.fixture
def key() -> DPoPKey:
    return DPoPKey.generate()


def test_every_request_carries_its_own_proof(clock: FakeClock, key: DPoPKey) -> None:
    server = DPoPServer(clock)
    with sync_client(server, clock, credentials=dpop_credentials(key)) as client:
        assert client.get(API + "/items?page=2").json() == {"ok": True, "scheme": "DPoP"}
        assert client.post(API + "/items", json={"a": 1}).status_code == 200
        clock.sleep(5)
        assert client.delete(API + "/items/7").status_code == 200
    token_request, *api = server.seen
    assert token_request.scheme == "Basic"
    assert token_request.claims["htm"] == "POST"
    assert token_request.claims["htu"] == TOKEN_URL
    assert "ath" not in token_request.claims
    assert "nonce" not in token_request.claims
    assert [(s.scheme, s.claims["htm"], s.claims["htu"]) for s in api] == [
        ("DPoP", "GET", API + "/items"),
        ("DPoP", "POST", API + "/items"),
        ("DPoP", "DELETE", API + "/items/7"),
    ]
    assert {s.claims["ath"] for s in api} == {ath_of("tok-1")}
    assert [s.claims["iat"] for s in api] == [int(clock.wall_start)] * 2 + [
        int(clock.wall_start) + 5
    ]
    assert len({s.claims["jti"] for s in server.seen}) == 4
    assert {header_of(s.proofs[0])["jwk"]["x"] for s in server.seen} == {key.public_jwk["x"]}


@pytest.mark.anyio
async def test_every_request_carries_its_own_proof_async(clock: FakeClock, key: DPoPKey) -> None:
    server = DPoPServer(clock)
    async with async_client(server, clock, credentials=dpop_credentials(key)) as client:
        assert (await client.get(API + "/items")).json()["scheme"] == "DPoP"
        assert (await client.put(API + "/items/1", content=b"x")).status_code == 200
    assert [s.scheme for s in server.seen] == ["Basic", "DPoP", "DPoP"]
    assert len({s.claims["jti"] for s in server.seen}) == 3


def test_a_bearer_token_is_never_sent_with_a_proof(clock: FakeClock, key: DPoPKey) -> None:
    """A server that does not do DPoP answers Bearer (RFC 9449 §5): sent as Bearer, no proof."""
    server = DPoPServer(clock, token_type="Bearer")
    with sync_client(server, clock, credentials=dpop_credentials(key)) as client:
        assert client.get(API + "/items").json() == {"ok": True, "scheme": "Bearer"}
    assert server.seen[0].proofs  # the token request offered one
    assert server.seen[1].scheme == "Bearer"
    assert server.seen[1].proofs == []


def test_a_dpop_token_without_a_key_is_refused_at_once(clock: FakeClock) -> None:
    """The token endpoint answers DPoP to credentials without a key: never sent as Bearer."""
    server = DPoPServer(clock)
    server.token_answers.append(
        httpx.Response(200, json={"access_token": "tok-x", "token_type": "DPoP"})
    )
    creds = remedy.ClientCredentials(TOKEN_URL, "app", SECRET)
    with (
        sync_client(server, clock, credentials=creds) as client,
        pytest.raises(remedy.TokenResponseError, match=r"DPoP-bound .* no DPoP key") as caught,
    ):
        client.get(API + "/items")
    assert "tok-x" not in str(caught.value)
    assert "tok-x" not in caught.value.response.text
    assert [s.url for s in server.seen] == [TOKEN_URL]  # nothing reached the API


class Source:
    def __init__(self, token: Token | dict[str, Any]) -> None:
        self.token = token
        self.calls = 0

    def fetch_token(self, scope: str | None) -> Token | dict[str, Any]:
        self.calls += 1
        return self.token


def test_a_token_source_names_its_key_on_the_transport(clock: FakeClock, key: DPoPKey) -> None:
    server = DPoPServer(clock)
    server.issued["minted-elsewhere"] = key.thumbprint
    source = Source(Token("minted-elsewhere", token_type="dpop"))  # any case of dpop
    with sync_client(server, clock, credentials=source, dpop=key) as client:
        assert client.get(API + "/items").json()["scheme"] == "DPoP"
    assert server.seen[0].claims["ath"] == ath_of("minted-elsewhere")
    # Without the key, the source's DPoP token is refused where it arrives.
    keyless = Source(Token("t", token_type="DPoP"))
    with (
        sync_client(server, clock, credentials=keyless) as client,
        pytest.raises(ValueError, match=r"no DPoP key .* dpop="),
    ):
        client.get(API + "/items")


def test_dpop_keys_go_where_they_are_used(key: DPoPKey) -> None:
    creds = dpop_credentials(key)
    with pytest.raises(ValueError, match="pass the DPoP key to the credentials"):
        remedy.RemedyTransport(
            credentials=remedy.ClientCredentials(TOKEN_URL, "a", SECRET), dpop=key
        )
    remedy.RemedyTransport(credentials=creds, dpop=key)  # the same key: fine
    with pytest.raises(ValueError, match="pass credentials"):
        remedy.RemedyTransport(dpop=key)
    source = Source({"access_token": "t"})
    remedy.RemedyTransport(credentials=source, dpop=key)
    with pytest.raises(ValueError, match="one token source has one DPoP key"):
        remedy.AsyncRemedyTransport(credentials=source, dpop=DPoPKey.generate())
    with pytest.raises(TypeError, match=r"dpop must be a httpx_remedy\.DPoPKey"):
        remedy.ClientCredentials(TOKEN_URL, "a", SECRET, dpop="key")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"dpop must be a httpx_remedy\.DPoPKey"):
        remedy.RemedyTransport(credentials=Source({"access_token": "t"}), dpop="key")  # type: ignore[arg-type]
    pair = {"access_token": "a", "token_type": "DPoP", "refresh_token": "r"}
    with pytest.raises(ValueError, match="no DPoP key"):
        remedy.RefreshToken(TOKEN_URL, "a", token=pair)
    assert remedy.RefreshToken(TOKEN_URL, "a", token=pair, dpop=key).manager.token is not None


# ---- the nonce remedy


def test_the_token_endpoints_nonce_gets_one_rebuilt_request(clock: FakeClock, key: DPoPKey) -> None:
    server = DPoPServer(clock, nonces=True)
    with sync_client(server, clock, credentials=dpop_credentials(key)) as client:
        assert client.get(API + "/items").status_code == 200
        assert client.get(API + "/items").status_code == 200
    first, second, *api = server.seen
    assert (first.status, first.error) == (400, "use_dpop_nonce")
    assert "nonce" not in first.claims
    assert second.status == 200
    assert second.claims["nonce"] == server.checker.nonce
    assert first.claims["jti"] != second.claims["jti"]
    # The API is another origin: its nonce is asked for once, then carried.
    assert [(s.status, s.error, s.claims.get("nonce")) for s in api] == [
        (401, "use_dpop_nonce", None),
        (200, None, server.checker.nonce),
        (200, None, server.checker.nonce),
    ]


@pytest.mark.anyio
async def test_the_nonces_async(clock: FakeClock, key: DPoPKey) -> None:
    server = DPoPServer(clock, nonces=True)
    async with async_client(server, clock, credentials=dpop_credentials(key)) as client:
        assert (await client.get(API + "/items")).status_code == 200
        server.checker.rotate()
        server.checker.rotate()  # both nonces the client knows are stale now
        assert (await client.get(API + "/items")).status_code == 200
    assert [(s.url == TOKEN_URL, s.status, s.error) for s in server.seen] == [
        (True, 400, "use_dpop_nonce"),
        (True, 200, None),
        (False, 401, "use_dpop_nonce"),
        (False, 200, None),
        (False, 401, "use_dpop_nonce"),
        (False, 200, None),
    ]


def test_the_steady_state_needs_no_extra_round_trip(clock: FakeClock, key: DPoPKey) -> None:
    server = DPoPServer(clock, nonces=True, nonce_on_success=True)
    with sync_client(server, clock, credentials=dpop_credentials(key)) as client:
        client.get(API + "/items")
        for _ in range(3):
            before = len(server.seen)
            server.checker.rotate()  # a new nonce, announced on the next 2xx
            assert client.get(API + "/items").status_code == 200
            assert client.get(API + "/items").status_code == 200
            assert [s.status for s in server.seen[before:]] == [200, 200]
            assert server.seen[-1].claims["nonce"] == server.checker.nonce


def test_a_nonce_is_asked_for_once_per_request(clock: FakeClock, key: DPoPKey) -> None:
    server = DPoPServer(clock)
    with sync_client(server, clock, credentials=dpop_credentials(key)) as client:
        client.get(API + "/items")
        for nonce in ("n1", "n2"):
            server.api_answers.append(
                httpx.Response(
                    401,
                    headers={
                        "WWW-Authenticate": 'DPoP error="use_dpop_nonce"',
                        "DPoP-Nonce": nonce,
                    },
                    json={"error": "use_dpop_nonce"},
                )
            )
        with pytest.raises(remedy.UseDPoPNonce) as caught:
            client.get(API + "/items")
    assert [a.action for a in caught.value.attempts] == ["nonce", "raise"]
    assert caught.value.attempts[-1].note == (
        "already sent again once with the server's DPoP nonce; not again"
    )
    assert caught.value.dpop_nonce == "n2"
    assert [s.claims.get("nonce") for s in server.seen[2:]] == [None, "n1"]


def test_each_send_keeps_the_proof_it_carried(clock: FakeClock, key: DPoPKey) -> None:
    # A recorder keeping request objects sees on each send the proof that went with it: a
    # nonce replay and a retry sign their fresh proof on a copy of their own (on httpx; on
    # httpx2 the request itself carries token and proof, so its sends are one object).
    server = DPoPServer(clock)
    kept: list[httpx.Request] = []

    def recording(request: httpx.Request) -> httpx.Response:
        kept.append(request)
        return server(request)

    with sync_client(recording, clock, credentials=dpop_credentials(key)) as client:
        client.get(API + "/items")
        server.api_answers += [
            httpx.Response(
                401,
                headers={"WWW-Authenticate": 'DPoP error="use_dpop_nonce"', "DPoP-Nonce": "n1"},
                json={"error": "use_dpop_nonce"},
            ),
            httpx.Response(503, headers={"Retry-After": "0"}),
        ]
        before = len(kept)
        assert client.get(API + "/items").status_code == 200
    sends = kept[before:]
    assert len(sends) == 3  # the 401, the nonce replay (answered 503), its retry
    proofs = [sent.headers["dpop"] for sent in sends]
    if httpx.Request.__module__ == "httpx":
        assert len({id(sent) for sent in sends}) == 3
        assert len(set(proofs)) == 3  # each its own, single-use
        assert [claims_of(proof).get("nonce") for proof in proofs] == [None, "n1", "n1"]
    else:
        assert len({id(sent) for sent in sends}) == 1


def test_no_nonce_no_replay_and_a_one_shot_body_is_never_replayed(
    clock: FakeClock, key: DPoPKey
) -> None:
    server = DPoPServer(clock)
    nonce_please = 'DPoP error="use_dpop_nonce"'
    with sync_client(server, clock, credentials=dpop_credentials(key)) as client:
        client.get(API + "/items")
        server.api_answers.append(httpx.Response(401, headers={"WWW-Authenticate": nonce_please}))
        with pytest.raises(remedy.UseDPoPNonce) as no_nonce:
            client.get(API + "/items")
        server.api_answers.append(
            httpx.Response(401, headers={"WWW-Authenticate": nonce_please, "DPoP-Nonce": "n"})
        )
        with pytest.raises(remedy.UseDPoPNonce) as one_shot:
            client.post(API + "/items", content=iter([b"once"]))
    assert (
        no_nonce.value.attempts[-1].note
        == "the server gave no new DPoP-Nonce to send it again with"
    )
    assert "one-shot stream" in (one_shot.value.attempts[-1].note or "")
    assert len(one_shot.value.attempts) == 1
    # ...but the nonce it brought is remembered for the next request.
    assert server.seen[-1].claims.get("nonce") is None


def test_invalid_dpop_proof_is_raised_never_replayed(clock: FakeClock, key: DPoPKey) -> None:
    server = DPoPServer(clock)
    with sync_client(server, clock, credentials=dpop_credentials(key)) as client:
        client.get(API + "/items")
        server.api_answers.append(
            httpx.Response(
                401,
                headers={"WWW-Authenticate": 'DPoP error="invalid_dpop_proof"', "DPoP-Nonce": "n"},
                json={"error": "invalid_dpop_proof"},
            )
        )
        with pytest.raises(remedy.InvalidDPoPProof) as at_the_api:
            client.get(API + "/items")
    assert len(at_the_api.value.attempts) == 1
    assert at_the_api.value.entry.remedy is remedy.Remedy.FAIL_FAST


def test_invalid_dpop_proof_at_the_token_endpoint(clock: FakeClock, key: DPoPKey) -> None:
    server = DPoPServer(clock)
    server.token_answers.append(httpx.Response(400, json={"error": "invalid_dpop_proof"}))
    with (
        sync_client(server, clock, credentials=dpop_credentials(key)) as client,
        pytest.raises(remedy.InvalidDPoPProof),
    ):
        client.get(API + "/items")
    assert len(server.token_requests()) == 1


def test_a_nonce_failure_at_the_token_endpoint_is_not_remembered(
    clock: FakeClock, key: DPoPKey
) -> None:
    server = DPoPServer(clock)
    for nonce in ("n1", "n1"):
        server.token_answers.append(
            httpx.Response(400, json={"error": "use_dpop_nonce"}, headers={"DPoP-Nonce": nonce})
        )
    with sync_client(server, clock, credentials=dpop_credentials(key)) as client:
        with pytest.raises(remedy.UseDPoPNonce):
            client.get(API + "/items")  # the same nonce again: no second rebuild
        assert client.get(API + "/items").status_code == 200  # not a rejection for good
    assert [s.status for s in server.token_requests()] == [400, 400, 200]


# ---- every resend gets a fresh proof


def test_a_retry_and_a_refresh_carry_fresh_proofs(clock: FakeClock, key: DPoPKey) -> None:
    server = DPoPServer(clock)
    with sync_client(server, clock, credentials=dpop_credentials(key)) as client:
        client.get(API + "/items")
        server.api_answers.append(httpx.Response(503, headers={"Retry-After": "1"}))
        assert client.get(API + "/items").status_code == 200
        server.issued.clear()  # every token revoked: 401 invalid_token, refresh, replay
        assert client.get(API + "/items").status_code == 200
    api = server.api_requests()
    assert [s.status for s in api] == [200, 503, 200, 401, 200]
    assert len({s.claims["jti"] for s in api}) == 5
    assert [s.claims["ath"] for s in api] == [ath_of("tok-1")] * 4 + [ath_of("tok-2")]


def test_a_token_request_retried_carries_a_fresh_proof(clock: FakeClock, key: DPoPKey) -> None:
    server = DPoPServer(clock)
    server.token_answers.append(httpx.Response(503, headers={"Retry-After": "1"}))
    with sync_client(server, clock, credentials=dpop_credentials(key)) as client:
        assert client.get(API + "/items").status_code == 200
    first, second = server.token_requests()
    assert first.claims["jti"] != second.claims["jti"]


def test_a_bearer_replacement_drops_the_proof(clock: FakeClock, key: DPoPKey) -> None:
    """The server stops issuing DPoP tokens: the replay goes as Bearer, without the proof."""
    server = DPoPServer(clock)
    with sync_client(server, clock, credentials=dpop_credentials(key)) as client:
        client.get(API + "/items")
        server.issued.clear()
        server.token_type = "Bearer"
        assert client.get(API + "/items").json()["scheme"] == "Bearer"
    assert [(s.scheme, bool(s.proofs)) for s in server.api_requests()] == [
        ("DPoP", True),
        ("DPoP", True),
        ("Bearer", False),
    ]


# ---- redirects


def test_redirects_same_origin_reproved_other_origin_unproven(
    clock: FakeClock, key: DPoPKey
) -> None:
    server = DPoPServer(clock)
    elsewhere: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/moved":
            return httpx.Response(302, headers={"Location": API + "/items?after=redirect"})
        if request.url.path == "/away":
            return httpx.Response(302, headers={"Location": "https://other.example/landing"})
        if request.url.host == "other.example":
            elsewhere.append(request)
            return httpx.Response(200)
        return server(request)

    with sync_client(handler, clock, credentials=dpop_credentials(key)) as client:
        assert client.get(API + "/moved", follow_redirects=True).status_code == 200
        assert client.get(API + "/away", follow_redirects=True).status_code == 200
    moved = server.api_requests()[-1]
    assert moved.claims["htu"] == API + "/items"
    assert moved.status == 200
    assert len(elsewhere) == 1
    assert "authorization" not in elsewhere[0].headers
    assert "dpop" not in elsewhere[0].headers


def test_a_users_own_dpop_header_elsewhere_is_left_alone(clock: FakeClock, key: DPoPKey) -> None:
    server = DPoPServer(clock)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "other.example":
            seen.append(request)
            return httpx.Response(200)
        return server(request)

    own = DPoPKey.generate().proof("GET", "https://other.example/x")
    with sync_client(handler, clock, credentials=dpop_credentials(key), origins=[API]) as client:
        client.get("https://other.example/x", headers={"DPoP": own})
    assert seen[0].headers["dpop"] == own


# ---- a transport error on the way, sync and async


class Flaky:
    """The first API request fails to connect; everything else goes to ``server``."""

    def __init__(self, server: DPoPServer) -> None:
        self.server = server
        self.failed = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/items" and not self.failed:
            self.failed = True
            self.server.seen.append(Seen(request.method, str(request.url), "DPoP", [], 0))
            self.server.seen[-1].proofs = request.headers.get_list("dpop")
            raise httpx.ConnectError("refused", request=request)
        return self.server(request)


def test_a_connect_error_is_retried_with_a_fresh_proof(clock: FakeClock, key: DPoPKey) -> None:
    server = DPoPServer(clock)
    with sync_client(Flaky(server), clock, credentials=dpop_credentials(key)) as client:
        assert client.get(API + "/items").status_code == 200
    failed, ok = server.api_requests()
    assert failed.claims["jti"] != ok.claims["jti"]
    with (
        sync_client(Flaky(server), clock, credentials=dpop_credentials(key), retry=None) as client,
        pytest.raises(httpx.ConnectError),
    ):
        client.get(API + "/items")


@pytest.mark.anyio
async def test_a_connect_error_is_retried_with_a_fresh_proof_async(
    clock: FakeClock, key: DPoPKey
) -> None:
    server = DPoPServer(clock)
    async with async_client(Flaky(server), clock, credentials=dpop_credentials(key)) as client:
        assert (await client.get(API + "/items")).status_code == 200
    failed, ok = server.api_requests()
    assert failed.claims["jti"] != ok.claims["jti"]
    creds = dpop_credentials(key)
    async with async_client(Flaky(server), clock, credentials=creds, retry=None) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(API + "/items")


@pytest.mark.anyio
async def test_a_retry_a_refresh_and_a_redirect_async(clock: FakeClock, key: DPoPKey) -> None:
    server = DPoPServer(clock)
    elsewhere: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/away":
            return httpx.Response(302, headers={"Location": "https://other.example/landing"})
        if request.url.host == "other.example":
            elsewhere.append(request)
            return httpx.Response(200)
        return server(request)

    async with async_client(handler, clock, credentials=dpop_credentials(key)) as client:
        await client.get(API + "/items")
        server.api_answers.append(httpx.Response(503, headers={"Retry-After": "1"}))
        assert (await client.get(API + "/items")).status_code == 200
        server.issued.clear()
        assert (await client.get(API + "/items")).status_code == 200
        assert (await client.get(API + "/away", follow_redirects=True)).status_code == 200
    api = [s for s in server.api_requests() if s.url.endswith("/items")]
    assert [s.status for s in api] == [200, 503, 200, 401, 200]
    assert len({s.claims["jti"] for s in api}) == 5
    assert "dpop" not in elsewhere[0].headers


# ---- the rest of the small print


def test_a_proof_header_that_is_not_ours_has_no_nonce() -> None:
    from httpx_remedy._dpop import sent_nonce

    assert sent_nonce(None) is None
    assert sent_nonce("no-dots") is None
    assert sent_nonce("a.!!!.c") is None
    assert sent_nonce("a.WzFd.c") is None  # a JSON array, not claims


def test_escaped_claims_keep_their_ath(keys: dict[str, DPoPKey]) -> None:
    proof = keys["ES256"].proof("GET", "https://rs.example.com/", jti='"', access_token="t")
    assert claims_of(proof)["ath"] == ath_of("t")


def test_an_error_keeps_no_proof_once_redacted_or_pickled(clock: FakeClock, key: DPoPKey) -> None:
    server = DPoPServer(clock)
    with sync_client(server, clock, credentials=dpop_credentials(key)) as client:
        client.get(API + "/items")
        server.api_answers.append(
            httpx.Response(401, headers={"WWW-Authenticate": 'DPoP error="invalid_dpop_proof"'})
        )
        with pytest.raises(remedy.InvalidDPoPProof) as caught:
            client.get(API + "/items")
    error = caught.value
    proof = error.request.headers["dpop"]  # the live request, as sent (as httpx keeps it)
    assert proof not in str(error)
    assert "tok-1" not in str(error)
    copy = remedy.redacted(error)
    assert "dpop" not in copy.request.headers
    assert "authorization" not in copy.request.headers
    pickled = pickle.dumps(error)
    assert proof.encode() not in pickled
    assert proof.split(".")[2].encode() not in pickled


def test_a_dpop_token_is_refreshed_before_it_expires(clock: FakeClock, key: DPoPKey) -> None:
    server = DPoPServer(clock)
    with sync_client(server, clock, credentials=dpop_credentials(key)) as client:
        client.get(API + "/items")
        clock.sleep(3600 - 30)  # inside the refresh leeway: a new token before the send
        client.get(API + "/items")
    assert [s.url == TOKEN_URL for s in server.seen] == [True, False, True, False]
    assert [s.claims["ath"] for s in server.api_requests()] == [ath_of("tok-1"), ath_of("tok-2")]
    assert all(s.status == 200 for s in server.seen)


def test_wrap_takes_a_token_sources_key(clock: FakeClock, key: DPoPKey) -> None:
    server = DPoPServer(clock)
    server.issued["vault-token"] = key.thumbprint
    source = Source({"access_token": "vault-token", "token_type": "DPoP"})
    client = httpx.Client(base_url=API, transport=httpx.MockTransport(server))
    with remedy.wrap(client, credentials=source, dpop=key) as wrapped:
        on_clock(wrapped._transport, clock)
        assert wrapped.get("/items").json()["scheme"] == "DPoP"
    assert server.seen[0].claims["htu"] == API + "/items"
