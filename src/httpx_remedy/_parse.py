"""The sans-I/O parsing core of httpx-remedy.

Pure functions that turn what a server sent (header values, an error body) into plain data:
authentication challenges, delays, rate-limit resets and error details. Nothing here does I/O,
sleeps or reads the clock (callers pass ``now``, Unix epoch seconds), and nothing here raises on
server input: every parser returns a best-effort result, or ``None``, for any value however
malformed. Inputs are cut to bounded sizes and every regular expression runs in linear time, so
hostile input stays cheap.
"""

from __future__ import annotations

import calendar
import codecs
import html
import itertools
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from itertools import islice
from types import MappingProxyType
from typing import Final, Protocol, cast
from urllib.parse import parse_qsl

from ._words import is_generic, json_message, list_messages, most_specific

__all__ = [
    "EMPTY_BODY",
    "MAX_SERVER_DELAY",
    "BodyDetails",
    "Challenge",
    "HeaderLookup",
    "find_challenge",
    "parse_error_body",
    "parse_http_date",
    "parse_retry_after",
    "parse_www_authenticate",
    "ratelimit_reset",
    "server_delay",
]

#: The longest delay, in seconds, a server may ask for; anything larger is treated as garbage.
MAX_SERVER_DELAY: Final[float] = 365 * 24 * 3600.0

_MAX_HEADER_CHARS: Final = 8 * 1024  # of one header value
_MAX_FIELDS: Final = 64  # field lines (or list members) of one header looked at
_MAX_BODY_BYTES: Final = 64 * 1024
_MAX_CONTENT_TYPE_CHARS: Final = 1024
_MAX_TEXT_CHARS: Final = 500  # of any string in a BodyDetails
_MAX_LIST_ITEMS: Final = 100  # JSON array elements searched for an error object
_MAX_DATE_CHARS: Final = 64  # no HTTP-date is longer once whitespace is collapsed
_MAX_JSON_INT_DIGITS: Final = 40


class HeaderLookup(Protocol):
    """What the parsers need from a headers object; ``httpx.Headers`` satisfies it."""

    def get_list(self, key: str, split_commas: bool = False) -> list[str]:
        """All values of header ``key`` (case-insensitive), optionally split on commas."""
        ...


# --------------------------------------------------------------------------------------------
# Shared lexical helpers
# --------------------------------------------------------------------------------------------

# RFC 9110 §5.6.2 token and §11.2 token68; both are plain character classes, so linear.
_TOKEN_RE: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_TOKEN68_RE: Final = re.compile(r"[A-Za-z0-9._~+/-]+=*")
# A quoted-string (RFC 9110 §5.6.4). The two alternatives cannot start with the same character,
# so a failed match backtracks at most once per character.
_QUOTED_RE: Final = re.compile(r'"((?:[^"\\]|\\.)*)"', re.DOTALL)
_QUOTED_PAIR_RE: Final = re.compile(r"\\(.)", re.DOTALL)
_NUMBER_RE: Final = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")


def _skip_ows(text: str, pos: int) -> int:
    """Index of the first character at or after ``pos`` that is not SP or HTAB."""
    end = len(text)
    while pos < end and text[pos] in " \t":
        pos += 1
    return pos


def _skip_to_comma(text: str, pos: int) -> int:
    """Index of the next list separator at or after ``pos``, stepping over quoted strings."""
    end = len(text)
    while pos < end:
        char = text[pos]
        if char == ",":
            return pos
        if char == '"':
            quoted = _QUOTED_RE.match(text, pos)
            if quoted is None:  # an unterminated quote swallows the rest of the field
                return end
            pos = quoted.end()
        else:
            pos += 1
    return end


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    """Split ``text`` on ``separator`` except inside quoted strings (which may be unterminated)."""
    parts: list[str] = []
    start = pos = 0
    end = len(text)
    while pos < end:
        char = text[pos]
        if char == separator:
            parts.append(text[start:pos])
            start = pos = pos + 1
        elif char == '"':
            quoted = _QUOTED_RE.match(text, pos)
            pos = end if quoted is None else quoted.end()
        else:
            pos += 1
    parts.append(text[start:])
    return parts


def _parse_number(text: str) -> float | None:
    """A non-negative decimal number in plain ASCII digits (``120``, ``1.5``), else ``None``.

    ``float()`` alone would also accept ``nan``, ``1e3``, ``1_000``, signs and non-ASCII digits,
    none of which a server means as a delay.
    """
    if _NUMBER_RE.fullmatch(text) is None:
        return None
    return float(text)


def _valid_delay(seconds: float) -> float | None:
    """``seconds`` as a float if it is a usable delay (0 to MAX_SERVER_DELAY), else ``None``.

    The chained comparison is false for NaN, infinities and out-of-range ints, so no conversion
    can overflow before the check.
    """
    if 0.0 <= seconds <= MAX_SERVER_DELAY:
        return float(seconds) + 0.0  # + 0.0 turns -0.0 into 0.0
    return None


