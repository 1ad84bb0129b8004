"""Keeping secrets out of everything the library prints, logs or raises."""

from __future__ import annotations

from urllib.parse import urlsplit

REDACTED = "[redacted]"

#: Request headers whose values never leave the process through our output.
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "dpop", "x-api-key"}
)


def redact_url(url: object) -> str:
    """The URL with credentials dropped and every query value replaced.

    ``https://u:p@api.example.com/items?token=abc&page=2`` becomes
    ``https://api.example.com/items?token=[redacted]&page=[redacted]``: query values carry API
    keys and signatures often enough that none of them is worth the risk.
    """
    text = str(url)
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return REDACTED
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    out = f"{parts.scheme}://{netloc}{parts.path}" if parts.scheme else f"{netloc}{parts.path}"
    if parts.query:
        names = (pair.split("=", 1)[0] for pair in parts.query.split("&") if pair)
        out += "?" + "&".join(f"{name}={REDACTED}" for name in names)
    return out


def one_line(text: str, limit: int = 300) -> str:
    """Control characters folded to spaces, whitespace collapsed, cut at ``limit``."""
    cleaned = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every known secret value replaced (a server may echo a token back)."""
    for secret in secrets:
        if len(secret) >= 4 and secret in text:
            text = text.replace(secret, REDACTED)
    return text
