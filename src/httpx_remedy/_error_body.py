"""What a server said in an error body: the OAuth members, RFC 9457 problem details, and the
shapes real APIs send (nested, arrays, form-encoded, XML, HTML, plain text).

Pure and bounded, like every parser here (see ``_header_syntax``); the server's most specific
words are picked by ``_words``.
"""

from __future__ import annotations

import codecs
import html
import itertools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, cast
from urllib.parse import parse_qsl

from ._delays import valid_delay
from ._header_syntax import parse_number, split_outside_quotes
from ._words import is_generic, json_message, list_messages, most_specific

_MAX_BODY_BYTES: Final = 64 * 1024
_MAX_CONTENT_TYPE_CHARS: Final = 1024
_MAX_TEXT_CHARS: Final = 500  # of any string in a BodyDetails
_MAX_LIST_ITEMS: Final = 100  # JSON array elements searched for an error object
_MAX_JSON_INT_DIGITS: Final = 40


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
    media, *params = split_outside_quotes(content_type[:_MAX_CONTENT_TYPE_CHARS], ";")
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
            seconds = parse_number(value.strip())
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            seconds = value
        else:
            continue
        delay = None if seconds is None else valid_delay(seconds)
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
