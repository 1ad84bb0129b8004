"""The catalog: the user's file row by row through the transport, and the read-only mapping."""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

import httpx_remedy as remedy
from httpx_remedy import Remedy, catalog
from httpx_remedy import _catalog_errors as exc
from httpx_remedy._catalog import RETRYABLE_STATUSES
from httpx_remedy.testing import error_response

from .helpers import FakeClock, Mode, sync_client

# The user's catalog and the standards summary, vendored so the suite runs from any clone;
# test_vendored_copies_match_shared checks them against ../shared when it is there.
DATA = Path(__file__).parent / "data"
SHARED = Path(__file__).resolve().parents[2] / "shared"
CATALOG_FILE = Path(os.environ.get("HTTPX_REMEDY_CATALOG", DATA / "catalog.txt"))
STANDARDS_FILE = Path(os.environ.get("HTTPX_REMEDY_STANDARDS", DATA / "standards.md"))
URL = "https://api.example.com/v1/items?page=2"


@dataclass(frozen=True)
class Row:
    """One row of the user's catalog file."""

    code: int | str
    title: str
    description: str
    causes: str
    fix: str


def parse_catalog(text: str) -> list[Row]:
    """The rows of the catalog file: cells end with ``|``, four to a row, and may share a line.

    Lines without ``|`` between rows are section titles; a ``---|`` line ends a header row.
    """
    rows: list[Row] = []
    cells: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if re.fullmatch(r"(-+\|)+", line.replace(" ", "")):
            assert not pending, "a separator in the middle of a cell"
            assert len(cells) % 4 == 0, "a separator in the middle of a row"
            del cells[-4:]  # the header cells above the separator are not a row
            continue
        if "|" not in line:
            if not pending and len(cells) % 4 == 0:
                continue  # a section title
            pending = f"{pending} {line}".strip()
            continue
        *complete, rest = line.split("|")
        for piece in complete:
            cells.append(f"{pending} {piece}".strip())
            pending = ""
        pending = rest.strip()
    if pending:
        cells.append(pending)
    assert len(cells) % 4 == 0, f"catalog cells do not make whole rows: {cells[-4:]}"
    for i in range(0, len(cells), 4):
        head, description, causes, fix = cells[i : i + 4]
        match = re.fullmatch(r"(\d{3})\s+(.+)", head)
        if match:
            rows.append(Row(int(match[1]), match[2], description, causes, fix))
        else:
            rows.append(Row(head, head, description, causes, fix))
    return rows


def standards_oauth_codes(text: str) -> list[str]:
    """Every code in table A of the standards summary (a cell may list several)."""
    section = text.split("## A.", 1)[1].split("## B.", 1)[0]
    codes: list[str] = []
    for line in section.splitlines():
        if not line.startswith("| ") or line.startswith("| error "):
            continue
        first = line.split("|")[1].strip()
        if first.startswith("("):
            continue  # "(401 with no `error`)" is not a code
        codes.extend(code.strip() for code in first.split(","))
    return codes


ROWS = parse_catalog(CATALOG_FILE.read_text(encoding="utf-8"))
STATUS_ROWS = [row for row in ROWS if isinstance(row.code, int)]
OAUTH_ROWS = [row for row in ROWS if isinstance(row.code, str)]
TABLE_A = standards_oauth_codes(STANDARDS_FILE.read_text(encoding="utf-8"))


def row_id(row: Row) -> str:
    return str(row.code)


def server_words(row: Row) -> str:
    return f"Server says {row.code} happened: see ticket 4711"


def catalog_response(row: Row) -> httpx.Response:
    return httpx.Response(**error_response(row.code, description=server_words(row)))


def expected_status(row: Row) -> int:
    return int(error_response(row.code)["status_code"])


