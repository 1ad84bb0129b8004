"""Keeping secrets out of everything the library prints, logs or raises.

Two tools. :func:`redact_url` hides what a URL may carry (userinfo, query values).
:class:`Scrubber` replaces known secret values in text, in every form a server may echo them
back in: as sent, percent-encoded (``quote``, ``quote_plus``, either hex case, and twice),
JSON-escaped
(``\\uXXXX``, ``\\/``), HTML-escaped, and for HTTP Basic credentials the base64 value of the
pair, RFC 6749 §2.3.1 form-encoded or not. It runs only when an error is built, never on a 2xx.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import re
from collections.abc import Iterable
from typing import Final, TypeVar
from urllib.parse import (
    parse_qsl,
    quote,
    quote_plus,
    unquote,
    unquote_plus,
    urlencode,
    urlsplit,
)

REDACTED: Final = "[redacted]"
_REDACTED_BYTES: Final = REDACTED.encode()

#: Request headers whose values never leave the process through our output.
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "dpop", "x-api-key"}
)

#: Shorter values are not scrubbed: replacing every ``abc`` in a text would hide the text and
#: protect nothing.
MIN_SECRET: Final = 4
_MAX_SCANNED_BODY: Final = 64 * 1024  # of a request body searched for secret fields
_MAX_MEMBER_BODY: Final = 256 * 1024  # response bodies searched for credential members
_MAX_JSON_DEPTH: Final = 32
_ELLIPSIS: Final = "\u2026"

# Names of form fields, JSON members and query parameters that hold credentials: tokens,
# client secrets, passwords, assertions, API keys, signatures.
_SECRET_NAME_RE: Final = re.compile(
    r"token|secret|passw|assertion|api[-_]?key|credential|signature|session|cookie|authorization",
    re.IGNORECASE,
)
# In a request, ``code`` is an OAuth authorization code; in an error body it is the error's.
_REQUEST_SECRET_NAME_RE: Final = re.compile(r"^sig$|^code$|code_?verifier", re.IGNORECASE)
_SCHEMES: Final = frozenset({"basic", "bearer", "dpop", "digest", "token", "negotiate"})
_NOT_SECRET_SUFFIXES: Final = ("_type", "_hint")
_HEX_ESCAPE_RE: Final = re.compile(r"%[0-9A-F]{2}")

T = TypeVar("T", str, bytes)


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


def fold(text: str) -> str:
    """Control characters folded to spaces, whitespace collapsed: one line."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def cut(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending in "…" when cut."""
    return text if len(text) <= limit else text[: limit - 1] + _ELLIPSIS


def is_secret_name(name: str, *, in_request: bool = True) -> bool:
    """Whether a field, member, header or parameter of that name holds a credential
    (``in_request=False``: of a response, where ``code`` is an error code)."""
    if name.lower().endswith(_NOT_SECRET_SUFFIXES):  # token_type, token_type_hint
        return False
    if _SECRET_NAME_RE.search(name) is not None:
        return True
    return in_request and _REQUEST_SECRET_NAME_RE.search(name) is not None


def is_secret_header(name: str) -> bool:
    """Whether a header of that name carries a credential (``Authorization``, ``Cookie``,
    ``DPoP``, ``X-API-Key``, ``X-Auth-Token``, ...)."""
    return name.lower() in SECRET_HEADERS or is_secret_name(name, in_request=False)


def secret_forms(secret: str) -> set[str]:
    """The ways ``secret`` may come back in a server's error: see the module docstring."""
    forms = {secret, html.escape(secret), html.escape(secret, quote=False)}
    for escaped in (json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]):
        forms.update((escaped, escaped.replace("/", "\\/")))
    for encoded in (quote(secret, safe=""), quote(secret), quote_plus(secret)):
        # Lower-case hex too, and encoded twice (a URL that carried it, echoed in a link).
        lower = _HEX_ESCAPE_RE.sub(lambda m: m.group().lower(), encoded)
        forms.update((encoded, lower, quote(encoded, safe="")))
    return {form for form in forms if len(form) >= MIN_SECRET}


