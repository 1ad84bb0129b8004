"""What a catalog row is (:class:`Entry`), what the library does about it (:class:`Remedy`),
and the read-only mapping of the rows (:class:`Catalog`). The rows are in ``_catalog``."""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._exceptions import HTTPError


class Remedy(str, enum.Enum):
    """What the transport does about an error by default."""

    FAIL_FAST = "fail fast"
    """Raise at once: only a change to the request or the configuration fixes it."""
    BACK_OFF = "back off and retry"
    """The request was refused, not processed: wait (the server's delay first) and retry, for
    every method."""
    RETRY_IF_SAFE = "retry if safe"
    """The request may have been processed: retry with backoff only when it is idempotent or
    carries an Idempotency-Key."""
    REFRESH = "refresh and replay"
    """Get a new access token and replay the request once."""
    REAUTHENTICATE = "re-authenticate"
    """The grant is dead: drop it and raise once; a person or a new grant must step in."""
    STEP_UP = "step up"
    """Ask for a token with the scope the server named, then replay once (opt-in)."""
    USE_NONCE = "replay with nonce"
    """DPoP (RFC 9449 §8, §9): remember the nonce the server sent in ``DPoP-Nonce`` and send
    the request again once, with a fresh proof that carries it."""
    KEEP_POLLING = "keep polling"
    """Device login (RFC 8628 §3.5): the user has not answered yet; ask again after the
    interval."""
    SLOW_DOWN = "poll slower"
    """Device login (RFC 8628 §3.5): add 5 seconds to the polling interval, for good."""

    @property
    def retries(self) -> bool:
        """True for the remedies the retry policy carries out."""
        return self in (Remedy.BACK_OFF, Remedy.RETRY_IF_SAFE)

    @property
    def passes(self) -> bool:
        """True when the same request may well succeed soon without anything changing (a
        retry, a new nonce, another poll): a token request that failed with it is not
        remembered as a rejection."""
        return self in (
            Remedy.BACK_OFF,
            Remedy.RETRY_IF_SAFE,
            Remedy.USE_NONCE,
            Remedy.KEEP_POLLING,
            Remedy.SLOW_DOWN,
        )

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Entry:
    """One row of the catalog.

    ``code`` is an HTTP status (``int``) or an OAuth / OIDC error code (``str``); ``status`` is
    the HTTP status the code usually arrives with (None when it travels in a redirect).
    ``source`` is where the text comes from: ``"user catalog; RFC 9110 §15.5.1"`` for a row
    taken word for word from the user's catalog (with the section of the standard that defines
    the code), else the standard's section (``"RFC 9449 §5, §7.1"``).
    """

    code: int | str
    title: str
    description: str
    causes: tuple[str, ...]
    fix: str
    exception: type[HTTPError]
    remedy: Remedy
    status: int | None
    source: str = "user catalog"

    @property
    def is_oauth(self) -> bool:
        """True for OAuth / OIDC error codes, False for HTTP statuses."""
        return isinstance(self.code, str)

    def explain(self) -> str:
        """A few lines for people: what the code means, why, and what to do."""
        head = f"{self.code} {self.title}" if not self.is_oauth else f"{self.code} ({self.title})"
        status = f"usually HTTP {self.status}" if self.status else "arrives in a redirect"
        lines = [
            head,
            "",
            f"  What it means:   {self.description}",
            "  Possible causes: " + "\n                   ".join(self.causes),
            f"  How to fix:      {self.fix}",
            "",
            f"  Raised as:       httpx_remedy.{self.exception.__name__}"
            + ("" if not self.is_oauth else f" ({status})"),
            f"  Default remedy:  {self.remedy}",
            f"  Source:          {self.source}",
        ]
        return "\n".join(lines)


class Catalog(Mapping["int | str", Entry]):
    """A read-only mapping from a status (``429``) or OAuth code (``"invalid_grant"``) to its
    :class:`Entry`. ``"429"`` finds the same entry as ``429``; codes are case-insensitive."""

    __slots__ = ("_by_code", "_client_fallback", "_server_fallback")

    def __init__(
        self, rows: tuple[Entry, ...], *, client_fallback: Entry, server_fallback: Entry
    ) -> None:
        """``rows``, and the entries for a 4xx / 5xx status none of them lists."""
        by_code: dict[int | str, Entry] = {}
        for row in rows:
            if row.code in by_code:
                raise ValueError(f"duplicate catalog code {row.code!r}")
            by_code[row.code] = row
        self._by_code = by_code
        self._client_fallback = client_fallback
        self._server_fallback = server_fallback

    @staticmethod
    def _key(code: object) -> object:
        if isinstance(code, str):
            text = code.strip()
            return int(text) if text.isdigit() and len(text) == 3 else text.lower()
        return code

    def __getitem__(self, code: int | str) -> Entry:
        return self._by_code[self._key(code)]  # type: ignore[index]

    def __contains__(self, code: object) -> bool:
        return self._key(code) in self._by_code

    def __iter__(self) -> Iterator[int | str]:
        return iter(self._by_code)

    def __len__(self) -> int:
        return len(self._by_code)

    def __repr__(self) -> str:
        return f"<Catalog of {len(self)} codes>"

    def statuses(self) -> tuple[Entry, ...]:
        """The HTTP status entries, by status."""
        return tuple(
            sorted((e for e in self._by_code.values() if not e.is_oauth), key=lambda e: int(e.code))
        )

    def oauth_codes(self) -> tuple[Entry, ...]:
        """The OAuth / OIDC code entries, in table order."""
        return tuple(e for e in self._by_code.values() if e.is_oauth)

    def for_status(self, status: int) -> Entry:
        """The entry for ``status``, or the 4xx / 5xx fallback."""
        entry = self._by_code.get(status)
        if entry is not None:
            return entry
        return self._server_fallback if status >= 500 else self._client_fallback

    def oauth(self, code: str | None) -> Entry | None:
        """The entry for an OAuth / OIDC error code, or None (a status number never matches:
        a body's ``"code": "503"`` must not pass for a 503)."""
        if code is None:
            return None
        entry = self._by_code.get(code.strip().lower())
        return entry if entry is not None and entry.is_oauth else None

    def suggest(self, code: str, n: int = 3) -> list[str]:
        """Codes close to ``code``, for "did you mean" messages."""
        names = [str(c) for c in self._by_code]
        import difflib  # only for a code nobody knows: kept out of the import

        return difflib.get_close_matches(str(code).strip().lower(), names, n=n, cutoff=0.5)