# --------------------------------------------------------------------------------------------
# WWW-Authenticate
# --------------------------------------------------------------------------------------------


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
    for value in islice(values, _MAX_FIELDS):
        for scheme, params, token68 in _parse_challenges(value[:_MAX_HEADER_CHARS]):
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
        pos = _skip_ows(field, pos)
        if pos >= end:
            return found
        if field[pos] == ",":  # list separator, or an empty list element
            pos += 1
            continue
        name = _TOKEN_RE.match(field, pos)
        if name is None:  # stray characters: skip this list element
            pos = _skip_to_comma(field, pos)
            continue
        after_name = _skip_ows(field, name.end())
        if after_name < end and field[after_name] == "=":
            # A token followed by "=" is an auth-param, never a new scheme.
            if params is None:
                pos = _skip_to_comma(field, after_name)
            else:
                pos = _parse_auth_param(field, name.group().lower(), after_name + 1, params)
            continue
        # A token not followed by "=" starts a new challenge.
        pos = name.end()
        if after_name == pos and after_name < end and field[after_name] != ",":
            # The scheme runs into something that is neither whitespace nor a comma.
            params = None
            pos = _skip_to_comma(field, pos)
            continue
        token68: str | None = None
        candidate = _TOKEN68_RE.match(field, after_name)
        if candidate is not None:
            after_token68 = _skip_ows(field, candidate.end())
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
    pos = _skip_ows(field, pos)
    value: str | None = None
    if pos < end and field[pos] == '"':
        quoted = _QUOTED_RE.match(field, pos)
        if quoted is not None:
            value = _QUOTED_PAIR_RE.sub(r"\1", quoted.group(1))
            pos = quoted.end()
    else:
        token = _TOKEN_RE.match(field, pos)
        if token is not None:
            value = token.group()
            pos = token.end()
    after_value = _skip_ows(field, pos)
    if value is None or (after_value < end and field[after_value] != ","):
        # No value, an unterminated quote, or junk after the value (`realm=a/b`, `x="y"z`):
        # the value is not what the server meant, so drop the parameter.
        return _skip_to_comma(field, pos)
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


# --------------------------------------------------------------------------------------------
# Dates and delays
# --------------------------------------------------------------------------------------------

_MONTH_NAMES: Final = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_MONTHS: Final = {
    name: number for number, full in enumerate(_MONTH_NAMES, 1) for name in (full, full[:3])
}
_ZONE: Final = r"gmt|utc|ut|z|[+-][0-9]{4}"
# IMF-fixdate `sun, 06 nov 1994 08:49:37 gmt` and RFC 850 `sunday, 06-nov-94 08:49:37 gmt`,
# matched after lower-casing and collapsing whitespace. The weekday is optional and unchecked.
_IMF_OR_RFC850_RE: Final = re.compile(
    r"(?:[a-z]+,? ?)?([0-9]{1,2})[ -]([a-z]+)[ -]([0-9]{4}|[0-9]{2}) "
    rf"([0-9]{{1,2}}):([0-9]{{2}}):([0-9]{{2}})(?: ?({_ZONE}))?"
)
# asctime `sun nov 6 08:49:37 1994` (the double space before a one-digit day is collapsed).
_ASCTIME_RE: Final = re.compile(
    r"(?:[a-z]+,? )?([a-z]+) ([0-9]{1,2}) ([0-9]{1,2}):([0-9]{2}):([0-9]{2}) ([0-9]{4})"
    r"(?: (?:gmt|utc|ut|z))?"
)


def parse_http_date(value: str, *, now: float | None = None) -> float | None:
    """Parse an HTTP-date (RFC 9110 §5.6.7) into Unix epoch seconds, or ``None``.

    Accepts IMF-fixdate ``Sun, 06 Nov 1994 08:49:37 GMT``, RFC 850
    ``Sunday, 06-Nov-94 08:49:37 GMT`` and asctime ``Sun Nov  6 08:49:37 1994``, in any case and
    with any amount of whitespace. Leniencies met in the wild are accepted too: a missing or
    wrong weekday, full month names, a four-digit year in the RFC 850 form, ``UTC``/``Z`` or a
    numeric offset (``+0200``) instead of ``GMT``. Impossible dates (Feb 30, hour 25) give
    ``None``; a leap second ``:60`` is accepted.

    A two-digit year is read as RFC 9110 requires: a year more than 50 years after the year of
    ``now`` means the most recent past year with the same last two digits. Without ``now``
    (the parser never reads the clock) two-digit years 69-99 mean 19xx and 00-68 mean 20xx,
    like POSIX ``strptime``.
    """
    text = " ".join(value[:_MAX_HEADER_CHARS].split()).lower()
    if len(text) > _MAX_DATE_CHARS:
        return None
    match = _IMF_OR_RFC850_RE.fullmatch(text)
    if match is not None:
        day, month, year, hour, minute, second, zone = match.groups()
    else:
        match = _ASCTIME_RE.fullmatch(text)
        if match is None:
            return None
        month, day, hour, minute, second, year = match.groups()
        zone = None
    month_number = _MONTHS.get(month)
    full_year = int(year) if len(year) == 4 else _expand_two_digit_year(int(year), now)
    if month_number is None or not 1 <= full_year <= 9999:  # the range calendar can handle
        return None
    day_number, hours, minutes, seconds = int(day), int(hour), int(minute), int(second)
    if not (
        1 <= day_number <= calendar.monthrange(full_year, month_number)[1]
        and hours <= 23
        and minutes <= 59
        and seconds <= 60
    ):
        return None
    offset = _zone_offset(zone)
    if offset is None:
        return None
    stamp = calendar.timegm((full_year, month_number, day_number, hours, minutes, seconds))
    return float(stamp - offset)


