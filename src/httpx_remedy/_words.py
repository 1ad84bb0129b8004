"""The server's own words: the most specific human text of an error body.

Servers and frameworks wrap what they mean in boilerplate. An HTML page's title often only
restates the status ("Error response", "503 Service Unavailable") while a ``<p>`` or a bare line
says what happened ("Message: Line too long.", "Request Line is too large (5019 > 4094)"). JSON
bodies put their words in many places: ``message``, ``detail``, ``title``, ``errorSummary``
(Okta), ``error_summary`` (Dropbox), a nested ``error`` object (Google, Stripe, OpenAI), lists of
errors (``errors`` of GitHub, GraphQL and JSON:API, ``detail`` of FastAPI, Okta's
``errorCauses``, RFC 9457 ``invalid-params``, Slack's ``response_metadata.messages``), each with
a field path (``loc``, ``field``, ``param``, ``source.pointer``, ``path``, ``name``).

Pure and total: any input gives a string or ``None``, in time linear in the input (lists and
nesting are bounded). The caller cleans and cuts what comes back.
"""

from __future__ import annotations

import http
import re
from collections.abc import Iterable, Mapping
from typing import Final

# Words that only restate an HTTP status, or wrap an error page's text.
_FILLER_WORDS: Final = frozenset(
    {"an", "the", "this", "is", "has", "was", "been", "occurred", "occured", "error", "errors"}
    | {"response", "code", "explanation", "message", "status", "http", "https", "report"}
    | {"oops", "sorry", "page", "something", "went", "wrong", "unknown", "problem", "detail"}
    | {"details", "description", "type", "title", "reason"}
)
_REASON_WORDS: Final = (
    frozenset(
        word
        for status in http.HTTPStatus
        for word in re.findall(r"[a-z]+", status.phrase.lower())
        if len(word) > 1
    )
    | {"temporarily", "entity", "uri", "allowed", "large", "cookie", "or"}
) - _FILLER_WORDS
_WORD_RE: Final = re.compile(r"[^\W\d_]+")
_LABEL_RE: Final = re.compile(
    r"(?:message|error|description|details?|reason)\s*:\s*(?=\S)", re.IGNORECASE
)
_CODE_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,99}")

_MAX_LINES: Final = 200  # lines of a page looked at
_MAX_ITEMS: Final = 20  # errors of a list described
_MAX_DEPTH: Final = 3  # nested error objects followed
_MAX_PART: Final = 300  # characters of each piece before joining

# Top-level members holding a text, most specific first.
_TEXT_KEYS: Final = (
    "detail",
    "message",
    "Message",
    "errorSummary",
    "error_summary",
    "error_message",
    "errorMessage",
    "description",
    "title",
    "msg",
    "errors",
    "reason",
)
# Members holding a list of errors.
_LIST_KEYS: Final = ("errors", "detail", "error", "errorCauses", "invalid-params", "invalid_params")
# Members holding where an error is: a field, a parameter, a JSON pointer, a path.
_PATH_KEYS: Final = ("loc", "field", "param", "pointer", "path", "name", "location", "parameter")


def specificity(text: str) -> tuple[int, int]:
    """(words that say more than the status, words of a status reason) in ``text``."""
    words = _WORD_RE.findall(text.lower())
    own = sum(1 for w in words if w not in _REASON_WORDS and w not in _FILLER_WORDS and len(w) > 1)
    return own, sum(1 for w in words if w in _REASON_WORDS)


def is_generic(text: str) -> bool:
    """Whether ``text`` only restates a status ("Bad Request", "Error code: 414")."""
    return specificity(text)[0] == 0


def without_label(text: str) -> str:
    """``text`` without a leading ``Message:`` / ``Error:`` / ``Details:`` label."""
    match = _LABEL_RE.match(text.strip())
    return text.strip()[match.end() :] if match else text.strip()


def most_specific(candidates: Iterable[str]) -> str | None:
    """The first candidate of two words or more that says more than its status; else the one
    that names the status best (the first of those); ``None`` when no candidate has a letter."""
    best: str | None = None
    best_reason = -1
    for count, candidate in enumerate(candidates):
        if count >= _MAX_LINES:
            break
        text = without_label(candidate)
        own, reason = specificity(text)
        if own and len(_WORD_RE.findall(text)) > 1:  # one word is a name ("nginx"), not news
            return text
        if reason > best_reason and _WORD_RE.search(text):
            best, best_reason = text, reason
    return best


