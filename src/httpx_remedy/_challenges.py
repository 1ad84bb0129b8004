"""``WWW-Authenticate``: the challenges a server answers a request with (RFC 9110 §11.6.1).

Pure and bounded, like every parser here (see ``_header_syntax``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import islice
from types import MappingProxyType

from ._header_syntax import (
    MAX_FIELDS,
    MAX_HEADER_CHARS,
    QUOTED_PAIR_RE,
    QUOTED_RE,
    TOKEN68_RE,
    TOKEN_RE,
    skip_ows,
    skip_to_comma,
)


@dataclass(frozen=True, slots=True)
class Challenge:
    """One authentication challenge from a ``WWW-Authenticate`` field (RFC 9110 §11.6.1).

    ``scheme`` keeps the case the server sent; compare it case-insensitively. ``params`` is a
    read-only mapping whose names are lower-cased and whose values are unquoted; when a name is
    repeated the first occurrence wins. A challenge carries either ``token68`` or ``params``.
    Challenges are hashable, so a caller can tell whether a server sent the same one twice.
    """

    scheme: str
    params: Mapping[str, str]
    token68: str | None = None

    def __post_init__(self) -> None:
        # Challenges may also be built by hand: normalise so that lookups stay case-insensitive
        # and the mapping stays read-only whatever mapping was passed in.
        normalised: dict[str, str] = {}
        for name, value in self.params.items():
            normalised.setdefault(name.lower(), value)
        object.__setattr__(self, "params", MappingProxyType(normalised))

    def __hash__(self) -> int:
        return hash((self.scheme, frozenset(self.params.items()), self.token68))

    def param(self, name: str) -> str | None:
        """The value of parameter ``name`` (case-insensitive), or ``None``."""
        return self.params.get(name.lower())

    def __reduce__(self) -> tuple[object, ...]:
        # The read-only mapping cannot be pickled; a plain dict is normalised again on the way in.
        return (Challenge, (self.scheme, dict(self.params), self.token68))


def parse_www_authenticate(values: Iterable[str]) -> tuple[Challenge, ...]:
    """Parse ``WWW-Authenticate`` field values into challenges (RFC 9110 §11.6.1).

    Each element of ``values`` is one field value (for example
    ``headers.get_list("www-authenticate")``); a lone string is taken as one field value. A
    field may hold several challenges, each a scheme followed by a token68
    (``Basic dXNlcjpwYXNz==``) or by comma-separated ``name=value`` parameters whose value is a
    token or a quoted-string with backslash escapes, with optional whitespace around ``=``. A
    bare scheme followed by a comma (``Bearer, DPoP algs="ES256 PS256"``) is a challenge without
    parameters, and empty list elements are ignored.

    Malformed pieces are skipped: a parameter without a usable value, a token68 challenge
    followed by parameters, parameters before any scheme, stray characters. A scheme glued to
    something other than a space or a comma drops that challenge. Each field is parsed on its
    own, so an unterminated quote cannot swallow the next field.

    Example: ``Basic realm="simple", Newauth realm="apps", type=1, title="Login to \\"apps\\""``
    gives two challenges, the second with ``realm``, ``type`` and ``title='Login to "apps"'``.
    """
    if isinstance(values, str):  # a common slip: iterating a str would yield characters
        values = (values,)
    challenges: list[Challenge] = []
    for value in islice(values, MAX_FIELDS):
        for scheme, params, token68 in _parse_challenges(value[:MAX_HEADER_CHARS]):
            challenges.append(Challenge(scheme, params, token68))
    return tuple(challenges)


def _parse_challenges(field: str) -> list[tuple[str, dict[str, str], str | None]]:
    """The challenges of one field value as (scheme, params, token68) triples."""
    found: list[tuple[str, dict[str, str], str | None]] = []
    # Where the auth-params being read go; None when there is no challenge to attach them to
    # (before the first scheme, after a malformed scheme, or after a token68).
    params: dict[str, str] | None = None
    pos, end = 0, len(field)
    while True:
        pos = skip_ows(field, pos)
        if pos >= end:
            return found
        if field[pos] == ",":  # list separator, or an empty list element
            pos += 1
            continue
        name = TOKEN_RE.match(field, pos)
        if name is None:  # stray characters: skip this list element
            pos = skip_to_comma(field, pos)
            continue
        after_name = skip_ows(field, name.end())
        if after_name < end and field[after_name] == "=":
            # A token followed by "=" is an auth-param, never a new scheme.
            if params is None:
                pos = skip_to_comma(field, after_name)
            else:
                pos = _parse_auth_param(field, name.group().lower(), after_name + 1, params)
            continue
        # A token not followed by "=" starts a new challenge.
        pos = name.end()
        if after_name == pos and after_name < end and field[after_name] != ",":
            # The scheme runs into something that is neither whitespace nor a comma.
            params = None
            pos = skip_to_comma(field, pos)
            continue
        token68: str | None = None
        candidate = TOKEN68_RE.match(field, after_name)
        if candidate is not None:
            after_token68 = skip_ows(field, candidate.end())
            if after_token68 >= end or field[after_token68] == ",":
                token68 = candidate.group()
                after_name = after_token68
        challenge_params: dict[str, str] = {}
        found.append((name.group(), challenge_params, token68))
        params = challenge_params if token68 is None else None
        pos = after_name


def _parse_auth_param(field: str, name: str, pos: int, params: dict[str, str]) -> int:
    """Read the value of auth-param ``name`` starting at ``pos`` (just after "=").

    Stores it unless ``name`` is already known (first wins) or the value is malformed, and
    returns the position of the next list separator or the end of the field.
    """
    end = len(field)
    pos = skip_ows(field, pos)
    value: str | None = None
    if pos < end and field[pos] == '"':
        quoted = QUOTED_RE.match(field, pos)
        if quoted is not None:
            value = QUOTED_PAIR_RE.sub(r"\1", quoted.group(1))
            pos = quoted.end()
    else:
        token = TOKEN_RE.match(field, pos)
        if token is not None:
            value = token.group()
            pos = token.end()
    after_value = skip_ows(field, pos)
    if value is None or (after_value < end and field[after_value] != ","):
        # No value, an unterminated quote, or junk after the value (`realm=a/b`, `x="y"z`):
        # the value is not what the server meant, so drop the parameter.
        return skip_to_comma(field, pos)
    params.setdefault(name, value)
    return after_value


def find_challenge(challenges: Iterable[Challenge], *schemes: str) -> Challenge | None:
    """The challenge to act on among those whose scheme is one of ``schemes``.

    Schemes match case-insensitively. A server may offer several challenges of which only one
    explains the failure (``Bearer realm="x", DPoP error="use_dpop_nonce"``), so the first
    matching challenge that carries an ``error`` parameter wins; otherwise the first matching
    challenge; ``None`` when nothing matches.
    """
    wanted = {scheme.lower() for scheme in schemes}
    first: Challenge | None = None
    for challenge in challenges:
        if challenge.scheme.lower() not in wanted:
            continue
        if "error" in challenge.params:
            return challenge
        if first is None:
            first = challenge
    return first