def _zone_offset(zone: str | None) -> int | None:
    """Seconds east of UTC for a matched zone, or ``None`` for an impossible numeric offset."""
    if zone is None or zone[0] not in "+-":
        return 0
    hours, minutes = int(zone[1:3]), int(zone[3:5])
    if hours > 23 or minutes > 59:
        return None
    sign = 1 if zone[0] == "+" else -1
    return sign * (hours * 3600 + minutes * 60)


def _expand_two_digit_year(year: int, now: float | None) -> int:
    """The full year of a two-digit year, per RFC 9110 §5.6.7 when ``now`` is known."""
    current = _year_of(now)
    if current is None:
        return year + (1900 if year >= 69 else 2000)
    full = current - current % 100 + year
    if full > current + 50:
        return full - 100
    if full <= current - 50:
        return full + 100
    return full


def _year_of(now: float | None) -> int | None:
    """The UTC calendar year of ``now``, or ``None`` if it is absent or not a usable time."""
    if now is None:
        return None
    try:
        return time.gmtime(now).tm_year
    except (OverflowError, OSError, ValueError):  # NaN, infinities, out of the platform's range
        return None


def parse_retry_after(value: str, now: float) -> float | None:
    """The delay in seconds asked for by a ``Retry-After`` value (RFC 9110 §10.2.3), or ``None``.

    ``value`` is delay-seconds (``120``; decimal seconds such as ``1.5`` are accepted as met in
    the wild) or an HTTP-date, whose delay is the date minus ``now`` (Unix epoch seconds),
    clamped to 0 for a date in the past. The result is finite and between 0 and
    ``MAX_SERVER_DELAY``; negative numbers, garbage, NaN, infinities and larger values give
    ``None``.
    """
    text = value[:_MAX_HEADER_CHARS].strip()
    seconds = _parse_number(text)
    if seconds is None:
        date = parse_http_date(text, now=now)
        if date is None:
            return None
        seconds = max(date - now, 0.0)  # a NaN difference stays NaN and is rejected below
    return _valid_delay(seconds)


_MS_DELAY_HEADERS: Final = ("retry-after-ms", "x-ms-retry-after-ms")


def server_delay(headers: HeaderLookup, now: float) -> tuple[float, str] | None:
    """The delay the server asked for, with the (lower-case) header it came from, or ``None``.

    Looks at ``retry-after-ms`` and ``x-ms-retry-after-ms`` (milliseconds, decimals allowed;
    more precise, so they win) and then ``Retry-After`` (see :func:`parse_retry_after`). When a
    header is repeated, or its value is a comma-separated list, the first valid value counts.
    The result is in seconds, finite and between 0 and ``MAX_SERVER_DELAY``.
    """
    for name in _MS_DELAY_HEADERS:
        for value in headers.get_list(name, split_commas=True)[:_MAX_FIELDS]:
            milliseconds = _parse_number(value[:_MAX_HEADER_CHARS].strip())
            seconds = None if milliseconds is None else _valid_delay(milliseconds / 1000)
            if seconds is not None:
                return seconds, name
    for value in headers.get_list("retry-after")[:_MAX_FIELDS]:
        seconds = parse_retry_after(value, now)
        if seconds is not None:
            return seconds, "retry-after"
    return None


# --------------------------------------------------------------------------------------------
# Rate limits
# --------------------------------------------------------------------------------------------

_RESET_HEADERS: Final = ("ratelimit-reset", "x-ratelimit-reset", "x-rate-limit-reset")
_SF_STRING_RE: Final = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_SF_TOKEN_RE: Final = re.compile(r"[A-Za-z*][!#$%&'*+.^_`|~0-9A-Za-z:/-]*")
_UNIX_MILLISECONDS: Final = 1e12  # 2001-09-09 in ms; no delta or seconds timestamp is this big
_UNIX_SECONDS: Final = 1e9  # 2001-09-09 in s; no sane delta is 31 years