def check_error(error: remedy.HTTPError, row: Row) -> None:
    entry = catalog[row.code]
    assert isinstance(error, entry.exception)
    assert isinstance(error, httpx.HTTPStatusError)
    assert error.entry.fix == row.fix
    assert error.entry.description == row.description
    assert error.status_code == expected_status(row)
    words = server_words(row)
    assert words in (error.error_description, error.server_message)
    assert words in str(error)
    assert row.fix in str(error)
    if isinstance(row.code, str):
        assert isinstance(error, exc.OAuthError)
        assert error.error == row.code
        assert error.error_description == words
        assert f"{row.code} " in str(error)


# ---- the parser of the user's file ------------------------------------------------------------


def test_catalog_file_parses_into_every_row() -> None:
    assert [row.code for row in STATUS_ROWS] == [
        400,
        401,
        403,
        404,
        405,
        406,
        413,
        414,
        422,
        429,
        431,
        500,
        503,
    ]
    assert [row.code for row in OAUTH_ROWS] == [
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
        "access_denied",
        "server_error",
        "temporarily_unavailable",
        "invalid_token",
        "insufficient_scope",
    ]
    for row in ROWS:
        assert row.description
        assert row.causes
        assert row.fix
        assert "|" not in row.fix


def test_parser_handles_rows_on_one_line_and_split_over_lines() -> None:
    text = (
        "Title\nError code |\nDescription |\nCauses |\nFix |\n---|---|---|---|\n"
        "418 I'm a teapot |\nShort and stout. |\nA teapot. |\nUse a coffee pot. |\n"
        "419 Odd | One line. | Cause. | Fix it. |\n"
        "Other\nError code |\nDescription |\nCauses |\nFix |\n---|---|---|---|\n"
        "odd_code |\nA code. |\nBecause. |\nDo the thing. |"
    )
    assert parse_catalog(text) == [
        Row(418, "I'm a teapot", "Short and stout.", "A teapot.", "Use a coffee pot."),
        Row(419, "Odd", "One line.", "Cause.", "Fix it."),
        Row("odd_code", "odd_code", "A code.", "Because.", "Do the thing."),
    ]


# ---- every row of the user's catalog, through the transport ----------------------------------


@pytest.mark.parametrize("row", ROWS, ids=row_id)
def test_catalog_row(mode: Mode, row: Row, clock: FakeClock) -> None:
    entry = catalog[row.code]
    with (
        mode.client(lambda request: catalog_response(row), clock, retry=None) as client,
        pytest.raises(entry.exception) as caught,
    ):
        client.get(URL)
    check_error(caught.value, row)
    assert clock.sleeps == []


@pytest.mark.parametrize("row", ROWS, ids=row_id)
def test_catalog_row_through_raise_for_status(row: Row) -> None:
    response = catalog_response(row)
    response.request = httpx.Request("GET", URL)
    with pytest.raises(catalog[row.code].exception) as caught:
        remedy.raise_for_status(response)
    check_error(caught.value, row)


