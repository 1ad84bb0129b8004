"""Which token fix answers a 401 or a 403: a new token, a token with more scope, or none; and,
when none, why (the note an attempt record carries).

Pure functions over the response and what the recovery flow knows: no I/O. The refresh itself
is a token flow (``_token_flow``); the recovery flow (``_recovery``) carries the fix out.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._catalog import catalog
from ._challenges import Challenge, find_challenge, parse_www_authenticate
from ._classify import Details
from ._entry import Remedy
from ._http import Origin, Request, Response, authorization_of, origin_text
from ._settings import Auth
from ._token import Token, union_scope

#: The most times one request is sent again for its token's sake: no refresh loop, ever.
MAX_TOKEN_RESENDS = 2


@dataclass(frozen=True)
class TokenFix:
    """Get another token and send the request again with it.

    ``scope``: None for a new token of the same scope (a refresh, on ``invalid_token``); the
    scope to ask for otherwise (a step up, on ``insufficient_scope``: the scope the server names
    on top of the scope held).
    """

    scope: str | None = None


def should_refresh(error: str | None) -> bool:
    """Whether a 401 asks for a new token (RFC 6750 §3.1).

    Yes for ``invalid_token`` and for no error code; also for a word that is not an OAuth code
    (``{"error": "unauthorized"}``). No for an OAuth code with another fix (``invalid_client``,
    ``insufficient_user_authentication``, ``use_dpop_nonce``): a new token would not help.
    """
    entry = catalog.oauth(error)
    return entry is None or entry.remedy is Remedy.REFRESH


def token_fix(
    auth: Auth,
    token: Token,
    response: Response,
    details: Details | None,
    code: str | None,
    minted: bool,
    resends: int,
) -> TokenFix | None:
    """The token fix for an error response to a request that carried ``token``, or None.

    At most :data:`MAX_TOKEN_RESENDS` resends per request for the token's sake, and never
    another fetch once a token fetched for this very request (``minted``) was rejected: no
    loop, ever. A 401 whose challenges all ask for something else than a token (``Basic``,
    ``Negotiate``) is not refreshed; a 403 ``insufficient_scope`` is stepped up only when the
    transport was given ``step_up=True``.
    """
    if resends >= MAX_TOKEN_RESENDS or minted:
        return None
    status = response.status_code
    if status == 401:
        if should_refresh(code) and other_schemes(response, details) is None:
            return TokenFix()
        return None
    if status == 403 and code == "insufficient_scope" and auth.step_up:
        required = required_scope(response, details)
        if required:
            # Ask for the scope the server names on top of what we hold.
            return TokenFix(
                union_scope(token.scope or getattr(auth.source, "scope", None), required)
            )
    return None


def challenge_error(response: Response) -> str | None:
    """The ``error`` of the Bearer (or DPoP) challenge, read without the body."""
    values = response.headers.get_list("www-authenticate")
    if not values:
        return None
    challenge = find_challenge(parse_www_authenticate(values), "Bearer", "DPoP")
    return challenge.param("error") if challenge is not None else None


def _challenges(response: Response, details: Details | None) -> tuple[Challenge, ...]:
    if details is not None:
        return details.challenges
    return parse_www_authenticate(response.headers.get_list("www-authenticate"))


def required_scope(response: Response, details: Details | None) -> str | None:
    """The scope an ``insufficient_scope`` answer names (challenge first, then body)."""
    challenge = find_challenge(_challenges(response, details), "Bearer", "DPoP")
    found = challenge.param("scope") if challenge is not None else None
    return found or (details.scope_hint if details is not None else None)


def other_schemes(response: Response, details: Details | None) -> str | None:
    """The schemes a 401 challenges for when none takes a token (``Basic``, ``Negotiate``):
    a new Bearer token cannot answer them. None when a challenge is Bearer or DPoP, or when
    there is no challenge at all (a bare 401 is taken as a rejected token)."""
    challenges = _challenges(response, details)
    if not challenges or find_challenge(challenges, "Bearer", "DPoP") is not None:
        return None
    return ", ".join(dict.fromkeys(c.scheme for c in challenges))


def token_note(
    note: str | None,
    *,
    status: int | None,
    response: Response | None,
    details: Details | None,
    request: Request,
    origin: Origin,
    auth: Auth | None,
    token: Token | None,
    minted: bool,
    replayable: bool,
) -> str | None:
    """The note of a request that stops: ``note`` (the retry policy's reason), or why a 401
    was not answered with a new token, when that is the better explanation."""
    if status != 401:
        return note
    if minted:
        return "the token fetched for this request was rejected too; not refreshing again"
    if token is not None and not replayable:
        return "the request body is a one-shot stream and cannot be replayed with a new token"
    if token is not None and response is not None:
        schemes = other_schemes(response, details)
        if schemes is not None:
            return (
                f"the server asks for {schemes} authentication, not a Bearer token: "
                "a new token would not answer it"
            )
        return note
    if token is None and auth is not None:
        unsent = _unsent_token(auth, request, origin)
        return f"{note}; {unsent}" if note and unsent else unsent or note
    return note


def _unsent_token(auth: Auth, request: Request, origin: Origin) -> str | None:
    """Why a 401 came to a request that carried no token of ours: its origin is not one the
    token is bound to (None when the request carried an Authorization of its own)."""
    if authorization_of(request) is not None:
        return None
    bound = ", ".join(sorted(origin_text(o) for o in auth.bound_to())) or "no origin yet"
    return (
        f"no token was sent: the credentials are bound to {bound}; pass "
        f'origins=[..., "{origin_text(origin)}"] to send it here'
    )