def ratelimit_reset(headers: HeaderLookup, now: float) -> tuple[float, str] | None:
    """Seconds until rate-limit quota returns, with the (lower-case) header name, or ``None``.

    Sources, first usable one wins:

    1. ``RateLimit`` as in draft-ietf-httpapi-ratelimit-headers-10, a Structured Fields list
       ``"default";r=50;t=30`` (items are sf-strings or tokens with parameters ``r`` remaining
       and ``t`` seconds). Items with ``r=0`` are exhausted quotas, so the largest ``t`` among
       them wins; when no item has ``r=0``, the largest ``t`` of all. Malformed members are
       ignored.
    2. ``RateLimit`` in the draft-07 dictionary form ``limit=100, remaining=50, reset=5``:
       ``reset`` seconds.
    3. ``RateLimit-Reset`` (draft-06), ``X-RateLimit-Reset``, ``X-Rate-Limit-Reset``, whose
       value may be a delay, a Unix timestamp or a date, told apart by this heuristic:

       - an HTTP-date: the date minus ``now``;
       - a number >= 1e12: a Unix timestamp in milliseconds, ``value / 1000 - now``;
       - a number >= 1e9: a Unix timestamp in seconds, ``value - now``;
       - any other number: delta seconds.

    A time in the past gives 0. Garbage, negative numbers and delays above
    ``MAX_SERVER_DELAY`` are skipped. ``Retry-After`` takes precedence over all of these (the
    draft says so); that is the caller's business (see :func:`server_delay`).
    """
    members = [
        member
        for value in headers.get_list("ratelimit")[:_MAX_FIELDS]
        for member in _list_members(value)
    ][:_MAX_FIELDS]
    if members:
        seconds = _ratelimit_structured(members)
        if seconds is None:
            seconds = _ratelimit_dictionary(members)
        if seconds is not None:
            return seconds, "ratelimit"
    for name in _RESET_HEADERS:
        for value in headers.get_list(name)[:_MAX_FIELDS]:
            seconds = _parse_reset(value, now)
            if seconds is not None:
                return seconds, name
    return None


def _list_members(value: str) -> list[str]:
    """The comma-separated members of a list-valued field value, bounded in size.

    A value too long is cut at its last comma before the limit: a cut member could turn
    ``t=300`` into a plausible but wrong ``t=3``.
    """
    if len(value) > _MAX_HEADER_CHARS:
        value = value[:_MAX_HEADER_CHARS]
        value = value[: max(value.rfind(","), 0)]
    return _split_outside_quotes(value, ",")


def _ratelimit_structured(members: list[str]) -> float | None:
    """The reset delay from draft-10 ``RateLimit`` items, or ``None``."""
    exhausted: list[float] = []
    others: list[float] = []
    for member in members:
        params = _sf_item_params(member)
        if params is None:
            continue
        reset = _parse_number(params.get("t", ""))
        seconds = None if reset is None else _valid_delay(reset)
        if seconds is None:
            continue
        remaining = _parse_number(params.get("r", ""))
        (exhausted if remaining == 0 else others).append(seconds)
    candidates = exhausted or others
    return max(candidates) if candidates else None


def _sf_item_params(member: str) -> dict[str, str] | None:
    """The parameters of a Structured Fields item ``"name";key=value;...`` (raw values).

    ``None`` when the bare item is not an sf-string or a token, e.g. a dictionary member
    ``reset=5``. Keys are lower-cased and, as RFC 8941 says, a repeated key's last value wins.
    """
    bare, *parts = _split_outside_quotes(member, ";")
    bare = bare.strip(" \t")
    if _SF_STRING_RE.fullmatch(bare) is None and _SF_TOKEN_RE.fullmatch(bare) is None:
        return None
    params: dict[str, str] = {}
    for part in parts:
        key, _, value = part.partition("=")
        params[key.strip(" \t").lower()] = value.strip(" \t")
    return params


def _ratelimit_dictionary(members: list[str]) -> float | None:
    """The ``reset`` member of a draft-07 ``RateLimit`` dictionary, or ``None``."""
    for member in members:
        key, separator, rest = member.partition("=")
        if separator and key.strip(" \t").lower() == "reset":
            value = _split_outside_quotes(rest, ";")[0].strip(" \t")
            seconds = _parse_number(value)
            delay = None if seconds is None else _valid_delay(seconds)
            if delay is not None:
                return delay
    return None


def _parse_reset(value: str, now: float) -> float | None:
    """A ``*-Reset`` header value as a delay, by the heuristic of :func:`ratelimit_reset`."""
    text = value[:_MAX_HEADER_CHARS].strip()
    number = _parse_number(text)
    if number is None:
        date = parse_http_date(text, now=now)
        if date is None:
            return None
        delay = date - now
    elif number >= _UNIX_MILLISECONDS:
        delay = number / 1000 - now
    elif number >= _UNIX_SECONDS:
        delay = number - now
    else:
        delay = number
    return _valid_delay(max(delay, 0.0))


# --------------------------------------------------------------------------------------------
# Error bodies
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BodyDetails:
    """What a server said in an error body, every field optional.

    Strings are cleaned for display: control characters become spaces, whitespace is collapsed
    and trimmed, and text is cut to 500 characters (ending in "…" when cut).
    """

    #: An error code (an OAuth ``error`` such as ``invalid_grant``, or an API's own code).
    error: str | None = None
    error_description: str | None = None
    error_uri: str | None = None
    #: The OAuth ``scope`` member when it is a string.
    scope: str | None = None
    #: Human-readable text when the body is not RFC 6749 shaped: a nested error message, a
    #: problem's detail or title, an HTML title, the first line of plain text.
    message: str | None = None
    #: RFC 9457 problem details members (read-only) when the body is a problem object.
    problem: Mapping[str, object] | None = None
    #: A delay in seconds found in a JSON body (``retry_after`` and similar).
    retry_after: float | None = None
    #: True when ``error`` is the API's own code in a body that is not OAuth shaped (Slack's
    #: ``{"ok": false, "error": "invalid_auth"}``): it is not to be read as an OAuth code.
    own_code: bool = False

    def __post_init__(self) -> None:
        if self.problem is not None and not isinstance(self.problem, MappingProxyType):
            object.__setattr__(self, "problem", MappingProxyType(dict(self.problem)))