# Hand-written bodies as real servers send them: (response, class, code, words, catalog row).
REAL_WORLD = {
    "google-429": (
        httpx.Response(
            429,
            json={
                "error": {
                    "code": 429,
                    "message": "Quota exceeded for quota metric 'Queries' of service "
                    "'sheets.googleapis.com'.",
                    "status": "RESOURCE_EXHAUSTED",
                }
            },
        ),
        remedy.TooManyRequests,
        "Quota exceeded for quota metric 'Queries'",
        429,
    ),
    "github-401": (
        httpx.Response(
            401,
            json={
                "message": "Bad credentials",
                "documentation_url": "https://docs.github.com/rest",
                "status": "401",
            },
        ),
        exc.Unauthorized,
        "Bad credentials",
        401,
    ),
    "nginx-502": (
        httpx.Response(
            502,
            headers={"Content-Type": "text/html"},
            text="<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
            "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
            "</body>\r\n</html>\r\n",
        ),
        remedy.BadGateway,
        "502 Bad Gateway",
        502,
    ),
    "cloudflare-503-text": (
        httpx.Response(503, text="upstream connect error or disconnect/reset before headers"),
        remedy.ServiceUnavailable,
        "upstream connect error or disconnect/reset before headers",
        503,
    ),
    "form-invalid-grant": (
        httpx.Response(
            400,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            content=b"error=invalid_grant&error_description=Refresh+token+expired+%28idle%29",
        ),
        remedy.InvalidGrant,
        "Refresh token expired (idle)",
        "invalid_grant",
    ),
    "google-token-invalid-grant": (
        httpx.Response(
            400,
            json={"error": "invalid_grant", "error_description": "Bad Request"},
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        ),
        remedy.InvalidGrant,
        "Bad Request",
        "invalid_grant",
    ),
    "rfc6750-invalid-token": (
        httpx.Response(
            401,
            headers={
                "WWW-Authenticate": 'Bearer realm="example", error="invalid_token", '
                'error_description="The access token expired"'
            },
        ),
        remedy.InvalidToken,
        "The access token expired",
        "invalid_token",
    ),
    "rfc6750-insufficient-scope": (
        httpx.Response(
            403,
            headers={
                "WWW-Authenticate": 'Bearer realm="example", error="insufficient_scope", '
                'error_description="Requires admin", scope="admin"'
            },
        ),
        remedy.InsufficientScope,
        "Requires admin",
        "insufficient_scope",
    ),
    "auth0-access-denied": (
        httpx.Response(
            403,
            json={"error": "access_denied", "error_description": "Unauthorized"},
        ),
        remedy.AccessDenied,
        "Unauthorized",
        "access_denied",
    ),
    "keycloak-invalid-client": (
        httpx.Response(
            401,
            json={
                "error": "invalid_client",
                "error_description": "Invalid client or Invalid client credentials",
            },
        ),
        remedy.InvalidClient,
        "Invalid client or Invalid client credentials",
        "invalid_client",
    ),
    "problem-422": (
        httpx.Response(
            422,
            headers={"Content-Type": "application/problem+json"},
            json={
                "type": "https://example.com/probs/out-of-credit",
                "title": "You do not have enough credit.",
                "status": 422,
                "detail": "Your current balance is 30, but that costs 50.",
                "instance": "/account/12345/msgs/abc",
            },
        ),
        remedy.UnprocessableEntity,
        "Your current balance is 30, but that costs 50.",
        422,
    ),
}


@pytest.mark.parametrize("case", REAL_WORLD.values(), ids=REAL_WORLD.keys())
def test_real_world_bodies(mode: Mode, case: tuple, clock: FakeClock) -> None:
    response, cls, words, code = case
    with (
        mode.client(lambda request: response, clock, retry=None) as client,
        pytest.raises(cls) as caught,
    ):
        client.get(URL)
    error = caught.value
    assert error.entry is catalog[code]
    assert error.status_code == response.status_code
    assert words in (error.error_description or error.server_message or "")
    assert words in str(error)
    assert error.entry.fix in str(error)


def test_google_nested_error_keeps_its_status_code_name(clock: FakeClock) -> None:
    response = REAL_WORLD["google-429"][0]
    with (
        sync_client(lambda request: response, clock, retry=None) as client,
        pytest.raises(remedy.TooManyRequests) as caught,
    ):
        client.get(URL)
    assert caught.value.error == "RESOURCE_EXHAUSTED"


def test_catalog_rows_with_the_default_retry_policy_still_raise_the_class(
    clock: FakeClock,
) -> None:
    # 429 is retried (waiting the Retry-After the helper sets), then raised as the same class.
    with (
        sync_client(lambda request: httpx.Response(**error_response(429)), clock) as client,
        pytest.raises(remedy.TooManyRequests) as caught,
    ):
        client.get(URL)
    assert caught.value.entry.fix == next(row.fix for row in ROWS if row.code == 429)
    assert len(caught.value.attempts) == 3
    assert clock.sleeps == [1.0, 1.0]


# ---- the mapping --------------------------------------------------------------------------


@pytest.mark.parametrize("row", ROWS, ids=row_id)
def test_catalog_has_the_files_text(row: Row) -> None:
    entry = catalog[row.code]
    assert entry.code == row.code
    assert entry.description == row.description
    assert " ".join(entry.causes) == row.causes
    assert entry.fix == row.fix
    if isinstance(row.code, int):
        assert entry.title == row.title
    assert entry.source.startswith("user catalog; RFC ")


