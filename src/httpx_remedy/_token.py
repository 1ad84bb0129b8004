"""An access token: what it is, when it can be sent, and how it is stored for other processes.

:class:`Token` refuses a token that cannot travel in an ``Authorization`` header
(:func:`authorization_problem`), and :func:`require_secure` refuses plain ``http://`` to
anything but loopback. :func:`token_record` / :func:`token_from_record` are the format of a
token shared through a store: its expiry in wall-clock time, as monotonic clocks differ between
processes.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import random
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ._exceptions import InsecureTransportError

#: The refresh jitter's own generator: drawing it leaves ``random``'s shared state (which a
#: program may seed, and Hypothesis watches) alone.
_RANDOM = random.Random()

if TYPE_CHECKING:
    from ._dpop import Proof

#: Refresh this long before expiry (plus up to ``JITTER`` more, at random)...
LEEWAY = 60.0
JITTER = 30.0
#: ...but never before this share of the token's lifetime has passed, so short-lived tokens are
#: not refreshed on every request.
MIN_LIFETIME_SHARE = 0.5


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_secure(url: str, what: str) -> None:
    """Refuse plain ``http://`` to anything but loopback."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and is_loopback(parts.hostname or ""):
        return
    raise InsecureTransportError(
        f"refusing to send {what} to {parts.scheme}://{parts.hostname}: use https:// "
        "(plain http:// is only allowed to loopback addresses)"
    )


@dataclass(frozen=True)
class Token:
    """An access token and what came with it. Its ``repr`` shows no secret.

    ``ValueError`` (``TypeError`` for a non-string) when the token cannot be sent in an
    ``Authorization`` header: see :func:`authorization_problem`. The message never holds it.

    ``expires_at`` and ``refresh_at`` are readings of ``time.monotonic()``, so wall-clock jumps
    do not matter; ``refresh_at`` comes ``LEEWAY`` seconds (plus a little jitter, so a fleet
    does not refresh in the same second) before expiry, or half-way through a short lifetime.
    """

    access_token: str = field(repr=False)
    token_type: str = "Bearer"
    scope: str | None = None
    expires_at: float | None = None
    refresh_at: float | None = None
    refresh_token: str | None = field(default=None, repr=False)
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    authorization: str = field(init=False, repr=False, compare=False)
    """The ``Authorization`` header value (made once: it is sent with every request)."""
    header_row: tuple[bytes, bytes, bytes] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    """The header as httpx keeps it in its header list (raw name, lowercased name, value),
    made once per token and appended as it is to every request that carries the token
    (``_first_send.begin``); None for a DPoP-bound token, whose requests need a proof too."""
    _dpop: Proof | None = field(default=None, init=False, repr=False, compare=False)
    """What signs the DPoP proofs of this token's requests: set when the credentials' token
    manager takes a ``DPoP`` token (see ``TokenManager.store``); None for any other token."""

    def __post_init__(self) -> None:
        problem = authorization_problem(self.access_token, self.token_type)
        if problem is not None:
            if not (isinstance(self.access_token, str) and isinstance(self.token_type, str)):
                raise TypeError(problem)
            raise ValueError(problem)
        value = f"{self.token_type} {self.access_token}"
        object.__setattr__(self, "authorization", value)
        # Visible ASCII (authorization_problem said so): the encoding cannot fail.
        row = (b"Authorization", b"authorization", value.encode("ascii"))
        object.__setattr__(self, "header_row", row)

    @classmethod
    def from_response(
        cls,
        data: Mapping[str, Any],
        *,
        now: float | None = None,
        wall_now: float | None = None,
        leeway: float = LEEWAY,
        jitter: float = JITTER,
    ) -> Token:
        """A token from a token endpoint's JSON (RFC 6749 §5.1), or ``ValueError``."""
        access = data.get("access_token")
        if not isinstance(access, str) or not access:
            raise ValueError("no access_token in the token response")
        now = time.monotonic() if now is None else now
        wall_now = time.time() if wall_now is None else wall_now
        # An absolute expires_at (as stored by on_token) beats a relative expires_in, which
        # only means something at the moment the token endpoint answered.
        lifetime = None
        expires_at_wall = token_number(data.get("expires_at"))
        if expires_at_wall is not None:
            lifetime = max(0.0, expires_at_wall - wall_now)
        else:
            lifetime = token_number(data.get("expires_in"))
        expires_at = refresh_at = None
        if lifetime is not None:
            early = leeway + _RANDOM.uniform(0.0, jitter)
            expires_at = now + lifetime
            refresh_at = now + max(lifetime - early, lifetime * MIN_LIFETIME_SHARE)
        token_type = token_type_of(data.get("token_type"))
        refresh = data.get("refresh_token")
        scope = data.get("scope")
        return cls(
            access_token=access,
            token_type=token_type,
            scope=scope if isinstance(scope, str) else None,
            expires_at=expires_at,
            refresh_at=refresh_at,
            refresh_token=refresh if isinstance(refresh, str) and refresh else None,
            raw=dict(data),
        )

    def fresh(self, now: float) -> bool:
        """True while the token needs no refresh (``now`` is a monotonic reading)."""
        return self.refresh_at is None or now < self.refresh_at

    def usable(self, now: float) -> bool:
        """True until the token expires."""
        return self.expires_at is None or now < self.expires_at