#: The details of a body that said nothing usable.
EMPTY_BODY: Final = BodyDetails()

_CONTROL_RE: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
_SURROGATE_RE: Final = re.compile("[\ud800-\udfff]")  # lone surrogates from JSON \ud800 escapes
_WHITESPACE_RE: Final = re.compile(r"\s")
_URI_BREAK_RE: Final = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")
_CODE_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,99}")
_ELLIPSIS: Final = "\u2026"

_PROBLEM_MEDIA: Final = "application/problem+json"
_FORM_MEDIA: Final = "application/x-www-form-urlencoded"
_HTML_MEDIA: Final = frozenset({"text/html", "application/xhtml+xml"})
# Codecs that are not character sets, or whose decoders are slow on hostile input (punycode is
# quadratic): a body declaring one is read as UTF-8 instead.
_REFUSED_CODECS: Final = frozenset(
    {"idna", "punycode", "unicode-escape", "raw-unicode-escape", "undefined"}
)

# Keys of a nested error object that may hold its code, in order of preference.
_NESTED_CODE_KEYS: Final = ("code", "error", "status", "type")
# Keys of an element of an error array that may hold its code.
_ELEMENT_CODE_KEYS: Final = ("code", "error")
# Keys of a top-level object that may hold an error object, or a list of them.
_NESTED_KEYS: Final = ("error", "detail")
_ARRAY_KEYS: Final = ("errors", "error", "detail")
# Keys of a top-level object that may hold its code, after ``error`` and a nested object's.
_TOP_CODE_KEYS: Final = ("code", "errorCode")
_BODY_DELAY_KEYS: Final = ("retry_after", "retryAfter", "retry_after_seconds")
_PROBLEM_STRING_MEMBERS: Final = frozenset({"type", "title", "detail", "instance"})


def parse_error_body(
    body: bytes, content_type: str | None, scrub: Callable[[str], str] | None = None
) -> BodyDetails:
    """Everything usable a server put in an error body; never raises.

    ``body`` is decoded with the ``charset`` of ``content_type`` when that is a known character
    set, else as UTF-8; undecodable bytes become U+FFFD. Then, first rule that applies wins:

    - JSON, when the content type says so (``application/json``, ``+json``) or the body starts
      with ``{`` or ``[`` (content types lie). Read from an object:

      - RFC 6749 §5.2 top-level ``error``, ``error_description``, ``error_uri``, ``scope``
        (``error_description`` is the OAuth member: only a member of that name fills it, at the
        top level, in a nested error object or in the first element of an error array);
      - the error code, else, from a nested error object (``{"error": {...}}``, or a
        ``detail`` object) by ``code``, ``error``, ``status`` or ``type``; from the first
        object of an ``errors`` (or ``error``, ``detail``) array, or of a top-level array, by
        ``code`` or ``error`` (or a GraphQL ``extensions.code``); or a top-level ``code`` or
        ``errorCode`` (Okta). With ``"ok": false`` (Slack) the code is the API's own
        (``own_code``);
      - RFC 9457 problem details, when the content type is ``application/problem+json`` or the
        object has a string ``type`` or ``title`` with an integer ``status`` or a string
        ``detail``: ``problem`` holds the members, standard members of the wrong type dropped
        as RFC 9457 requires;
      - ``message``: the most specific words of the body, as :func:`json_message` finds them
        (``detail``, ``message``, ``errorSummary``, ``error_summary``, ``title``... and a nested
        error object's; every error of an ``errors`` / ``detail`` / ``errorCauses`` /
        ``invalid-params`` list, or of a ``{"field": ["message"]}`` map, with its field path:
        ``body.items.0.price: Input should be greater than 0; query.limit: Field required``);
      - ``retry_after`` from ``retry_after``, ``retryAfter`` or ``retry_after_seconds``
        (seconds, number or numeric string), top-level or in the nested error object.

      A JSON string is taken as the message. Invalid JSON (or a JSON number, boolean or null)
      falls through to the next rules.
    - Form-encoded fields (the content type says so, or the body looks like ``error=...&...``):
      ``error``, ``error_description``, ``error_uri``, ``scope``.
    - Markup (HTML or XML content type, or a body starting with ``<``): for XML, ``<Code>`` and
      ``<Message>`` elements (as in S3 or Azure errors); for HTML, the ``<title>`` (else the
      first ``<h1>``) when it says more than the status, else the most specific line of text
      outside tags, scripts, styles and a closing server signature ("Message: Line too long."
      under a title "Error response"), tags stripped and entities unescaped.
    - Anything else: ``message`` is the first non-empty line.

    An error code only counts as one if it looks like one (``^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$``,
    so ``invalid_token`` but not ``Not Found``); prose in its place goes to ``message``. Every
    string is cleaned (see :class:`BodyDetails`), ``error_uri`` is dropped when it contains
    whitespace or control characters or is longer than 500 characters (a cut URI is a wrong
    URI), and empty strings become ``None``. A body with nothing usable gives ``EMPTY_BODY``.

    ``scrub``, when given, rewrites the decoded text before anything is read from it (the
    caller takes secrets out there, before any cut could keep part of one).
    """
    media, charset = _parse_content_type(content_type)
    text = _decode(bytes(body[:_MAX_BODY_BYTES]), charset)
    if scrub is not None:
        text = scrub(text)
    text = text.lstrip("\ufeff").strip()
    if not text:
        return EMPTY_BODY
    if media.endswith(("/json", "+json")) or text[0] in "{[":
        details = _from_json(text, media == _PROBLEM_MEDIA)
        if details is not None:
            return details
    if media == _FORM_MEDIA or _looks_like_form(text):
        details = _from_form(text)
        if details is not None:
            return details
    is_xml = media.endswith(("/xml", "+xml")) and media not in _HTML_MEDIA
    if is_xml or text.startswith("<?xml"):
        details = _from_xml(text)
        if details is not None:
            return details
    if is_xml or media in _HTML_MEDIA or text[0] == "<":
        return _details(message=_from_html(text))
    return _details(message=_first_line(text))