@pytest.mark.parametrize(("key", "code"), [(429, 429), ("429", 429), (" 429 ", 429)])
def test_status_lookup_by_int_or_string(key: int | str, code: int) -> None:
    assert catalog[key] is catalog[code]
    assert catalog[key].code == 429
    assert key in catalog


@pytest.mark.parametrize(
    "key", ["invalid_grant", "INVALID_GRANT", "Invalid_Grant", " invalid_grant"]
)
def test_oauth_lookup_is_case_insensitive(key: str) -> None:
    assert catalog[key] is catalog["invalid_grant"]
    assert key in catalog
    assert catalog.get(key) is catalog["invalid_grant"]


@pytest.mark.parametrize("key", [999, "999", "invalid_grnt", "", "4xx", 418, None, 429.5])
def test_unknown_codes_are_missing(key: object) -> None:
    assert key not in catalog
    assert catalog.get(key) is None  # type: ignore[arg-type]
    with pytest.raises(KeyError):
        catalog[key]  # type: ignore[index]


def test_len_and_iteration_agree() -> None:
    codes = list(catalog)
    assert len(codes) == len(catalog) == len(set(codes))
    assert all(catalog[code].code == code for code in codes)
    assert set(catalog.keys()) == set(codes)
    assert [entry.code for entry in catalog.values()] == codes
    assert dict(catalog.items()) == {code: catalog[code] for code in codes}
    assert {e.code for e in catalog.statuses()} | {e.code for e in catalog.oauth_codes()} == set(
        codes
    )


def test_catalog_is_read_only() -> None:
    with pytest.raises(TypeError):
        catalog[429] = catalog[503]  # type: ignore[index]
    with pytest.raises(TypeError):
        del catalog[429]  # type: ignore[attr-defined]
    with pytest.raises((AttributeError, TypeError)):
        catalog.update({})  # type: ignore[attr-defined]
    with pytest.raises(dataclasses.FrozenInstanceError):
        catalog[429].fix = "ignore it"  # type: ignore[misc]
    assert catalog[429].fix == next(row.fix for row in ROWS if row.code == 429)


def test_catalog_is_an_instance_of_the_exported_class() -> None:
    assert isinstance(catalog, remedy.Catalog)
    assert remedy.catalog is catalog


@pytest.mark.parametrize("code", [408, 409, 410, 412, 415, 502, 504])
def test_catalog_adds_statuses_from_the_standards(code: int) -> None:
    entry = catalog[code]
    assert entry.code == code
    assert entry.status == code
    assert entry.description.strip()
    assert entry.fix.strip()
    assert entry.causes
    assert entry.title.strip()


def test_standards_table_a_was_parsed() -> None:
    assert "insufficient_user_authentication" in TABLE_A
    assert "registration_not_supported" in TABLE_A
    assert "unsupported_token_type" in TABLE_A
    assert len(TABLE_A) == len(set(TABLE_A)) >= 30


@pytest.mark.parametrize("code", TABLE_A)
def test_catalog_has_every_oauth_code_of_table_a(code: str) -> None:
    assert code in catalog
    entry = catalog[code]
    assert entry.code == code
    assert entry.is_oauth
    assert entry.description.strip()
    assert entry.fix.strip()
    assert issubclass(entry.exception, remedy.OAuthError)


@pytest.mark.parametrize("code", list(catalog), ids=str)
def test_every_entry_is_complete(code: int | str) -> None:
    entry = catalog[code]
    assert isinstance(entry, remedy.Entry)
    assert entry.title.strip()
    assert entry.description.strip()
    assert entry.fix.strip()
    assert entry.causes
    assert all(isinstance(cause, str) and cause.strip() for cause in entry.causes)
    assert isinstance(entry.remedy, Remedy)
    assert issubclass(entry.exception, remedy.HTTPError)
    assert entry.is_oauth is isinstance(code, str)
    explained = entry.explain()
    assert str(code) in explained
    assert entry.fix in explained


