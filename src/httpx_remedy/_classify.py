"""From an error response to a typed exception: what the server said, and which class.

Pure functions over status, headers and the bytes read from the body: no I/O, no clock (the
caller passes ``now``). The transports and :func:`raise_for_status` share them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import TYPE_CHECKING

from ._catalog import catalog
from ._challenges import Challenge, find_challenge, parse_www_authenticate
from ._delays import ratelimit_reset, server_delay
from ._entry import Entry
from ._exceptions import HTTPError, combine
from ._header_syntax import HeaderLookup
from ._http import Request, Response
from ._policy import Attempt
from ._redact import Scrubber, cut, fold, redact_url, request_secrets

if TYPE_CHECKING:
    from ._error_body import BodyDetails

# The body parser (``_error_body``, with ``_words``) is imported by the first error body
# described, not by ``import httpx_remedy``: its regular expressions and its dataclass cost
# import time that a process whose requests succeed never needs.

#: Default bound on the bytes read from an error body.
MAX_ERROR_BODY = 64 * 1024


@dataclass(frozen=True)
class Details:
    """Everything a response said about its error, read from its headers and body."""

    status: int
    entry: Entry
    error: str | None = None
    error_description: str | None = None
    error_uri: str | None = None
    server_message: str | None = None
    retry_after: float | None = None
    retry_after_source: str | None = None
    problem: Mapping[str, object] | None = None
    challenges: tuple[Challenge, ...] = ()
    scope_hint: str | None = None

    @property
    def delay(self) -> tuple[float, str] | None:
        """The delay the server asked for and where it came from, or None."""
        if self.retry_after is None or self.retry_after_source is None:
            return None
        return self.retry_after, self.retry_after_source

    @property
    def exception_class(self) -> type[HTTPError]:
        """The class to raise: the code's class combined with the status's class."""
        status_class = catalog.for_status(self.status).exception
        if self.entry.is_oauth:
            return combine(self.entry.exception, status_class)
        return status_class


def delay_requested(
    status: int, headers: HeaderLookup, now: float, body: BodyDetails | None = None
) -> tuple[float, str] | None:
    """The delay the server asked for, and where it came from.

    ``Retry-After`` and its millisecond variants come first; a 429 without them falls back to
    the RateLimit reset (draft RateLimit headers, ``X-RateLimit-Reset``), then to a delay in
    the JSON body.
    """
    found = server_delay(headers, now)
    if found is None and status == 429:
        found = ratelimit_reset(headers, now)
    if found is None and body is not None and body.retry_after is not None:
        found = (body.retry_after, "body")
    return found


def describe(
    status: int,
    headers: HeaderLookup,
    body: bytes | None,
    now: float,
    scrubber: Scrubber | None = None,
) -> Details:
    """What the server said: the OAuth members, its message, its delay, the catalog entry.

    A ``WWW-Authenticate`` challenge that carries an ``error`` is the resource server speaking
    (RFC 6750 §3) and wins over the body; the body fills in what the challenge left out.
    With a ``scrubber``, secrets are taken out of the challenges and the body before they are
    parsed (so that no cut keeps part of one) and out of every text found after.
    """
    from ._error_body import EMPTY_BODY, parse_error_body

    values = headers.get_list("www-authenticate")
    if scrubber:
        values = [scrubber.cut_text(value) for value in values]
    challenges = parse_www_authenticate(values)
    challenge = find_challenge(challenges, "Bearer", "DPoP")
    clean = scrubber.cut_text if scrubber else None
    parsed = parse_error_body(body, _content_type(headers), clean) if body else EMPTY_BODY
    error = parsed.error
    description = parsed.error_description
    uri = parsed.error_uri
    if challenge is not None and challenge.param("error"):
        error = challenge.param("error")
        description = challenge.param("error_description") or (
            description if parsed.error == error else None
        )
        uri = challenge.param("error_uri") or (uri if parsed.error == error else None)
    own_code = parsed.own_code and error == parsed.error  # Slack's codes are not OAuth's
    entry = (None if own_code else catalog.oauth(error)) or catalog.for_status(status)
    delay = delay_requested(status, headers, now, parsed)
    details = Details(
        status=status,
        entry=entry,
        error=error,
        error_description=description,
        error_uri=uri,
        server_message=parsed.message,
        retry_after=delay[0] if delay else None,
        retry_after_source=delay[1] if delay else None,
        problem=parsed.problem,
        challenges=challenges,
        scope_hint=parsed.scope,
    )
    return scrub_details(details, scrubber) if scrubber else details


def scrub_details(details: Details, scrubber: Scrubber) -> Details:
    """``details`` with every text a server wrote scrubbed (escapes the parsers decoded,
    ``\\u0074oken`` in JSON or ``\\t\\o\\k`` in a quoted-string, may have rebuilt one)."""

    if not scrubber:
        return details

    def text(value: str | None) -> str | None:
        return None if value is None else scrubber.text(value)

    problem = details.problem
    if problem is not None:
        problem = MappingProxyType(
            {scrubber.text(key): scrubber.value(value) for key, value in problem.items()}
        )
    return replace(
        details,
        error=text(details.error),
        error_description=text(details.error_description),
        error_uri=text(details.error_uri),
        server_message=text(details.server_message),
        problem=problem,
        challenges=tuple(
            Challenge(
                scrubber.text(c.scheme),
                {name: scrubber.text(value) for name, value in c.params.items()},
                text(c.token68),
            )
            for c in details.challenges
        ),
        scope_hint=text(details.scope_hint),
    )


def error_scrubber(request: Request, secrets: tuple[str, ...] = ()) -> Scrubber:
    """The scrubber for an error on ``request``: the known ``secrets`` (tokens, client secret)
    and whatever secret the request itself carries (see :func:`request_secrets`)."""
    return Scrubber((*secrets, *request_secrets(request)))


def scrub_attempt(attempt: Attempt, scrubber: Scrubber) -> Attempt:
    """An attempt record whose texts (the error code may come from a challenge) are scrubbed."""
    error = None if attempt.error is None else scrubber.text(attempt.error)
    note = None if attempt.note is None else scrubber.text(attempt.note)
    url = scrubber.text(attempt.url)
    if (error, note, url) == (attempt.error, attempt.note, attempt.url):
        return attempt
    return replace(attempt, error=error, note=note, url=url)


def _content_type(headers: HeaderLookup) -> str | None:
    values = headers.get_list("content-type")
    return values[0] if values else None


def format_message(
    request: Request,
    response: Response,
    details: Details,
    stopped: str | None = None,
    secrets: tuple[str, ...] = (),
    scrubber: Scrubber | None = None,
    body_cut: str | None = None,
) -> str:
    """One readable line: status, method and redacted URL, the server's words, the fix.

    The server's words are the OAuth ``error_description`` and its own ``server_message``,
    both when they differ. ``stopped`` says why retrying stopped, ``body_cut`` which cap cut
    the body short. Secrets are scrubbed before the line is cut to 1000 characters, so that no
    cut keeps part of one.
    """
    reason = response.reason_phrase or details.entry.title
    parts = [f"{details.status} {reason} for {request.method} {redact_url(request.url)}"]
    said = []
    if details.error:
        said.append(details.error)
    for words in dict.fromkeys((details.error_description, details.server_message)):
        if words:
            said.append(f'"{words}"')
    if said:
        parts.append(": " + " ".join(said))
    if details.retry_after is not None:
        parts.append(f" (retry after {details.retry_after:g}s)")
    if stopped:
        parts.append(f" [{stopped}]")
    if body_cut:
        parts.append(f" [{body_cut}]")
    parts.append(f". Fix: {details.entry.fix}")
    if scrubber is None:
        scrubber = error_scrubber(request, secrets)
    return cut(scrubber.text(fold("".join(parts))), 1000)


def build_error(
    request: Request,
    response: Response,
    details: Details,
    *,
    attempts: tuple[Attempt, ...] = (),
    stopped: str | None = None,
    secrets: tuple[str, ...] = (),
    body_cut: str | None = None,
) -> HTTPError:
    """The typed exception for ``response``, with ``secrets`` and the request's own secrets
    scrubbed from its message, every text attribute and the attempt records."""
    scrubber = error_scrubber(request, secrets)
    details = scrub_details(details, scrubber)
    return details.exception_class(
        format_message(request, response, details, stopped, scrubber=scrubber, body_cut=body_cut),
        request=request,
        response=response,
        entry=details.entry,
        error=details.error,
        error_description=details.error_description,
        error_uri=details.error_uri,
        server_message=details.server_message,
        retry_after=details.retry_after,
        problem=details.problem,
        challenges=details.challenges,
        attempts=tuple(scrub_attempt(attempt, scrubber) for attempt in attempts),
        scope_hint=details.scope_hint,
    )
