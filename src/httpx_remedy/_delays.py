"""How long a server asks the client to wait: HTTP-dates, ``Retry-After``, its millisecond
variants and the rate-limit headers.

Pure and bounded, like every parser here (see ``_header_syntax``).
"""

from __future__ import annotations

import calendar
import re
import time
from typing import Final

from ._header_syntax import (
    MAX_FIELDS,
    MAX_HEADER_CHARS,
    HeaderLookup,
    parse_number,
    split_outside_quotes,
)

#: The longest delay, in seconds, a server may ask for; anything larger is treated as garbage.
MAX_SERVER_DELAY: Final[float] = 365 * 24 * 3600.0
_MAX_DATE_CHARS: Final = 64  # no HTTP-date is longer once whitespace is collapsed


def valid_delay(seconds: float) -> float | None:
    """``seconds`` as a float if it is a usable delay (0 to MAX_SERVER_DELAY), else ``None``.

    The chained comparison is false for NaN, infinities and out-of-range ints, so no conversion
    can overflow before the check.
    """
    if 0.0 <= seconds <= MAX_SERVER_DELAY:
        return float(seconds) + 0.0  # + 0.0 turns -0.0 into 0.0
    return None


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
    text = " ".join(value[:MAX_HEADER_CHARS].split()).lower()
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
    text = value[:MAX_HEADER_CHARS].strip()
    seconds = parse_number(text)
    if seconds is None:
        date = parse_http_date(text, now=now)
        if date is None:
            return None
        seconds = max(date - now, 0.0)  # a NaN difference stays NaN and is rejected below
    return valid_delay(seconds)


_MS_DELAY_HEADERS: Final = ("retry-after-ms", "x-ms-retry-after-ms")


def server_delay(headers: HeaderLookup, now: float) -> tuple[float, str] | None:
    """The delay the server asked for, with the (lower-case) header it came from, or ``None``.

    Looks at ``retry-after-ms`` and ``x-ms-retry-after-ms`` (milliseconds, decimals allowed;
    more precise, so they win) and then ``Retry-After`` (see :func:`parse_retry_after`). When a
    header is repeated, or its value is a comma-separated list, the first valid value counts.
    The result is in seconds, finite and between 0 and ``MAX_SERVER_DELAY``.
    """
    for name in _MS_DELAY_HEADERS:
        for value in headers.get_list(name, split_commas=True)[:MAX_FIELDS]:
            milliseconds = parse_number(value[:MAX_HEADER_CHARS].strip())
            seconds = None if milliseconds is None else valid_delay(milliseconds / 1000)
            if seconds is not None:
                return seconds, name
    for value in headers.get_list("retry-after")[:MAX_FIELDS]:
        seconds = parse_retry_after(value, now)
        if seconds is not None:
            return seconds, "retry-after"
    return None


# Rate limits

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
    members = ratelimit_members(headers)
    if members:
        seconds = _ratelimit_structured(members)
        if seconds is None:
            seconds = _ratelimit_dictionary(members)
        if seconds is not None:
            return seconds, "ratelimit"
    for name in _RESET_HEADERS:
        for value in headers.get_list(name)[:MAX_FIELDS]:
            seconds = _parse_reset(value, now)
            if seconds is not None:
                return seconds, name
    return None


def ratelimit_members(headers: HeaderLookup) -> list[str]:
    """The members of every ``RateLimit`` field, in order, at most ``MAX_FIELDS`` of them."""
    return [
        member
        for value in headers.get_list("ratelimit")[:MAX_FIELDS]
        for member in _list_members(value)
    ][:MAX_FIELDS]


def _list_members(value: str) -> list[str]:
    """The comma-separated members of a list-valued field value, bounded in size.

    A value too long is cut at its last comma before the limit: a cut member could turn
    ``t=300`` into a plausible but wrong ``t=3``.
    """
    if len(value) > MAX_HEADER_CHARS:
        value = value[:MAX_HEADER_CHARS]
        value = value[: max(value.rfind(","), 0)]
    return split_outside_quotes(value, ",")


def _ratelimit_structured(members: list[str]) -> float | None:
    """The reset delay from draft-10 ``RateLimit`` items, or ``None``."""
    exhausted: list[float] = []
    others: list[float] = []
    for member in members:
        params = _sf_item_params(member)
        if params is None:
            continue
        reset = parse_number(params.get("t", ""))
        seconds = None if reset is None else valid_delay(reset)
        if seconds is None:
            continue
        remaining = parse_number(params.get("r", ""))
        (exhausted if remaining == 0 else others).append(seconds)
    candidates = exhausted or others
    return max(candidates) if candidates else None


def _sf_item_params(member: str) -> dict[str, str] | None:
    """The parameters of a Structured Fields item ``"name";key=value;...`` (raw values).

    ``None`` when the bare item is not an sf-string or a token, e.g. a dictionary member
    ``reset=5``. Keys are lower-cased and, as RFC 8941 says, a repeated key's last value wins.
    """
    bare, *parts = split_outside_quotes(member, ";")
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
            value = split_outside_quotes(rest, ";")[0].strip(" \t")
            seconds = parse_number(value)
            delay = None if seconds is None else valid_delay(seconds)
            if delay is not None:
                return delay
    return None


def _parse_reset(value: str, now: float) -> float | None:
    """A ``*-Reset`` header value as a delay, by the heuristic of :func:`ratelimit_reset`."""
    text = value[:MAX_HEADER_CHARS].strip()
    number = parse_number(text)
    if number is None:  # an HTTP-date, read as Retry-After reads one
        return parse_retry_after(text, now)
    if number >= _UNIX_MILLISECONDS:
        delay = number / 1000 - now
    elif number >= _UNIX_SECONDS:
        delay = number - now
    else:
        delay = number
    return valid_delay(max(delay, 0.0))