@pytest.mark.parametrize("code", list(catalog), ids=str)
def test_the_table_drives_the_classes(code: int | str) -> None:
    entry = catalog[code]
    if entry.is_oauth:
        assert issubclass(entry.exception, remedy.OAuthError)
        assert not issubclass(entry.exception, (remedy.ClientError, remedy.ServerError))
    else:
        status = int(code)
        base = remedy.ClientError if status < 500 else remedy.ServerError
        assert issubclass(entry.exception, base)
        assert catalog.for_status(status) is entry


def test_every_exception_class_is_some_entrys_class() -> None:
    classes = {entry.exception for entry in catalog.values()}
    bases = {remedy.HTTPError, remedy.ClientError, remedy.ServerError, remedy.OAuthError}
    # Every class _catalog_errors holds is its own but HTTPError, which it imports.
    for name, obj in vars(exc).items():
        if isinstance(obj, type) and issubclass(obj, remedy.HTTPError) and obj not in bases:
            assert obj in classes, f"{name} has no catalog row"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (429, Remedy.BACK_OFF),
        (503, Remedy.BACK_OFF),
        (500, Remedy.RETRY_IF_SAFE),
        (502, Remedy.RETRY_IF_SAFE),
        (504, Remedy.RETRY_IF_SAFE),
        (408, Remedy.RETRY_IF_SAFE),
        ("invalid_token", Remedy.REFRESH),
        ("invalid_grant", Remedy.REAUTHENTICATE),
        ("insufficient_scope", Remedy.STEP_UP),
        ("temporarily_unavailable", Remedy.BACK_OFF),
        ("server_error", Remedy.RETRY_IF_SAFE),
        (400, Remedy.FAIL_FAST),
        (404, Remedy.FAIL_FAST),
        (422, Remedy.FAIL_FAST),
        ("invalid_client", Remedy.FAIL_FAST),
        ("invalid_request", Remedy.FAIL_FAST),
    ],
)
def test_default_remedies(code: int | str, expected: Remedy) -> None:
    assert catalog[code].remedy is expected


def test_retryable_statuses_come_from_the_remedy_column() -> None:
    from_table = {
        int(entry.code) for entry in catalog.values() if not entry.is_oauth and entry.remedy.retries
    }
    assert from_table == set(RETRYABLE_STATUSES) == {408, 429, 500, 502, 503, 504}
    assert remedy.Retry().statuses == RETRYABLE_STATUSES


def test_remedy_retries_flag() -> None:
    assert {r for r in Remedy if r.retries} == {Remedy.BACK_OFF, Remedy.RETRY_IF_SAFE}
    assert str(Remedy.BACK_OFF) == Remedy.BACK_OFF.value


@pytest.mark.parametrize(
    ("status", "fallback"),
    [(418, remedy.ClientError), (499, remedy.ClientError), (599, remedy.ServerError)],
)
def test_for_status_falls_back(status: int, fallback: type[remedy.HTTPError]) -> None:
    entry = catalog.for_status(status)
    assert entry.exception is fallback
    assert entry.fix.strip()
    assert entry.code not in catalog


def test_suggest_names_the_close_codes() -> None:
    assert catalog.suggest("invalid_grnt")[0] == "invalid_grant"
    assert "invalid_token" in catalog.suggest("INVALID_TOKN")
    assert catalog.suggest("zzzzzzzzzzzz") == []


@pytest.mark.parametrize(
    ("vendored", "original"),
    [("catalog.txt", "catalog.txt"), ("standards.md", "reference/standards.md")],
)
def test_vendored_copies_match_shared(vendored: str, original: str) -> None:
    source = SHARED / original
    if not source.exists():
        pytest.skip("no ../shared beside this checkout")
    assert (DATA / vendored).read_bytes() == source.read_bytes(), (
        f"tests/data/{vendored} is stale: copy ../shared/{original} over it"
    )