def _details(
    *,
    error: str | None = None,
    error_description: str | None = None,
    error_uri: str | None = None,
    scope: str | None = None,
    message: str | None = None,
    problem: Mapping[str, object] | None = None,
    retry_after: float | None = None,
    own_code: bool = False,
) -> BodyDetails:
    """A BodyDetails, or the EMPTY_BODY singleton when every field is ``None``."""
    details = BodyDetails(
        error, error_description, error_uri, scope, message, problem, retry_after, own_code
    )
    return EMPTY_BODY if details == EMPTY_BODY else details


def _parse_content_type(content_type: str | None) -> tuple[str, str | None]:
    """The lower-cased media type and the charset parameter of a Content-Type value."""
    if not content_type:
        return "", None
    media, *params = _split_outside_quotes(content_type[:_MAX_CONTENT_TYPE_CHARS], ";")
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            return media.strip().lower(), value.strip().strip('"').strip() or None
    return media.strip().lower(), None


def _decode(data: bytes, charset: str | None) -> str:
    """``data`` as text in ``charset`` if that is a usable character set, else UTF-8."""
    if charset:
        try:
            codec = codecs.lookup(charset)
            if codec.name not in _REFUSED_CODECS:
                return data.decode(codec.name, errors="replace")
        except Exception:  # unknown names, non-text codecs, any odd failure of an exotic codec
            pass
    return data.decode("utf-8", errors="replace")


def _clean(text: str) -> str | None:
    """``text`` made safe to display on one line: see :class:`BodyDetails`."""
    text = " ".join(_SURROGATE_RE.sub("\ufffd", _CONTROL_RE.sub(" ", text)).split())
    if len(text) > _MAX_TEXT_CHARS:
        text = text[: _MAX_TEXT_CHARS - 1].rstrip() + _ELLIPSIS
    return text or None


def _text(value: object) -> str | None:
    """A cleaned string, or ``None`` if ``value`` is not a string or cleans to nothing."""
    return _clean(value) if isinstance(value, str) else None


def _code(value: object) -> str | None:
    """``value`` if it is a string that looks like an error code, else ``None``."""
    if isinstance(value, str):
        code = value.strip()
        if _CODE_RE.fullmatch(code) is not None:
            return code
    return None


def _prose(value: object) -> str | None:
    """A cleaned string that is not an error code (``"Not Found"``), else ``None``."""
    return _text(value) if _code(value) is None else None


def _uri(value: object) -> str | None:
    """``value`` if it can be a URI: a string without whitespace or controls, not too long."""
    if not isinstance(value, str):
        return None
    uri = value.strip()
    if not uri or len(uri) > _MAX_TEXT_CHARS or _URI_BREAK_RE.search(uri) is not None:
        return None
    return _SURROGATE_RE.sub("\ufffd", uri)


def _first(
    obj: Mapping[str, object], keys: Iterable[str], pick: Callable[[object], str | None]
) -> str | None:
    """The first non-``None`` result of ``pick`` over the values of ``keys`` in ``obj``."""
    for key in keys:
        found = pick(obj.get(key))
        if found is not None:
            return found
    return None


def _json_int(digits: str) -> int | float:
    """JSON integers, but a float for absurdly long ones: int() on thousands of digits is slow
    (and raises on Python 3.11+), and no field read here needs that precision."""
    return int(digits) if len(digits) <= _MAX_JSON_INT_DIGITS else float(digits)


