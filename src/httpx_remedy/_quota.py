"""What a server says about the caller's rate-limit quota, on any response: how many requests
are left, when the quota returns, and (when it says) the limit and the window.

Pure and bounded, like every parser here (see ``_header_syntax``); the reset heuristic and the
Structured Fields pieces are ``_delays``'s, shared with ``ratelimit_reset``. The pacer
(``_pacing``) acts on the result.

:func:`mentions_quota` is the gate the success path pays: one set operation in C over the
header names, so that a 2xx without such headers costs next to nothing.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from ._delays import _list_members, _parse_reset, _sf_item_params, ratelimit_members
from ._header_syntax import MAX_FIELDS, MAX_HEADER_CHARS, HeaderLookup, parse_number


class Quota(NamedTuple):
    """The quota a response announced."""

    #: Requests left in the current window (0: spent).
    remaining: float
    #: Seconds until the quota returns (the window resets).
    reset: float
    #: The requests a window allows, when the server says.
    limit: float | None
    #: The window's length in seconds, when the server says.
    window: float | None
    #: The (lower-case) header it was read from, for messages.
    source: str


#: The lower-case names of which a response must carry one to announce a usable quota: the
#: ``RateLimit`` field, or one of the ``*-Remaining`` counts.
QUOTA_NAMES: Final = frozenset(
    {b"ratelimit", b"ratelimit-remaining", b"x-ratelimit-remaining", b"x-rate-limit-remaining"}
)


def mentions_quota(headers: object) -> bool:
    """Whether ``headers`` may announce a quota: one of :data:`QUOTA_NAMES` is among its
    names. The success path's whole cost when there is none: a plain loop over the names
    httpx keeps already lower-cased (the drivers inline it; for the 2 to 10 headers of a
    response it costs half of ``isdisjoint(map(...))``, whose objects cost more than the
    loop). Any other headers object is simply parsed."""
    entries = getattr(headers, "_list", None)
    if entries is None:
        return True
    for entry in entries:  # noqa: SIM110 - any() over a generator costs twice the loop
        if entry[1] in QUOTA_NAMES:
            return True
    return False


_PREFIXES: Final = ("ratelimit-", "x-ratelimit-", "x-rate-limit-")


def quota(headers: HeaderLookup, now: float) -> Quota | None:
    """The quota ``headers`` announce, or ``None`` when they announce none usable.

    Sources, first usable one wins:

    1. ``RateLimit`` as in draft-ietf-httpapi-ratelimit-headers-10: a list of items
       ``"name";r=<remaining>;t=<seconds>``, one per policy, with ``RateLimit-Policy``
       ``"name";q=<quota>;w=<window>`` giving each policy's limit and window. The most
       constraining item counts: the fewest requests left (then the longest reset).
    2. ``RateLimit`` in the draft-07 dictionary form ``limit=100, remaining=50, reset=5``.
    3. ``RateLimit-Remaining`` with ``RateLimit-Reset`` (and ``RateLimit-Limit``, which may
       carry a ``w=`` window), then the same with ``X-RateLimit-`` and ``X-Rate-Limit-``
       (GitHub, X, Discord, slowapi...). The reset is a delay, a Unix timestamp in seconds or
       milliseconds, or an HTTP-date, told apart as ``_delays.ratelimit_reset`` says: a number
       >= 1e9 is a timestamp (``now`` is the wall clock, Unix seconds), a smaller one a delay.

    A quota without both a remaining count and a reset is not usable: nothing can be paced
    on it.
    """
    members = ratelimit_members(headers)
    if members:
        found = _structured(members, headers) or _dictionary(members)
        if found is not None:
            return found
    for prefix in _PREFIXES:
        found = _separate(headers, prefix, now)
        if found is not None:
            return found
    return None


def _number(text: str) -> float | None:
    return parse_number(text[:MAX_HEADER_CHARS].strip(" \t"))


def _policies(headers: HeaderLookup) -> dict[str, tuple[float | None, float | None]]:
    """``RateLimit-Policy`` items: name -> (quota, window)."""
    policies: dict[str, tuple[float | None, float | None]] = {}
    for value in headers.get_list("ratelimit-policy")[:MAX_FIELDS]:
        for member in _list_members(value)[:MAX_FIELDS]:
            params = _sf_item_params(member)
            if params is not None:
                name = member.split(";", 1)[0].strip(" \t")
                policies[name] = (_number(params.get("q", "")), _number(params.get("w", "")))
    return policies


def _structured(members: list[str], headers: HeaderLookup) -> Quota | None:
    best: tuple[float, float, str] | None = None
    for member in members:
        params = _sf_item_params(member)
        if params is None:
            continue
        remaining = _number(params.get("r", ""))
        reset = _number(params.get("t", ""))
        if remaining is None or reset is None:
            continue
        name = member.split(";", 1)[0].strip(" \t")
        if best is None or (remaining, -reset) < (best[0], -best[1]):
            best = (remaining, reset, name)
    if best is None:
        return None
    limit, window = _policies(headers).get(best[2], (None, None))
    return Quota(best[0], best[1], limit, window, "ratelimit")


def _dictionary(members: list[str]) -> Quota | None:
    values: dict[str, float] = {}
    for member in members:
        key, separator, rest = member.partition("=")
        number = _number(rest.split(";", 1)[0]) if separator else None
        if number is not None:
            values.setdefault(key.strip(" \t").lower(), number)
    if "remaining" not in values or "reset" not in values:
        return None
    return Quota(values["remaining"], values["reset"], values.get("limit"), None, "ratelimit")


def _first(headers: HeaderLookup, name: str) -> str | None:
    values = headers.get_list(name)
    return values[0] if values else None


def _separate(headers: HeaderLookup, prefix: str, now: float) -> Quota | None:
    remaining_text = _first(headers, prefix + "remaining")
    reset_text = _first(headers, prefix + "reset")
    if remaining_text is None or reset_text is None:
        return None
    remaining = _number(remaining_text.split(",", 1)[0])
    reset = _parse_reset(reset_text, now)
    if remaining is None or reset is None:
        return None
    limit = window = None
    limit_text = _first(headers, prefix + "limit")
    if limit_text is not None:
        # "100" or draft-03's "100, 100;w=60": the first number, and a w= window if any.
        head = limit_text[:MAX_HEADER_CHARS].split(",", 1)
        limit = _number(head[0].split(";", 1)[0])
        for part in head[-1].split(";")[1:MAX_FIELDS]:
            key, _, value = part.partition("=")
            if key.strip(" \t").lower() == "w":
                window = _number(value)
    return Quota(remaining, reset, limit, window, prefix + "reset")
