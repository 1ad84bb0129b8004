"""The server's words, as real servers and the big providers write them.

``data/real_errors.json`` holds error responses recorded byte for byte from Python's
http.server, Werkzeug, gunicorn, uvicorn and hypercorn (FastAPI), nginx and
django-oauth-toolkit (``data/real_servers/capture.py`` records them again). The provider bodies
below are written from the providers' public documentation of their error formats.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import httpx_remedy as remedy
from httpx_remedy._error_body import parse_error_body
from httpx_remedy._words import json_message, most_specific

RECORDED = json.loads((Path(__file__).parent / "data" / "real_errors.json").read_text())
URL = "https://api.example.com/v1/items"

# (class, error, server_message) for each recorded response.
EXPECTED: dict[str, tuple[type[remedy.HTTPError], str | None, str | None]] = {
    "http.server/404-file-not-found": (remedy.NotFound, None, "File not found."),
    "http.server/501-unsupported-method": (
        remedy.ServerError,
        None,
        "Unsupported method ('POST').",
    ),
    "http.server/414-request-line-too-long": (remedy.URITooLong, None, "Request-URI Too Long."),
    "http.server/431-header-line-too-long": (
        remedy.RequestHeaderFieldsTooLarge,
        None,
        "Line too long.",
    ),
    "werkzeug/400-abort-description": (remedy.BadRequest, None, "The price must be positive."),
    "werkzeug/404-default": (
        remedy.NotFound,
        None,
        "The requested URL was not found on the server. If you entered the URL manually please "
        "check your spelling and try again.",
    ),
    "werkzeug/409-abort-description": (
        remedy.Conflict,
        None,
        "Item 2 was changed by another request; reload it and retry.",
    ),
    "werkzeug/400-default": (
        remedy.BadRequest,
        None,
        "The browser (or proxy) sent a request that this server could not understand.",
    ),
    "werkzeug/405-method": (
        remedy.MethodNotAllowed,
        None,
        "The method is not allowed for the requested URL.",
    ),
    "werkzeug/500-exception": (
        remedy.InternalServerError,
        None,
        "The server encountered an internal error and was unable to complete your request. "
        "Either the server is overloaded or there is an error in the application.",
    ),
    "werkzeug/404-no-route": (
        remedy.NotFound,
        None,
        "The requested URL was not found on the server. If you entered the URL manually please "
        "check your spelling and try again.",
    ),
    "gunicorn/414-request-line-too-large": (
        remedy.URITooLong,
        None,
        "Request Line is too large (5014 > 4094)",
    ),
    "gunicorn/400-invalid-header-name": (
        remedy.BadRequest,
        None,
        "Invalid HTTP header name: 'Bad Header'",
    ),
    "gunicorn/431-header-too-large": (
        remedy.RequestHeaderFieldsTooLarge,
        None,
        "Error parsing headers: 'limit request headers fields size'",
    ),
    "gunicorn/400-invalid-method": (
        remedy.BadRequest,
        None,
        "Invalid Method 'Invalid HTTP method: 'G@T''",
    ),
    "gunicorn/400-abort-description": (remedy.BadRequest, None, "The price must be positive."),
    "uvicorn/422-validation-body-and-query": (
        remedy.UnprocessableEntity,
        None,
        "query.limit: Field required; body.items.0.price: Input should be greater than 0",
    ),
    "uvicorn/422-validation-missing-body": (
        remedy.UnprocessableEntity,
        None,
        "body: Field required",
    ),
    "uvicorn/422-validation-path-type": (
        remedy.UnprocessableEntity,
        None,
        "path.item_id: Input should be a valid integer, unable to parse string as an integer",
    ),
    "uvicorn/404-http-exception": (remedy.NotFound, None, "Item not found"),
    "uvicorn/403-http-exception-dict": (
        remedy.Forbidden,
        "quota",
        "Quota exceeded for project p-1",
    ),
    "uvicorn/404-no-route": (remedy.NotFound, None, "Not Found"),
    "uvicorn/405-method": (remedy.MethodNotAllowed, None, "Method Not Allowed"),
    "uvicorn/400-invalid-request": (remedy.BadRequest, None, "Invalid HTTP request received."),
    "hypercorn/422-validation-body-and-query": (
        remedy.UnprocessableEntity,
        None,
        "query.limit: Field required; body.items.0.name: Input should be a valid string; "
        "body.items.0.price: Field required",
    ),
    "hypercorn/404-http-exception": (remedy.NotFound, None, "Item not found"),
    "hypercorn/400-invalid-request": (remedy.BadRequest, None, None),
    "nginx/404-not-found": (remedy.NotFound, None, "404 Not Found"),
    "nginx/413-body-too-large": (remedy.PayloadTooLarge, None, "413 Request Entity Too Large"),
    "nginx/400-header-too-large": (
        remedy.BadRequest,
        None,
        "400 Request Header Or Cookie Too Large",
    ),
    "nginx/414-uri-too-long": (remedy.URITooLong, None, "414 Request-URI Too Large"),
    "nginx/502-bad-gateway": (remedy.BadGateway, None, "502 Bad Gateway"),
    "nginx/503-return": (
        remedy.ServiceUnavailable,
        None,
        "503 Service Temporarily Unavailable",
    ),
    "nginx/405-post-static": (remedy.MethodNotAllowed, None, "405 Not Allowed"),
    "nginx/410-gone": (remedy.Gone, None, "410 Gone"),
    "django-oauth-toolkit/401-invalid-client": (remedy.InvalidClient, "invalid_client", None),
    "django-oauth-toolkit/400-unsupported-grant": (
        remedy.UnsupportedGrantType,
        "unsupported_grant_type",
        None,
    ),
    "django-oauth-toolkit/400-invalid-request-no-grant": (
        remedy.UnsupportedGrantType,
        "unsupported_grant_type",
        None,
    ),
    "django-oauth-toolkit/403-expired-token": (remedy.Forbidden, None, None),
    "django-oauth-toolkit/403-no-token": (remedy.Forbidden, None, None),
    "django-oauth-toolkit/403-insufficient-scope": (remedy.Forbidden, None, None),
    "django-oauth-toolkit/404-django-default": (
        remedy.NotFound,
        None,
        "The requested resource was not found on this server.",
    ),
}


def raise_for(status: int, headers: dict[str, str], body: bytes) -> remedy.HTTPError:
    response = httpx.Response(
        status, headers=headers, content=body, request=httpx.Request("GET", URL)
    )
    with pytest.raises(remedy.HTTPError) as caught:
        remedy.raise_for_status(response)
    return caught.value


def test_every_recording_has_an_expectation() -> None:
    names = {f"{r['server']}/{r['scenario']}" for r in RECORDED}
    assert names == set(EXPECTED)
    assert {r["server"] for r in RECORDED} == {
        "http.server",
        "werkzeug",
        "gunicorn",
        "uvicorn",
        "hypercorn",
        "nginx",
        "django-oauth-toolkit",
    }


@pytest.mark.parametrize("record", RECORDED, ids=lambda r: f"{r['server']}/{r['scenario']}")
def test_a_real_server_s_words(record: dict[str, Any]) -> None:
    cls, error, message = EXPECTED[f"{record['server']}/{record['scenario']}"]
    caught = raise_for(record["status"], record["headers"], record["body"].encode())
    assert isinstance(caught, cls)
    assert (caught.error, caught.server_message) == (error, message)
    assert caught.error_description is None  # none of them is an OAuth description
    if message is not None:
        assert f'"{message}"' in str(caught)


# ---- the providers' JSON, as their documentation shows it ------------------------------------

PROVIDERS = [
    pytest.param(
        401,
        {
            "errorCode": "E0000011",
            "errorSummary": "Invalid token provided",
            "errorLink": "E0000011",
            "errorId": "oaeHfmOAx1iRLa0H10DeMz5fQ",
            "errorCauses": [],
        },
        "E0000011",
        "Invalid token provided",
        id="okta",
    ),
    pytest.param(
        400,
        {
            "errorCode": "E0000001",
            "errorSummary": "Api validation failed: login",
            "errorCauses": [
                {"errorSummary": "login: An object with this field already exists in the org"}
            ],
        },
        "E0000001",
        "Api validation failed: login (login: An object with this field already exists in the org)",
        id="okta-causes",
    ),
    pytest.param(
        409,
        {
            "error_summary": "path/not_found/..",
            "error": {".tag": "path", "path": {".tag": "not_found"}},
        },
        None,
        "path/not_found/..",
        id="dropbox",
    ),
    pytest.param(
        422,
        {
            "message": "Validation Failed",
            "errors": [{"resource": "Issue", "field": "title", "code": "missing_field"}],
            "documentation_url": "https://docs.github.com/rest/issues/issues#create-an-issue",
            "status": "422",
        },
        "missing_field",
        "Validation Failed (title: missing_field)",
        id="github-validation",
    ),
    pytest.param(
        422,
        {"message": "Validation Failed", "errors": ["Title is too long", "Body is empty"]},
        None,
        "Validation Failed (Title is too long; Body is empty)",
        id="github-string-errors",
    ),
    pytest.param(
        400,
        {
            "errors": [
                {
                    "message": 'Cannot query field "nme" on type "User".',
                    "locations": [{"line": 1, "column": 13}],
                    "path": ["viewer", "nme"],
                    "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"},
                }
            ],
            "data": None,
        },
        "GRAPHQL_VALIDATION_FAILED",
        'viewer.nme: Cannot query field "nme" on type "User".',
        id="graphql",
    ),
    pytest.param(
        422,
        {
            "errors": [
                {
                    "status": "422",
                    "source": {"pointer": "/data/attributes/firstName"},
                    "title": "Invalid Attribute",
                    "detail": "First name must contain at least two characters.",
                },
                {
                    "status": "422",
                    "source": {"parameter": "include"},
                    "title": "Invalid Query Parameter",
                },
            ]
        },
        None,
        "/data/attributes/firstName: First name must contain at least two characters.; "
        "include: Invalid Query Parameter",
        id="json-api",
    ),
    pytest.param(
        404,
        {
            "error": {
                "code": 404,
                "message": "Requested entity was not found.",
                "status": "NOT_FOUND",
                "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo"}],
            }
        },
        "NOT_FOUND",
        "Requested entity was not found.",
        id="google",
    ),
    pytest.param(
        401,
        {
            "error": {
                "errors": [
                    {
                        "domain": "global",
                        "reason": "required",
                        "message": "Login Required",
                        "locationType": "header",
                        "location": "Authorization",
                    }
                ],
                "code": 401,
                "message": "Login Required",
            }
        },
        None,
        "Login Required",
        id="google-legacy",
    ),
    pytest.param(
        404,
        {
            "error": {
                "code": "resource_missing",
                "doc_url": "https://stripe.com/docs/error-codes/resource-missing",
                "message": "No such customer: 'cus_123'",
                "param": "id",
                "type": "invalid_request_error",
            }
        },
        "resource_missing",
        "id: No such customer: 'cus_123'",
        id="stripe",
    ),
    pytest.param(
        401,
        {
            "error": {
                "message": "Incorrect API key provided: sk-abc***xyz.",
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_api_key",
            }
        },
        "invalid_api_key",
        "Incorrect API key provided: sk-abc***xyz.",
        id="openai",
    ),
    pytest.param(
        429,
        {
            "ok": False,
            "error": "ratelimited",
            "response_metadata": {"messages": ["[ERROR] too many requests for chat.postMessage"]},
        },
        "ratelimited",
        "[ERROR] too many requests for chat.postMessage",
        id="slack",
    ),
    pytest.param(
        401,
        {
            "error": {
                "code": "InvalidAuthenticationToken",
                "message": "Access token has expired or is not yet valid.",
                "innerError": {"date": "2024-01-01T00:00:00", "request-id": "r-1"},
            }
        },
        "InvalidAuthenticationToken",
        "Access token has expired or is not yet valid.",
        id="microsoft-graph",
    ),
    pytest.param(
        403,
        {"message": "The security token included in the request is invalid."},
        None,
        "The security token included in the request is invalid.",
        id="aws-api-gateway",
    ),
    pytest.param(
        400,
        {
            "__type": "com.amazon.coral.validate#ValidationException",
            "Message": "1 validation error detected: Value null at 'tableName' failed",
        },
        None,
        "1 validation error detected: Value null at 'tableName' failed",
        id="aws-json-capital-message",
    ),
    pytest.param(
        404,
        {
            "code": 20404,
            "message": "The requested resource /Accounts/AC1/Messages/SM1.json was not found",
            "more_info": "https://www.twilio.com/docs/errors/20404",
            "status": 404,
        },
        None,
        "The requested resource /Accounts/AC1/Messages/SM1.json was not found",
        id="twilio",
    ),
    pytest.param(
        401,
        {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"},
        None,
        "[API] Invalid API key or access token (unrecognized login or wrong password)",
        id="shopify-string",
    ),
    pytest.param(
        422,
        {"errors": {"title": ["can't be blank"], "price": ["must be greater than 0"]}},
        None,
        "title: can't be blank; price: must be greater than 0",
        id="rails-field-map",
    ),
    pytest.param(
        422,
        {
            "message": "The name field is required. (and 1 more error)",
            "errors": {
                "name": ["The name field is required."],
                "email": ["The email must be a valid email address."],
            },
        },
        None,
        "The name field is required. (and 1 more error) (name: The name field is required.; "
        "email: The email must be a valid email address.)",
        id="laravel",
    ),
    pytest.param(
        400,
        {"name": ["This field is required."], "price": ["Ensure this value is >= 0."]},
        None,
        "name: This field is required.; price: Ensure this value is >= 0.",
        id="django-rest-framework",
    ),
    pytest.param(
        400,
        {
            "timestamp": "2024-01-01T00:00:00.000+00:00",
            "status": 400,
            "error": "Bad Request",
            "message": "Required request parameter 'limit' is not present",
            "path": "/api/items",
        },
        None,
        "Required request parameter 'limit' is not present",
        id="spring-boot",
    ),
    pytest.param(
        400,
        {
            "type": "https://example.net/validation-error",
            "title": "Your request is not valid.",
            "errors": [
                {"detail": "must be a positive integer", "pointer": "#/age"},
                {"detail": "must be 'green', 'red' or 'blue'", "pointer": "#/profile/color"},
            ],
        },
        None,
        "Your request is not valid. (#/age: must be a positive integer; #/profile/color: must "
        "be 'green', 'red' or 'blue')",
        id="rfc9457-errors",
    ),
    pytest.param(
        400,
        {
            "type": "https://example.net/validation-error",
            "title": "Your request parameters didn't validate.",
            "invalid-params": [
                {"name": "age", "reason": "must be a positive integer"},
                {"name": "color", "reason": "must be 'green', 'red' or 'blue'"},
            ],
        },
        None,
        "Your request parameters didn't validate. (age: must be a positive integer; color: "
        "must be 'green', 'red' or 'blue')",
        id="rfc7807-invalid-params",
    ),
    pytest.param(
        400,
        [
            {"code": "E1", "message": "first thing"},
            {"code": "E2", "message": "second thing"},
        ],
        "E1",
        "first thing; second thing",
        id="top-level-array",
    ),
]


@pytest.mark.parametrize(("status", "body", "error", "message"), PROVIDERS)
def test_a_provider_s_words(status: int, body: Any, error: str | None, message: str) -> None:
    caught = raise_for(status, {"Content-Type": "application/json"}, json.dumps(body).encode())
    assert (caught.error, caught.server_message) == (error, message)
    assert caught.error_description is None  # the OAuth member stays the OAuth member's
    assert f'"{message}"' in str(caught)


def test_a_provider_s_own_code_is_not_read_as_an_oauth_code() -> None:
    body = json.dumps({"ok": False, "error": "access_denied"}).encode()
    caught = raise_for(403, {"Content-Type": "application/json"}, body)
    assert caught.error == "access_denied"
    assert type(caught) is remedy.Forbidden  # not AccessDenied: Slack's code, not OAuth's
    oauth = raise_for(403, {"Content-Type": "application/json"}, b'{"error": "access_denied"}')
    assert isinstance(oauth, remedy.AccessDenied)


def test_the_message_shows_both_the_oauth_description_and_the_server_s_words() -> None:
    body = {
        "error": "invalid_request",
        "error_description": "The request is missing a required parameter",
        "errors": [{"field": "client_id", "message": "must not be blank"}],
    }
    caught = raise_for(400, {"Content-Type": "application/json"}, json.dumps(body).encode())
    assert caught.error_description == "The request is missing a required parameter"
    assert caught.server_message == "client_id: must not be blank"
    assert (
        ': invalid_request "The request is missing a required parameter" '
        '"client_id: must not be blank". Fix:' in str(caught)
    )
    same = {"error": "invalid_request", "error_description": "x y z", "message": "x y z"}
    caught = raise_for(400, {"Content-Type": "application/json"}, json.dumps(same).encode())
    assert str(caught).count('"x y z"') == 1


def test_an_html_page_keeps_a_title_that_says_more_than_the_status() -> None:
    page = (
        b"<html><head><title>Maintenance until 14:00 UTC</title></head>"
        b"<body><p>Some other paragraph of prose</p></body></html>"
    )
    assert raise_for(503, {"Content-Type": "text/html"}, page).server_message == (
        "Maintenance until 14:00 UTC"
    )


# ---- bounded and total ------------------------------------------------------------------------


def test_the_search_is_bounded_on_a_64_kib_body() -> None:
    line = "<p>Error</p>\n"
    page = ("<title>Error</title>" + line * (64 * 1024 // len(line))).encode()
    errors = [{"loc": ["body", i], "msg": "Field required"} for i in range(5000)]
    nested = '{"error": {"errors": [' * 400 + '"deep"' + "]}}" * 400
    bodies = [
        (page, "text/html"),
        (json.dumps({"detail": errors}).encode()[: 64 * 1024], "application/json"),
        (json.dumps({"detail": errors[:1500]}).encode(), "application/json"),
        (json.dumps({"errors": {f"f{i}": ["m"] * 50 for i in range(2000)}}).encode(), None),
        (nested.encode(), "application/json"),
    ]
    for body, content_type in bodies:
        started = time.perf_counter()
        details = parse_error_body(body, content_type)
        assert time.perf_counter() - started < 0.5
        assert details.message is None or len(details.message) <= 500


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=20)
    | st.sampled_from(["Bad Request", "Error", "message", "errors", "loc"]),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.sampled_from(
                [
                    *("message", "detail", "errors", "error", "loc", "path", "source", "pointer"),
                    *("msg", "errorCauses", "response_metadata", "messages", "code", "field", "x"),
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(value=JSON_VALUES)
def test_json_message_is_total(value: Any) -> None:
    if isinstance(value, dict):
        found = json_message(value)
        assert found is None or isinstance(found, str)


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(st.text(max_size=60), max_size=30))
def test_most_specific_is_total(lines: list[str]) -> None:
    found = most_specific(lines)
    assert found is None or isinstance(found, str)