def _from_json(text: str, problem_media: bool) -> BodyDetails | None:
    """Details from a JSON body, or ``None`` when it is not JSON the rules can use."""
    try:
        data = json.loads(text, parse_int=_json_int)
    except (ValueError, RecursionError):  # invalid JSON; nesting deeper than the stack
        return None
    if isinstance(data, dict):
        return _from_json_object(data, problem_media)
    if isinstance(data, list):
        element = _first_dict(data)
        return _details(
            error=None if element is None else _element_code(element, _ELEMENT_CODE_KEYS),
            error_description=None if element is None else _text(element.get("error_description")),
            message=_clean("; ".join(list_messages(data))),
            retry_after=None if element is None else _json_delay(element),
        )
    if isinstance(data, str):
        return _details(message=_clean(data))
    return None


def _first_dict(value: object) -> dict[str, object] | None:
    """The first object among the first elements of a JSON array, or ``None``."""
    if isinstance(value, list):
        for element in value[:_MAX_LIST_ITEMS]:
            if isinstance(element, dict):
                return element
    return None


def _element_code(obj: Mapping[str, object], code_keys: tuple[str, ...]) -> str | None:
    """The code of a nested error object or of an error array element."""
    code = _first(obj, code_keys, _code)
    extensions = obj.get("extensions")
    if code is None and isinstance(extensions, dict):  # GraphQL puts codes there
        code = _code(extensions.get("code"))
    return code


def _from_json_object(obj: dict[str, object], problem_media: bool) -> BodyDetails:
    """Details from a top-level JSON object (see :func:`parse_error_body` for the rules)."""
    raw_error = obj.get("error")
    inner: dict[str, object] | None = None
    inner_code: str | None = None
    for key in _NESTED_KEYS:
        if isinstance(obj.get(key), dict):
            inner = cast("dict[str, object]", obj[key])
            inner_code = _element_code(inner, _NESTED_CODE_KEYS)
            break
    else:
        for key in _ARRAY_KEYS:
            inner = _first_dict(obj.get(key))
            if inner is not None:
                inner_code = _element_code(inner, _ELEMENT_CODE_KEYS)
                break

    problem: Mapping[str, object] | None = None
    if problem_media or _looks_like_problem(obj):
        problem = _problem_members(obj)

    retry_after = _json_delay(obj)
    if retry_after is None and inner is not None:
        retry_after = _json_delay(inner)

    # error_description is the OAuth member: only a member of that name fills it.
    description = _text(obj.get("error_description"))
    if description is None and inner is not None:
        description = _text(inner.get("error_description"))
    return _details(
        error=_code(raw_error) or inner_code or _first(obj, _TOP_CODE_KEYS, _code),
        error_description=description,
        error_uri=_uri(obj.get("error_uri")),
        scope=_text(obj.get("scope")),
        message=_clean(json_message(obj) or ""),
        problem=problem,
        retry_after=retry_after,
        own_code=obj.get("ok") is False and isinstance(raw_error, str),
    )


def _looks_like_problem(obj: Mapping[str, object]) -> bool:
    """Whether an object served without the problem media type is RFC 9457 problem details."""
    status = obj.get("status")
    identified = isinstance(obj.get("type"), str) or isinstance(obj.get("title"), str)
    explained = (isinstance(status, int) and not isinstance(status, bool)) or isinstance(
        obj.get("detail"), str
    )
    return identified and explained


def _problem_members(obj: Mapping[str, object]) -> Mapping[str, object]:
    """The members of a problem object, standard ones of the wrong type dropped (RFC 9457 §3.1).

    The standard string members are cleaned like every other string; extension members are
    kept as parsed.
    """
    members: dict[str, object] = {}
    for key, value in obj.items():
        if key in _PROBLEM_STRING_MEMBERS:
            text = _text(value)
            if text is not None:
                members[key] = text
        elif key == "status":
            if isinstance(value, int) and not isinstance(value, bool):
                members[key] = value
        else:
            members[key] = value
    return MappingProxyType(members)


def _json_delay(obj: Mapping[str, object]) -> float | None:
    """A delay in seconds from the retry members of a JSON object, validated like Retry-After."""
    for key in _BODY_DELAY_KEYS:
        value = obj.get(key)
        seconds: float | None
        if isinstance(value, str):
            seconds = _parse_number(value.strip())
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            seconds = value
        else:
            continue
        delay = None if seconds is None else _valid_delay(seconds)
        if delay is not None:
            return delay
    return None


def _looks_like_form(text: str) -> bool:
    """Whether a body without a form content type is still ``error=...&...`` form-encoded."""
    if _WHITESPACE_RE.search(text) is not None:
        return False
    return any(field.startswith("error=") for field in text.split("&"))


def _from_form(text: str) -> BodyDetails | None:
    """Details from a form-encoded body, or ``None`` when none of its fields is usable."""
    fields: dict[str, str] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        fields.setdefault(key, value)
    raw_error = fields.get("error")
    details = _details(
        error=_code(raw_error),
        error_description=_text(fields.get("error_description")),
        error_uri=_uri(fields.get("error_uri")),
        scope=_text(fields.get("scope")),
        message=_prose(raw_error),
    )
    return None if details is EMPTY_BODY else details