def basic_credentials(user: str, password: str) -> tuple[str, ...]:
    """The base64 values of ``Authorization: Basic`` for this pair, as RFC 6749 §2.3.1 sends
    them (each part form-encoded first) and as RFC 7617 does (raw), padded and unpadded."""
    pairs = {
        f"{quote(user, safe='')}:{quote(password, safe='')}",
        f"{quote_plus(user, safe='')}:{quote_plus(password, safe='')}",
        f"{user}:{password}",
    }
    values: list[str] = []
    for pair in pairs:
        value = base64.b64encode(pair.encode("utf-8")).decode("ascii")
        values += (value, value.rstrip("="))
    return tuple(values)


def request_secrets(request: object) -> tuple[str, ...]:
    """The secret values a request carries, which a server may echo back.

    The credentials of ``Authorization`` and ``Proxy-Authorization`` (for Basic, the base64
    value, the password and its decoded forms), every ``Cookie`` value, the value of every
    other header :func:`is_secret_header` names (``DPoP``, ``X-API-Key``...), the URL's
    password, the values of credential-named query parameters, and of credential-named fields
    of a form or JSON body already in memory. Never raises.
    """
    found: list[str] = []
    headers = getattr(request, "headers", None)
    if headers is not None:
        for name, value in headers.multi_items():
            name = name.lower()
            if name in ("authorization", "proxy-authorization"):
                found += _authorization_secrets(value)
            elif name == "cookie":
                found.append(value)
                found += (part.partition("=")[2].strip() for part in value.split(";"))
            elif is_secret_header(name):
                found.append(value)
    url = getattr(request, "url", None)
    if url is not None:
        found += _url_secrets(str(url))
    found += _body_secrets(request, headers)
    return tuple(dict.fromkeys(s for s in found if len(s) >= MIN_SECRET))


def _authorization_secrets(value: str) -> list[str]:
    scheme, _, credentials = value.strip().partition(" ")
    credentials = credentials.strip()
    if not credentials:  # a bare key (``Authorization: sk-...``), or a scheme alone
        return [] if scheme.lower() in _SCHEMES else [value.strip()]
    found = [credentials]
    if scheme.lower() == "basic":
        try:
            pair = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return found
        user, _, password = pair.partition(":")
        found += (password, unquote(password), unquote_plus(password))
        found += basic_credentials(unquote(user), unquote(password))
    return found


def _url_secrets(url: str) -> list[str]:
    try:
        parts = urlsplit(url)
        found = [unquote(parts.password)] if parts.password else []
    except ValueError:
        return []
    found += (value for name, value in parse_qsl(parts.query) if is_secret_name(name))
    return found


def _body_secrets(request: object, headers: object) -> list[str]:
    """Credential-named fields of a form or JSON request body that is already in memory."""
    try:
        content = request.content  # type: ignore[attr-defined]
        kind = headers.get("content-type", "") if headers is not None else ""  # type: ignore[attr-defined]
    except Exception:  # not read yet (a stream), or no such attributes: nothing to scan
        return []
    if not isinstance(content, bytes) or not content or len(content) > _MAX_SCANNED_BODY:
        return []
    text = content.decode("utf-8", "replace")
    if "json" in kind:
        try:
            return list(_json_secrets(json.loads(text), 0))
        except (ValueError, RecursionError):
            return []
    if "x-www-form-urlencoded" in kind:
        return [value for name, value in parse_qsl(text) if is_secret_name(name)]
    return []


def _json_secrets(value: object, depth: int) -> Iterable[str]:
    if depth > _MAX_JSON_DEPTH:
        return
    if isinstance(value, dict):
        for name, member in value.items():
            if isinstance(member, str) and is_secret_name(str(name)):
                yield member
            else:
                yield from _json_secrets(member, depth + 1)
    elif isinstance(value, list):
        for member in value[:100]:
            yield from _json_secrets(member, depth + 1)