def token_type_of(value: object) -> str:
    """The auth-scheme a token response's ``token_type`` stands for: ``Bearer`` when it is
    missing, empty or any case of bearer (RFC 6750 §4 is case-insensitive; some servers send
    ``bearer``, and some servers reject anything but ``Bearer``); ``DPoP`` for any case of dpop
    (RFC 9449 §5)."""
    if not isinstance(value, str) or not value or value.lower() == "bearer":
        return "Bearer"
    if value.lower() == "dpop":
        return "DPoP"
    return value


#: An access token as it can be sent: visible ASCII, one or more (RFC 6749 Appendix A's VSCHAR
#: without the space; see :func:`authorization_problem`).
_ACCESS_TOKEN_RE = re.compile(r"[\x21-\x7e]+")
#: A token type as it can be sent: an auth-scheme, which is an RFC 9110 token.
_TOKEN_TYPE_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def authorization_problem(access_token: object, token_type: object) -> str | None:
    """Why ``{token_type} {access_token}`` cannot be sent as an ``Authorization`` header, or
    None when it can. The message names the position and code point of the first bad
    character, never the token.

    An access token must be visible ASCII (%x21-7E). RFC 6749 Appendix A allows %x20-7E, but a
    space cannot be sent: a leading or trailing one is stripped from the header value on the
    way (RFC 9110 §5.5), and one inside cannot be told from the separator after the scheme, as
    Bearer's b64token (RFC 6750 §2.1) and every auth-scheme's token68 exclude it. Stricter than
    VSCHAR it is not: b64token would refuse tokens real servers issue (``app|secret``,
    ``00D..!..``). A character outside ASCII has no agreed encoding in a header (servers read
    Latin-1, UTF-8 or refuse), and CR, LF or NUL would end or break the header. The token
    type is the auth-scheme, so it must be an RFC 9110 token (``Bearer``, ``DPoP``, ``MAC``).
    """
    if not isinstance(access_token, str):
        return f"access_token must be a str, not {type(access_token).__name__}"
    if not isinstance(token_type, str):
        return f"token_type must be a str, not {type(token_type).__name__}"
    if not access_token:
        return "access_token is empty"
    if _ACCESS_TOKEN_RE.fullmatch(access_token) is None:
        where = _first_outside(access_token, _ACCESS_TOKEN_RE)
        return (
            f"access_token cannot be sent in an Authorization header: it has {where}, and an "
            "access token is visible ASCII (%x21-7E: no space, control or non-ASCII character)"
        )
    if _TOKEN_TYPE_RE.fullmatch(token_type) is None:
        where = _first_outside(token_type, _TOKEN_TYPE_RE) if token_type else "nothing"
        return (
            f"token_type cannot be sent as an Authorization scheme: it has {where}, and a "
            "token type is an RFC 9110 token (letters, digits and !#$%&'*+.^_`|~-)"
        )
    return None


def _first_outside(text: str, allowed: re.Pattern[str]) -> str:
    """``U+000D at position 12 of 40``: where ``text`` first leaves ``allowed``, without the
    text itself."""
    for position, char in enumerate(text):
        if allowed.fullmatch(char) is None:
            return f"U+{ord(char):04X} at position {position} of {len(text)}"
    return "nothing wrong"  # pragma: no cover - only called once the whole text failed


def token_number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, (int, float)) and 0 <= value < 10**10:
        return float(value)
    return None


_REFRESH_AT = "httpx_remedy_refresh_at"


def token_record(token: Token, now: float, wall_now: float) -> tuple[bytes, float | None]:
    """The token as stored for other processes (its expiry in wall-clock time, as monotonic
    clocks differ between processes), and how long to keep it."""
    data = dict(token.raw)
    data.update(access_token=token.access_token, token_type=token.token_type)
    if token.refresh_token:
        data["refresh_token"] = token.refresh_token
    if token.scope:
        data["scope"] = token.scope
    ttl = None
    if token.expires_at is not None:
        lifetime = max(token.expires_at - now, 0.001)
        data["expires_at"] = wall_now + lifetime
        data.pop("expires_in", None)
        # A record with a refresh token is the only place a sibling learns the rotated one:
        # it must outlive the access token it came with.
        ttl = None if token.refresh_token else lifetime
    if token.refresh_at is not None:
        # The refresh point travels too: read back, the remaining lifetime is not a new token's
        # lifetime to use half of.
        data[_REFRESH_AT] = wall_now + (token.refresh_at - now)
    return json.dumps(data).encode(), ttl


def token_from_record(
    record: bytes | None, *, now: float, wall_now: float, leeway: float
) -> tuple[Token, dict[str, Any]] | None:
    """A token another process stored, and its data; None for nothing or garbage."""
    if not record:
        return None
    try:
        data = json.loads(record)
        token = Token.from_response(data, now=now, wall_now=wall_now, leeway=leeway)
    except (ValueError, TypeError, AttributeError):
        return None
    refresh_at = token_number(data.pop(_REFRESH_AT, None))
    if refresh_at is not None and token.refresh_at is not None:
        token = dataclasses.replace(token, refresh_at=now + (refresh_at - wall_now))
    return token, data


def covers(granted: str | None, wanted: str) -> bool:
    return set(wanted.split()) <= set((granted or "").split())


def union_scope(*scopes: str | None) -> str:
    """The space-separated union of scopes, in first-seen order."""
    seen: dict[str, None] = {}
    for scope in scopes:
        for item in (scope or "").split():
            seen.setdefault(item, None)
    return " ".join(seen)