# An element's tag is searched for with a bounded attribute run and its end tag separately, so
# neither search can backtrack over the whole body.
_ELEMENT_TAGS: Final = ("title", "h1", "code", "message")
_START_TAG_RE: Final = {
    tag: re.compile(rf"<{tag}(?:\s[^<>]{{0,1000}})?>", re.IGNORECASE) for tag in _ELEMENT_TAGS
}
_END_TAG_RE: Final = {tag: re.compile(rf"</{tag}\s*>", re.IGNORECASE) for tag in _ELEMENT_TAGS}
_TAG_RE: Final = re.compile(r"<[^<>]*>")
_TAG_NAME_RE: Final = re.compile(r"</?\s*([A-Za-z][A-Za-z0-9]*)")
_LONG_CHARREF_RE: Final = re.compile(r"&#([0-9]{8,})(;?)")
_HR_RE: Final = re.compile(r"<hr\b[^<>]{0,1000}>", re.IGNORECASE)
_MAX_SIGNATURE: Final = 120
_HIDDEN_START_RE: Final = re.compile(r"<(?:script|style)\b[^<>]*>", re.IGNORECASE)
_HIDDEN_END_RE: Final = re.compile(r"</(?:script|style)\s*>", re.IGNORECASE)
# Tags after which text starts on a new line, so the first line is a heading or a paragraph.
_BLOCK_TAGS: Final = frozenset(
    {"address", "article", "aside", "blockquote", "body", "br", "dd", "div", "dl", "dt"}
    | {"footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "head", "header", "hr", "html"}
    | {"li", "main", "nav", "ol", "p", "pre", "section", "table", "td", "th", "title", "tr"}
    | {"ul"}
)


def _element_text(text: str, tag: str) -> str | None:
    """The text inside the first ``<tag>`` element, tags stripped, entities unescaped."""
    start = _START_TAG_RE[tag].search(text)
    if start is None:
        return None
    end = _END_TAG_RE[tag].search(text, start.end())
    inner = text[start.end() : len(text) if end is None else end.start()]
    return _unescape(_TAG_RE.sub(_tag_break, inner))


def _unescape(text: str) -> str:
    """``html.unescape`` made safe: it calls ``int()`` on a reference's digits, which raises for
    thousands of them on Python 3.11+ (and is slow on earlier versions)."""
    return html.unescape(_LONG_CHARREF_RE.sub(_shorten_charref, text))


def _shorten_charref(reference: re.Match[str]) -> str:
    """A decimal character reference without its leading zeros, or U+FFFD if still too long."""
    digits = reference.group(1).lstrip("0")
    if len(digits) > 7:  # beyond 0x10FFFF: html.unescape would give U+FFFD too
        return "\ufffd"
    return f"&#{digits or '0'}{reference.group(2)}"


def _tag_break(tag: re.Match[str]) -> str:
    """What a tag becomes in text: a line break for block elements, else a space."""
    name = _TAG_NAME_RE.match(tag.group())
    return "\n" if name is not None and name.group(1).lower() in _BLOCK_TAGS else " "


def _from_xml(text: str) -> BodyDetails | None:
    """Details from an XML error document with ``<Code>`` / ``<Message>``, or ``None``."""
    raw_code = _element_text(text, "code")
    message = _text(_element_text(text, "message"))
    details = _details(error=_code(raw_code), message=message or _prose(raw_code))
    return None if details is EMPTY_BODY else details


def _from_html(text: str) -> str | None:
    """The message of an HTML page: its title (else its first heading) when that says more
    than the status; else the most specific line of the page (a ``<p>``, a bare line), as
    :func:`most_specific` picks it, a server's signature after the last ``<hr>`` left out;
    else its first line."""
    heading = None
    for tag in ("title", "h1"):
        heading = _text(_element_text(text, tag))
        if heading is not None:
            break
    if heading is not None and not is_generic(heading):
        return heading
    visible = _unescape(_TAG_RE.sub(_tag_break, _drop_signature(_drop_hidden(text))))
    lines = (cleaned for line in visible.splitlines() if (cleaned := _clean(line)) is not None)
    found = most_specific(itertools.chain([heading] if heading else [], lines))
    return _clean(found) if found is not None else _first_line(visible)


def _drop_signature(text: str) -> str:
    """``text`` without what follows its last ``<hr>`` when that is short: a server's name and
    version (``nginx/1.22.1``, Apache's ``<address>``), not what went wrong."""
    last = None
    for match in _HR_RE.finditer(text):
        last = match
    if last is None or len(_TAG_RE.sub("", text[last.end() :]).strip()) > _MAX_SIGNATURE:
        return text
    return text[: last.start()]


def _drop_hidden(text: str) -> str:
    """``text`` without ``<script>`` and ``<style>`` elements, whose content is not prose."""
    kept: list[str] = []
    pos = 0
    while (start := _HIDDEN_START_RE.search(text, pos)) is not None:
        kept.append(text[pos : start.start()])
        end = _HIDDEN_END_RE.search(text, start.end())
        if end is None:
            return "".join(kept)
        pos = end.end()
    kept.append(text[pos:])
    return "".join(kept)


def _first_line(text: str) -> str | None:
    """The first line of ``text`` with something visible on it, cleaned."""
    for line in text.splitlines():
        if line and not line.isspace():
            cleaned = _clean(line)
            if cleaned is not None:
                return cleaned
    return None
