"""The pieces of HTTP field syntax every header parser here shares (RFC 9110 §5.6).

The parsers (``_challenges``, ``_delays``, ``_error_body``) are sans-I/O and pure: they turn what
a server sent into plain data, do no I/O, never sleep or read the clock (callers pass ``now``,
Unix epoch seconds), and never raise on server input: every parser returns a best-effort
result, or ``None``, however malformed the value. Inputs are cut to bounded sizes and every
regular expression runs in linear time, so hostile input stays cheap.
"""

from __future__ import annotations

import re
from typing import Final, Protocol

#: The most characters of one header value looked at.
MAX_HEADER_CHARS: Final = 8 * 1024
#: The most field lines (or list members) of one header looked at.
MAX_FIELDS: Final = 64


class HeaderLookup(Protocol):
    """What the parsers need from a headers object; ``httpx.Headers`` satisfies it."""

    def get_list(self, key: str, split_commas: bool = False) -> list[str]:
        """All values of header ``key`` (case-insensitive), optionally split on commas."""
        ...


# RFC 9110 §5.6.2 token and §11.2 token68; both are plain character classes, so linear.
TOKEN_RE: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
TOKEN68_RE: Final = re.compile(r"[A-Za-z0-9._~+/-]+=*")
# A quoted-string (RFC 9110 §5.6.4). The two alternatives cannot start with the same character,
# so a failed match backtracks at most once per character.
QUOTED_RE: Final = re.compile(r'"((?:[^"\\]|\\.)*)"', re.DOTALL)
QUOTED_PAIR_RE: Final = re.compile(r"\\(.)", re.DOTALL)
NUMBER_RE: Final = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")


def skip_ows(text: str, pos: int) -> int:
    """Index of the first character at or after ``pos`` that is not SP or HTAB."""
    end = len(text)
    while pos < end and text[pos] in " \t":
        pos += 1
    return pos


def skip_to_comma(text: str, pos: int) -> int:
    """Index of the next list separator at or after ``pos``, stepping over quoted strings."""
    end = len(text)
    while pos < end:
        char = text[pos]
        if char == ",":
            return pos
        if char == '"':
            quoted = QUOTED_RE.match(text, pos)
            if quoted is None:  # an unterminated quote swallows the rest of the field
                return end
            pos = quoted.end()
        else:
            pos += 1
    return end


def split_outside_quotes(text: str, separator: str) -> list[str]:
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
            quoted = QUOTED_RE.match(text, pos)
            pos = end if quoted is None else quoted.end()
        else:
            pos += 1
    parts.append(text[start:])
    return parts


def parse_number(text: str) -> float | None:
    """A non-negative decimal number in plain ASCII digits (``120``, ``1.5``), else ``None``.

    ``float()`` alone would also accept ``nan``, ``1e3``, ``1_000``, signs and non-ASCII digits,
    none of which a server means as a delay.
    """
    if NUMBER_RE.fullmatch(text) is None:
        return None
    return float(text)