def without_credential_members(body: bytes) -> bytes:
    """A JSON object or form body with its credential-named members (``access_token``,
    ``refresh_token``, ``client_secret``...) redacted: a token endpoint's 2xx that was not a
    token (``TokenResponseError``) may still hold one."""
    if not body or len(body) > _MAX_MEMBER_BODY:
        return body
    text = body.decode("utf-8", "replace")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        text = text.strip()
        if "=" not in text or any(c.isspace() for c in text):  # not form-encoded
            return body
        pairs = parse_qsl(text, keep_blank_values=True)
        if not any(is_secret_name(k, in_request=False) for k, _ in pairs):
            return body
        return urlencode(
            [(k, REDACTED if is_secret_name(k, in_request=False) else v) for k, v in pairs],
            safe="[]",
        ).encode()
    if not isinstance(data, dict) or not any(
        is_secret_name(str(k), in_request=False) and isinstance(v, str) for k, v in data.items()
    ):
        return body
    return json.dumps(
        {
            k: REDACTED if is_secret_name(str(k), in_request=False) and isinstance(v, str) else v
            for k, v in data.items()
        }
    ).encode()


class Scrubber:
    """Replaces known secrets, in every form of :func:`secret_forms`, by ``[redacted]``.

    Longer forms go first, so a shorter one never leaves part of a longer one behind. A text
    that was cut (a body read up to a limit, a message ending in "…") also loses a trailing
    piece that starts a secret, so that no cut leaves a secret's head behind.
    """

    __slots__ = ("_byte_forms", "_forms")

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if isinstance(secret, str) and len(secret) >= MIN_SECRET:
                forms |= secret_forms(secret)
        self._forms = tuple(sorted(forms, key=lambda form: (-len(form), form)))
        self._byte_forms = tuple(form.encode("utf-8") for form in self._forms)

    def __bool__(self) -> bool:
        return bool(self._forms)

    def text(self, text: str) -> str:
        """``text`` without any secret; a text ending in "…" without a secret's head either."""
        for form in self._forms:
            if form in text:
                text = text.replace(form, REDACTED)
        if text.endswith(_ELLIPSIS) and self._forms:
            text = self.tail(text[: -len(_ELLIPSIS)], self._forms) + _ELLIPSIS
        return text

    def cut_text(self, text: str) -> str:
        """``text`` (which may have been cut anywhere) without any secret or secret's head."""
        return self.tail(self.text(text), self._forms)

    def cut_bytes(self, data: bytes) -> bytes:
        """:meth:`cut_text` for bytes (secrets as UTF-8)."""
        for form in self._byte_forms:
            if form in data:
                data = data.replace(form, _REDACTED_BYTES)
        return self.tail(data, self._byte_forms)

    def value(self, value: object, depth: int = 0) -> object:
        """A parsed JSON value with its strings (keys too) scrubbed; too deep is redacted."""
        if isinstance(value, str):
            return self.text(value)
        if depth > _MAX_JSON_DEPTH:
            return REDACTED
        if isinstance(value, dict):
            return {self.text(str(k)): self.value(v, depth + 1) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v, depth + 1) for v in value]
        return value

    @staticmethod
    def tail(text: T, forms: tuple[T, ...]) -> T:
        """``text`` with a trailing proper prefix (of at least MIN_SECRET characters) of any
        of ``forms`` replaced, as left behind when a secret straddles a cut."""
        for form in forms:
            head = form[:MIN_SECRET]
            pos = text.find(head, max(0, len(text) - len(form) + 1))
            while pos != -1:
                if form.startswith(text[pos:]):
                    return text[:pos] + (REDACTED if isinstance(text, str) else _REDACTED_BYTES)
                pos = text.find(head, pos + 1)
        return text