def json_message(obj: Mapping[str, object], depth: int = 0) -> str | None:
    """The words of a JSON error object: its own text, with every listed error and its field
    path, and what a nested ``error`` object says."""
    top = _own_text(obj)
    path = _path_of(obj)
    for key in ("error", "detail"):  # a nested error object (FastAPI: a dict detail)
        nested = obj.get(key)
        if isinstance(nested, Mapping) and depth < _MAX_DEPTH:
            inner = json_message(nested, depth + 1)
            if inner is not None and (top is None or is_generic(top)):
                top = inner
    items: list[str] = []
    for key in _LIST_KEYS:
        value = obj.get(key)
        if isinstance(value, list) and depth < _MAX_DEPTH:
            items += list_messages(value, depth + 1)
    errors = obj.get("errors")
    if isinstance(errors, Mapping):  # Rails, Laravel: {"errors": {"field": ["message"]}}
        items += field_messages(errors)
    metadata = obj.get("response_metadata")  # Slack
    if isinstance(metadata, Mapping) and isinstance(metadata.get("messages"), list):
        items += list_messages(metadata["messages"], depth + 1)
    if depth == 0:  # a top-level path is the request's own (Spring's "path"), not a field
        path = None
    if top is None and not items:
        if depth == 0:  # Django REST framework: the whole body is {"field": ["message"]}
            return _joined(None, field_messages(obj)) if obj else None
        code = _code(obj.get("code"))
        return f"{path}: {code}" if path and code else None  # GitHub: {"field", "code"}
    return _joined(f"{path}: {top}" if path and top else top, items)


def field_messages(fields: Mapping[str, object]) -> list[str]:
    """``field: message`` for each member whose value is a list of messages; nothing when any
    member is something else (then it is not a map of field errors)."""
    found: list[str] = []
    for count, (name, value) in enumerate(fields.items()):
        if count >= _MAX_ITEMS:
            break
        if not isinstance(value, list) or not value:
            return []
        texts = [text.strip()[:_MAX_PART] for text in value[:5] if isinstance(text, str)]
        if len(texts) != len(value[:5]):
            return []
        found += (f"{str(name)[:_MAX_PART]}: {text}" for text in texts if text)
    return found


def list_messages(values: list[object], depth: int = 0) -> list[str]:
    """The words of each error of a list (strings, or objects as in :func:`json_message`),
    without repeats."""
    found: dict[str, None] = {}
    for value in values[:_MAX_ITEMS]:
        text: str | None = None
        if isinstance(value, str):
            text = value.strip()
        elif isinstance(value, Mapping):
            text = json_message(value, depth)
        if text:
            found.setdefault(text[:_MAX_PART], None)
    return list(found)


def _own_text(obj: Mapping[str, object]) -> str | None:
    texts: list[str] = []
    for key in _TEXT_KEYS:
        value = obj.get(key)
        if isinstance(value, str) and value.strip() and (key != "reason" or not _code(value)):
            texts.append(value.strip()[:_MAX_PART])
    error = obj.get("error")
    if isinstance(error, str) and error.strip() and _code(error) is None:
        texts.append(error.strip()[:_MAX_PART])  # prose where a code should be
    found = next((text for text in texts if not is_generic(text)), None)
    return found or (texts[0] if texts else None)


def _path_of(obj: Mapping[str, object]) -> str | None:
    for key in _PATH_KEYS:
        value = obj.get(key)
        if isinstance(value, list) and value and len(value) <= 50:
            if all(isinstance(part, (str, int)) and not isinstance(part, bool) for part in value):
                return ".".join(str(part) for part in value)[:_MAX_PART]
        elif isinstance(value, str) and value.strip() and len(value) <= _MAX_PART:
            return value.strip()
    source = obj.get("source")  # JSON:API
    if isinstance(source, Mapping):
        return _path_of(source)
    return None


def _code(value: object) -> str | None:
    if isinstance(value, str) and _CODE_RE.fullmatch(value.strip()) is not None:
        return value.strip()
    return None


def _joined(top: str | None, items: list[str]) -> str | None:
    if top is not None:  # an item that only repeats the top text adds nothing
        items = [item for item in items if item != top and not item.endswith(": " + top)]
    if not items:
        return top
    listed = "; ".join(items)
    if top is None or is_generic(top):
        return listed
    return f"{top} ({listed})"
