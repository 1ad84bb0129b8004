"""Tests for the sans-I/O parsers: challenges, delays, error bodies."""

from __future__ import annotations

import calendar
import json
import math
import re
import time
from types import MappingProxyType
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from httpx_remedy._challenges import Challenge, find_challenge, parse_www_authenticate
from httpx_remedy._delays import (
    MAX_SERVER_DELAY,
    parse_http_date,
    parse_retry_after,
    ratelimit_reset,
    server_delay,
)
from httpx_remedy._error_body import EMPTY_BODY, BodyDetails, parse_error_body
from httpx_remedy._header_syntax import HeaderLookup

SPEC_DATE = 784111777.0  # Sun, 06 Nov 1994 08:49:37 GMT
NOW = 1_750_000_000.0  # 2025-06-15, a fixed "now" for the tests


class FakeHeaders:
    """A minimal HeaderLookup that, unlike httpx.Headers, accepts any text as a value."""

    def __init__(self, items: list[tuple[str, str]]) -> None:
        self.items = items

    def get_list(self, key: str, split_commas: bool = False) -> list[str]:
        values = [value for name, value in self.items if name.lower() == key.lower()]
        if not split_commas:
            return values
        return [item.strip() for value in values for item in value.split(",")]


def headers(*items: tuple[str, str]) -> HeaderLookup:
    return httpx.Headers(list(items))


def imf(stamp: float) -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(stamp))


# --------------------------------------------------------------------------------------------
# WWW-Authenticate
# --------------------------------------------------------------------------------------------


def summary(challenges: tuple[Challenge, ...]) -> list[tuple[str, dict[str, str], str | None]]:
    return [(c.scheme, dict(c.params), c.token68) for c in challenges]


def test_www_authenticate_spec_example() -> None:
    value = 'Basic realm="simple", Newauth realm="apps", type=1, title="Login to \\"apps\\""'
    assert summary(parse_www_authenticate([value])) == [
        ("Basic", {"realm": "simple"}, None),
        ("Newauth", {"realm": "apps", "type": "1", "title": 'Login to "apps"'}, None),
    ]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param(
            ['Bearer realm="a"', "Basic realm=b"],
            [("Bearer", {"realm": "a"}, None), ("Basic", {"realm": "b"}, None)],
            id="repeated-fields",
        ),
        pytest.param(
            [", ,Basic realm=x ,, , Bearer,,"],
            [("Basic", {"realm": "x"}, None), ("Bearer", {}, None)],
            id="empty-list-elements",
        ),
        pytest.param(
            ['Bearer, DPoP algs="ES256 PS256"'],
            [("Bearer", {}, None), ("DPoP", {"algs": "ES256 PS256"}, None)],
            id="bare-scheme-then-comma",
        ),
        pytest.param(
            ["Basic dXNlcjpwYXNz=="],
            [("Basic", {}, "dXNlcjpwYXNz==")],
            id="token68",
        ),
        pytest.param(
            ["Basic abc/+=  , Bearer realm=x"],
            [("Basic", {}, "abc/+="), ("Bearer", {"realm": "x"}, None)],
            id="token68-then-challenge",
        ),
        pytest.param(
            ['Bearer Realm="x", ERROR=invalid_token'],
            [("Bearer", {"realm": "x", "error": "invalid_token"}, None)],
            id="case-insensitive-names",
        ),
        pytest.param(
            ['Bearer realm = "x" ,\tscope=\t"a b"'],
            [("Bearer", {"realm": "x", "scope": "a b"}, None)],
            id="bws-around-equals",
        ),
        pytest.param(
            ['Bearer title="a\\\\b\\"c\\d"'],
            [("Bearer", {"title": 'a\\b"cd'}, None)],
            id="quoted-pairs",
        ),
        pytest.param(
            ['Bearer realm="a", realm="b"'],
            [("Bearer", {"realm": "a"}, None)],
            id="first-occurrence-wins",
        ),
        pytest.param(["Negotiate"], [("Negotiate", {}, None)], id="scheme-only"),
        pytest.param(
            ['Bearer error="invalid_token", realm="oops'],
            [("Bearer", {"error": "invalid_token"}, None)],
            id="unterminated-quote-dropped",
        ),
        pytest.param(
            ['Bearer realm="x', "Basic"],
            [("Bearer", {}, None), ("Basic", {}, None)],
            id="unterminated-quote-stays-in-its-field",
        ),
        pytest.param(
            ["Bearer error=x, realm=, scope=  "],
            [("Bearer", {"error": "x"}, None)],
            id="missing-values-dropped",
        ),
        pytest.param(
            ["Bearer realm=, error=x"],
            [("Bearer", {}, "realm=")],
            id="empty-first-value-reads-as-token68",
        ),
        pytest.param(
            ['Bearer realm=a/b, x="y"z, error=e'],
            [("Bearer", {"error": "e"}, None)],
            id="junk-after-value-dropped",
        ),
        pytest.param(
            ['Bearer error="x", @@@ "q,r", scope="s"'],
            [("Bearer", {"error": "x", "scope": "s"}, None)],
            id="stray-characters-skipped",
        ),
        pytest.param(
            ['realm="x", type = 1, Basic'],
            [("Basic", {}, None)],
            id="params-before-any-scheme",
        ),
        pytest.param(
            ['Basic abc==, realm="x"'],
            [("Basic", {}, "abc==")],
            id="params-after-token68-dropped",
        ),
        pytest.param(
            ['Basic"x", Bearer realm="r", Digest/x, y=1'],
            [("Bearer", {"realm": "r"}, None)],
            id="glued-scheme-dropped",
        ),
        pytest.param(['Basic "x'], [("Basic", {}, None)], id="quote-after-scheme"),
        pytest.param(["@@@", "", "   "], [], id="nothing-usable"),
        pytest.param(
            ['Bearer realm="\u00e9t\u00e9" \u00e9'],
            [("Bearer", {}, None)],
            id="non-ascii-junk",
        ),
    ],
)
def test_www_authenticate(
    values: list[str], expected: list[tuple[str, dict[str, str], str | None]]
) -> None:
    assert summary(parse_www_authenticate(values)) == expected


def test_www_authenticate_accepts_a_single_string_and_any_iterable() -> None:
    assert summary(parse_www_authenticate('Basic realm="x"')) == [("Basic", {"realm": "x"}, None)]
    assert len(parse_www_authenticate(iter(["Basic", "Bearer"]))) == 2


def test_www_authenticate_is_bounded() -> None:
    many = ["Basic"] * 1000
    assert len(parse_www_authenticate(many)) == 64
    huge = 'Bearer realm="' + "a" * 100_000 + '"'
    assert summary(parse_www_authenticate([huge])) == [("Bearer", {}, None)]


def test_challenge_normalises_params_and_is_read_only() -> None:
    challenge = Challenge("Bearer", {"Realm": "x", "realm": "y", "ERROR": "e"})
    assert dict(challenge.params) == {"realm": "x", "error": "e"}
    assert isinstance(challenge.params, MappingProxyType)
    assert challenge.param("REALM") == "x"
    assert challenge.param("scope") is None
    with pytest.raises(TypeError):
        challenge.params["realm"] = "z"  # type: ignore[index]


def test_challenge_equality_and_hash() -> None:
    first = Challenge("Bearer", {"a": "1", "b": "2"})
    second = Challenge("Bearer", {"b": "2", "a": "1"})
    assert first == second
    assert hash(first) == hash(second)
    assert len({first, second, Challenge("Basic", {}, "abc")}) == 2
    assert first != Challenge("Bearer", {"a": "1"})


def test_find_challenge() -> None:
    bearer = Challenge("Bearer", {"realm": "x"})
    dpop = Challenge("DPoP", {"error": "use_dpop_nonce"})
    dpop_later = Challenge("dpop", {"error": "invalid_dpop_proof"})
    basic = Challenge("Basic", {"realm": "x"})
    assert find_challenge([basic, bearer, dpop, dpop_later], "Bearer", "DPoP") is dpop
    assert find_challenge([basic, bearer, dpop], "bearer") is bearer
    assert find_challenge([basic, Challenge("BEARER", {}), bearer], "Bearer").params == {}
    assert find_challenge([basic, bearer], "DPoP") is None
    assert find_challenge([basic, bearer]) is None
    assert find_challenge(iter([dpop_later]), "DPOP") is dpop_later


def test_find_challenge_on_parsed_header() -> None:
    challenges = parse_www_authenticate(['Bearer realm="x", DPoP error="use_dpop_nonce"'])
    found = find_challenge(challenges, "Bearer", "DPoP")
    assert found is not None
    assert found.scheme == "DPoP"
    assert found.param("Error") == "use_dpop_nonce"


TOKENS = st.text(alphabet="!#$%&'*+-.^_`|~0123456789abcxyzABCXYZ", min_size=1, max_size=12)
TOKEN68 = st.from_regex(r"\A[A-Za-z0-9._~+/-]{1,12}={0,2}\Z")
HEADERISH = st.text(alphabet='BasicBearer realm="x\\y",= \t;/@é', max_size=80)


@given(st.lists(st.one_of(st.text(max_size=200), HEADERISH), max_size=5))
@example(['Bearer realm="a\\'])
@example(["Basic ="])
def test_www_authenticate_never_raises(values: list[str]) -> None:
    for challenge in parse_www_authenticate(values):
        assert re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", challenge.scheme)
        assert all(name == name.lower() for name in challenge.params)
        assert all(isinstance(value, str) for value in challenge.params.values())
        if challenge.token68 is not None:
            assert not challenge.params


def serialise(challenges: list[tuple[str, dict[str, str], str | None]]) -> str:
    rendered = []
    for scheme, params, token68 in challenges:
        if token68 is not None:
            rendered.append(f"{scheme} {token68}")
        elif params:
            pairs = (
                '{}="{}"'.format(name, value.replace("\\", "\\\\").replace('"', '\\"'))
                for name, value in params.items()
            )
            rendered.append(f"{scheme} " + ", ".join(pairs))
        else:
            rendered.append(scheme)
    return ", ".join(rendered)


CHALLENGE = st.one_of(
    st.tuples(TOKENS, st.dictionaries(TOKENS.map(str.lower), st.text(max_size=20)), st.none()),
    st.tuples(TOKENS, st.just({}), TOKEN68),
)


@given(st.lists(CHALLENGE, max_size=4))
def test_www_authenticate_round_trip(
    challenges: list[tuple[str, dict[str, str], str | None]],
) -> None:
    assert summary(parse_www_authenticate([serialise(challenges)])) == challenges


@given(
    st.lists(
        st.builds(
            Challenge,
            st.sampled_from(["Bearer", "bearer", "DPoP", "Basic"]),
            st.dictionaries(st.sampled_from(["error", "realm"]), st.text(max_size=3)),
        ),
        max_size=6,
    ),
    st.lists(st.sampled_from(["BEARER", "dpop", "Digest"]), max_size=3),
)
def test_find_challenge_properties(challenges: list[Challenge], schemes: list[str]) -> None:
    wanted = {scheme.lower() for scheme in schemes}
    matching = [c for c in challenges if c.scheme.lower() in wanted]
    found = find_challenge(challenges, *schemes)
    if not matching:
        assert found is None
    elif any("error" in c.params for c in matching):
        assert found is next(c for c in matching if "error" in c.params)
    else:
        assert found is matching[0]


# --------------------------------------------------------------------------------------------
# HTTP dates
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994",
        "  sun,   06   NOV 1994   08:49:37   gmt ",
        "SUNDAY, 06-NOV-1994 08:49:37 GMT",
        "06 Nov 1994 08:49:37 GMT",
        "Sun, 06 November 1994 08:49:37 GMT",
        "Mon, 06 Nov 1994 08:49:37 GMT",  # wrong weekday, ignored
        "Sun, 6 Nov 1994 8:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37 Z",
        "Sun, 06 Nov 1994 08:49:37",
        "Sun, 06 Nov 1994 10:49:37 +0200",
        "Sun, 06 Nov 1994 07:19:37 -0130",
        "Sun Nov 6 08:49:37 1994 GMT",
        "Nov 6 08:49:37 1994",
    ],
)
def test_parse_http_date_forms(value: str) -> None:
    assert parse_http_date(value) == SPEC_DATE
    assert parse_http_date(value, now=NOW) == SPEC_DATE


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "garbage",
        "Sun, 30 Feb 1994 08:49:37 GMT",
        "Sun, 00 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 25:49:37 GMT",
        "Sun, 06 Nov 1994 08:60:37 GMT",
        "Sun, 06 Nov 1994 08:49:61 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 06 Nov 0000 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 +2400",
        "Sun, 06 Nov 1994 08:49:37 +0060",
        "Sun, 06 Nov 1994 08:49:37 EST",
        "Sun, 06 Nov 19945 08:49:37 GMT",
        "Sun Nov 32 08:49:37 1994",
        "Sun, 06 Nov 1994 08:49:37 GMT" + " " * 1000 + "x",
        "Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994",
        "\u0660\u0666 Nov 1994 08:49:37 GMT",  # Arabic-Indic digits
        "120",
    ],
)
def test_parse_http_date_invalid(value: str) -> None:
    assert parse_http_date(value) is None


def test_parse_http_date_calendar_edges() -> None:
    assert parse_http_date("Thu, 29 Feb 2024 00:00:00 GMT") == calendar.timegm(
        (2024, 2, 29, 0, 0, 0)
    )
    assert parse_http_date("Wed, 29 Feb 2023 00:00:00 GMT") is None
    # A leap second is accepted and lands on the next minute.
    assert parse_http_date("Sun, 06 Nov 1994 08:49:60 GMT") == SPEC_DATE + 23
    assert parse_http_date("Fri, 31 Dec 9999 23:59:59 GMT") == 253402300799.0
    assert parse_http_date("Mon, 01 Jan 0001 00:00:00 GMT") == -62135596800.0


def year_start(year: int) -> float:
    return float(calendar.timegm((year, 1, 1, 0, 0, 0)))


@pytest.mark.parametrize(
    ("two_digits", "now", "year"),
    [
        # Without `now`: the POSIX pivot.
        ("94", None, 1994),
        ("69", None, 1969),
        ("68", None, 2068),
        ("00", None, 2000),
        # RFC 9110: more than 50 years in the future means the previous century.
        ("75", NOW, 2075),
        ("76", NOW, 1976),
        ("25", NOW, 2025),
        ("94", NOW, 1994),
        ("01", year_start(2099), 2101),
        ("49", year_start(2099), 2149),
        ("50", year_start(2099), 2050),
        # A `now` that is not a usable time falls back to the pivot.
        ("94", math.nan, 1994),
        ("94", math.inf, 1994),
        ("94", 1e300, 1994),
    ],
)
def test_parse_http_date_two_digit_years(two_digits: str, now: float | None, year: int) -> None:
    expected = float(calendar.timegm((year, 11, 6, 8, 49, 37)))
    assert parse_http_date(f"Sunday, 06-Nov-{two_digits} 08:49:37 GMT", now=now) == expected


def test_parse_http_date_two_digit_year_beyond_calendar() -> None:
    assert parse_http_date("Sunday, 06-Nov-30 08:49:37 GMT", now=year_start(9990)) is None
    expected = calendar.timegm((9999, 11, 6, 8, 49, 37))
    assert parse_http_date("Sunday, 06-Nov-99 08:49:37 GMT", now=year_start(9990)) == expected


DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@given(st.integers(min_value=int(year_start(1)), max_value=253402300799))
def test_parse_http_date_round_trip(stamp: int) -> None:
    t = time.gmtime(stamp)
    weekday, month = DAYS[t.tm_wday], MONTHS[t.tm_mon - 1]
    clock = f"{t.tm_hour:02}:{t.tm_min:02}:{t.tm_sec:02}"
    forms = [
        f"{weekday[:3]}, {t.tm_mday:02} {month} {t.tm_year:04} {clock} GMT",
        f"{weekday[:3]} {month} {t.tm_mday:2} {clock} {t.tm_year:04}",
    ]
    for form in forms:
        assert parse_http_date(form) == stamp
    rfc850 = f"{weekday}, {t.tm_mday:02}-{month}-{t.tm_year % 100:02} {clock} GMT"
    assert parse_http_date(rfc850, now=stamp) == stamp


@given(st.text(max_size=60), st.one_of(st.none(), st.floats()))
@example("Sun, 06 Nov 1994 08:49:37 GMT", None)
def test_parse_http_date_never_raises(value: str, now: float | None) -> None:
    result = parse_http_date(value, now=now)
    assert result is None or math.isfinite(result)


# --------------------------------------------------------------------------------------------
# Retry-After and server delays
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("0", 0.0),
        (" 7 ", 7.0),
        ("1.5", 1.5),
        ("1.", 1.0),
        (".5", 0.5),
        ("31536000", MAX_SERVER_DELAY),
        ("31536001", None),
        ("9" * 400, None),
        ("-5", None),
        ("+5", None),
        ("-0", None),
        ("nan", None),
        ("inf", None),
        ("1e3", None),
        ("1_000", None),
        ("\u0663", None),
        ("", None),
        ("soon", None),
        ("120, 120", None),
        (imf(NOW + 30), 30.0),
        (imf(NOW - 3600), 0.0),
        ("Sun, 06 Nov 1994 08:49:37 GMT", 0.0),
        ("Fri, 31 Dec 9999 23:59:59 GMT", None),
    ],
)
def test_parse_retry_after(value: str, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


def test_parse_retry_after_with_unusable_now() -> None:
    assert parse_retry_after(imf(NOW), math.nan) is None
    assert parse_retry_after(imf(NOW), -math.inf) is None
    assert parse_retry_after("5", math.nan) == 5.0


@given(st.text(max_size=60), st.floats())
@example("1" * 5000, NOW)
def test_parse_retry_after_never_raises(value: str, now: float) -> None:
    result = parse_retry_after(value, now)
    assert result is None or (math.isfinite(result) and 0.0 <= result <= MAX_SERVER_DELAY)


@given(st.integers(min_value=0, max_value=int(MAX_SERVER_DELAY)))
def test_parse_retry_after_delay_seconds(seconds: int) -> None:
    assert parse_retry_after(str(seconds), NOW) == seconds


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([("Retry-After", "120")], (120.0, "retry-after")),
        ([("retry-after-ms", "1500")], (1.5, "retry-after-ms")),
        ([("x-ms-retry-after-ms", "250.5")], (0.2505, "x-ms-retry-after-ms")),
        (
            [("Retry-After", "120"), ("x-ms-retry-after-ms", "2000"), ("retry-after-ms", "10")],
            (0.01, "retry-after-ms"),
        ),
        ([("retry-after-ms", "soon"), ("Retry-After", "3")], (3.0, "retry-after")),
        ([("retry-after-ms", "-1, 200")], (0.2, "retry-after-ms")),
        ([("retry-after-ms", "1e99"), ("retry-after-ms", "9" * 20)], None),
        ([("Retry-After", "later"), ("Retry-After", "10")], (10.0, "retry-after")),
        ([("Retry-After", imf(NOW + 60))], (60.0, "retry-after")),
        ([("Retry-After", "-1")], None),
        ([], None),
    ],
)
def test_server_delay(items: list[tuple[str, str]], expected: tuple[float, str] | None) -> None:
    assert server_delay(headers(*items), NOW) == expected
    assert server_delay(FakeHeaders(items), NOW) == expected


DELAY_HEADERS = st.sampled_from(["Retry-After", "retry-after-ms", "X-MS-Retry-After-Ms", "Other"])
NUMBERISH = st.one_of(
    st.text(max_size=30),
    st.floats().map(str),
    st.integers().map(str),
    st.integers(min_value=0, max_value=2**33).map(imf),
)


@given(st.lists(st.tuples(DELAY_HEADERS, NUMBERISH), max_size=4), st.floats())
def test_server_delay_never_raises(items: list[tuple[str, str]], now: float) -> None:
    result = server_delay(FakeHeaders(items), now)
    if result is not None:
        seconds, name = result
        assert 0.0 <= seconds <= MAX_SERVER_DELAY
        assert name in {"retry-after", "retry-after-ms", "x-ms-retry-after-ms"}


# --------------------------------------------------------------------------------------------
# Rate limits
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        pytest.param([("RateLimit", '"default";r=50;t=30')], (30.0, "ratelimit"), id="draft10"),
        pytest.param(
            [("RateLimit", '"a";r=0;t=10, "b";r=0;t=20, "c";r=5;t=100')],
            (20.0, "ratelimit"),
            id="draft10-exhausted-preferred",
        ),
        pytest.param(
            [("RateLimit", '"a";r=1;t=10, "b";t=60, "c";r=2;t=5')],
            (60.0, "ratelimit"),
            id="draft10-largest-t",
        ),
        pytest.param([("RateLimit", "default;r=0;t=5")], (5.0, "ratelimit"), id="draft10-token"),
        pytest.param(
            [("RateLimit", '"a";r=0;t=10'), ("RateLimit", '"b";r=0;t=40')],
            (40.0, "ratelimit"),
            id="draft10-repeated-field",
        ),
        pytest.param(
            [("RateLimit", 'junk junk, ("x");t=1, "a";R=0 ; T=7, "b";r=0')],
            (7.0, "ratelimit"),
            id="draft10-malformed-members-ignored",
        ),
        pytest.param(
            [("RateLimit", '"a";r=0;t=-1, "b";r=0;t=x, "c";r=0;t=99999999999, "d";r=3;t=2')],
            (2.0, "ratelimit"),
            id="draft10-bad-t-ignored",
        ),
        pytest.param(
            [("RateLimit", '"a";t=5;t=9')], (9.0, "ratelimit"), id="draft10-last-param-wins"
        ),
        pytest.param(
            [("RateLimit", '"a;b,c";r=0;t=3')], (3.0, "ratelimit"), id="draft10-quoted-separators"
        ),
        pytest.param(
            [("RateLimit", "limit=100, remaining=50, reset=5")],
            (5.0, "ratelimit"),
            id="draft07-dictionary",
        ),
        pytest.param(
            [("RateLimit", "limit=100, Reset = 7;w=1")],
            (7.0, "ratelimit"),
            id="draft07-case-and-params",
        ),
        pytest.param(
            [("RateLimit", "reset, reset=soon, reset=-1, reset=3")],
            (3.0, "ratelimit"),
            id="draft07-first-valid",
        ),
        pytest.param(
            [("RateLimit", "limit=100, reset=nope"), ("RateLimit-Reset", "12")],
            (12.0, "ratelimit-reset"),
            id="unusable-ratelimit-falls-through",
        ),
        pytest.param([("RateLimit", "")], None, id="empty-ratelimit"),
    ],
)
def test_ratelimit_structured(
    items: list[tuple[str, str]], expected: tuple[float, str] | None
) -> None:
    assert ratelimit_reset(headers(*items), NOW) == expected


def test_ratelimit_long_value_cut_at_a_member_boundary() -> None:
    # The 8 KiB limit falls inside `t=300`; a naive cut would read `t=3` and prefer it (r=0).
    value = '"x";r=1;t=1,' + " " * 8169 + '"y";r=0;t=300'
    assert ratelimit_reset(FakeHeaders([("RateLimit", value)]), NOW) == (1.0, "ratelimit")
    no_comma = '"y";r=0;t=' + "3" * 9000
    assert ratelimit_reset(FakeHeaders([("RateLimit", no_comma)]), NOW) is None


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([("RateLimit-Reset", "30")], (30.0, "ratelimit-reset")),
        ([("X-RateLimit-Reset", "2.5")], (2.5, "x-ratelimit-reset")),
        ([("X-Rate-Limit-Reset", "30")], (30.0, "x-rate-limit-reset")),
        ([("X-RateLimit-Reset", str(int(NOW) + 60))], (60.0, "x-ratelimit-reset")),
        ([("X-RateLimit-Reset", str(int(NOW * 1000) + 1500))], (1.5, "x-ratelimit-reset")),
        ([("X-RateLimit-Reset", str(int(NOW) - 60))], (0.0, "x-ratelimit-reset")),
        ([("X-RateLimit-Reset", str(int(NOW * 1000) - 60))], (0.0, "x-ratelimit-reset")),
        ([("X-RateLimit-Reset", imf(NOW + 90))], (90.0, "x-ratelimit-reset")),
        ([("X-RateLimit-Reset", imf(NOW - 90))], (0.0, "x-ratelimit-reset")),
        ([("X-RateLimit-Reset", "999999999")], None),  # a 31-year delta is garbage
        ([("X-RateLimit-Reset", "-5")], None),
        ([("X-RateLimit-Reset", "soon")], None),
        ([("X-RateLimit-Reset", "soon"), ("X-RateLimit-Reset", "4")], (4.0, "x-ratelimit-reset")),
        (
            [("X-Rate-Limit-Reset", "1"), ("X-RateLimit-Reset", "2"), ("RateLimit-Reset", "3")],
            (3.0, "ratelimit-reset"),
        ),
        ([("X-RateLimit-Reset", "nope"), ("X-Rate-Limit-Reset", "8")], (8.0, "x-rate-limit-reset")),
        ([("RateLimit-Limit", "100")], None),
    ],
)
def test_ratelimit_reset_headers(
    items: list[tuple[str, str]], expected: tuple[float, str] | None
) -> None:
    assert ratelimit_reset(headers(*items), NOW) == expected
    assert ratelimit_reset(FakeHeaders(items), NOW) == expected


def test_ratelimit_reset_with_unusable_now() -> None:
    assert ratelimit_reset(headers(("X-RateLimit-Reset", str(int(NOW)))), math.nan) is None
    assert ratelimit_reset(headers(("X-RateLimit-Reset", "5")), math.nan) == (
        5.0,
        "x-ratelimit-reset",
    )


RATELIMIT_HEADERS = st.sampled_from(
    ["RateLimit", "RateLimit-Reset", "X-RateLimit-Reset", "X-Rate-Limit-Reset", "Other"]
)
SF_ISH = st.text(alphabet='"abc;rt=0123456789., -', max_size=60)


@given(
    st.lists(st.tuples(RATELIMIT_HEADERS, st.one_of(st.text(max_size=40), SF_ISH)), max_size=4),
    st.floats(),
)
@example([("RateLimit", '"a";r=0;t=1e400')], NOW)
def test_ratelimit_reset_never_raises(items: list[tuple[str, str]], now: float) -> None:
    result = ratelimit_reset(FakeHeaders(items), now)
    if result is not None:
        seconds, name = result
        assert math.isfinite(seconds)
        assert 0.0 <= seconds <= MAX_SERVER_DELAY
        assert name in {"ratelimit", "ratelimit-reset", "x-ratelimit-reset", "x-rate-limit-reset"}


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c"]),
            st.one_of(st.none(), st.integers(0, 3)),
            st.integers(0, 1000),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_ratelimit_draft10_choice(items: list[tuple[str, int | None, int]]) -> None:
    value = ", ".join(
        f'"{name}"' + ("" if r is None else f";r={r}") + f";t={t}" for name, r, t in items
    )
    exhausted = [t for _, r, t in items if r == 0]
    expected = float(max(exhausted or [t for _, _, t in items]))
    assert ratelimit_reset(FakeHeaders([("RateLimit", value)]), NOW) == (expected, "ratelimit")


# --------------------------------------------------------------------------------------------
# Error bodies
# --------------------------------------------------------------------------------------------

JSON = "application/json"
PROBLEM = "application/problem+json"
CODE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,99}")


def body(obj: object) -> bytes:
    return json.dumps(obj).encode()


def test_empty_body_singleton() -> None:
    assert BodyDetails() == EMPTY_BODY
    assert parse_error_body(b"", None) is EMPTY_BODY
    assert parse_error_body(b" \r\n\t ", JSON) is EMPTY_BODY
    assert parse_error_body(b"\x00\x01\n\x7f", "text/plain") is EMPTY_BODY
    assert parse_error_body(body({"foo": 1}), JSON) is EMPTY_BODY


def test_rfc6749_error() -> None:
    details = parse_error_body(
        body(
            {
                "error": "invalid_grant",
                "error_description": "The code has expired",
                "error_uri": "https://as.example/errors#invalid_grant",
                "scope": "read write",
            }
        ),
        "application/json;charset=UTF-8",
    )
    assert details == BodyDetails(
        error="invalid_grant",
        error_description="The code has expired",
        error_uri="https://as.example/errors#invalid_grant",
        scope="read write",
    )


@pytest.mark.parametrize(
    ("obj", "error", "description", "message"),
    [
        pytest.param(
            {"error": {"code": 401, "message": "Bad key", "status": "UNAUTHENTICATED"}},
            "UNAUTHENTICATED",
            None,
            "Bad key",
            id="google",
        ),
        pytest.param(
            {
                "error": {
                    "message": "Incorrect API key",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "invalid_api_key",
                }
            },
            "invalid_api_key",
            None,
            "Incorrect API key",
            id="openai",
        ),
        pytest.param(
            {"type": "error", "error": {"type": "authentication_error", "message": "bad"}},
            "authentication_error",
            None,
            "bad",
            id="anthropic",
        ),
        pytest.param(
            {"error": {"code": "Not a code!", "error": "Token expired."}},
            None,
            None,
            "Token expired.",
            id="nested-prose-only",
        ),
        pytest.param(
            {"errors": [1, {"code": "bad_creds", "message": "Bad credentials"}]},
            "bad_creds",
            None,
            "Bad credentials",
            id="errors-array",
        ),
        pytest.param(
            {"errors": [{"message": "Denied", "extensions": {"code": "UNAUTHENTICATED"}}]},
            "UNAUTHENTICATED",
            None,
            "Denied",
            id="graphql",
        ),
        pytest.param(
            {"errors": [{"message": "m", "extensions": ["x"]}]},
            None,
            None,
            "m",
            id="graphql-odd-extensions",
        ),
        pytest.param(
            {"detail": [{"loc": ["body", "x"], "msg": "field required", "type": "missing"}]},
            None,
            None,
            "body.x: field required",
            id="fastapi-validation",
        ),
        pytest.param(
            {"error": [{"error": "invalid_token", "error_description": "expired"}]},
            "invalid_token",
            "expired",
            None,
            id="error-array",
        ),
        pytest.param(
            {"errors": "nope", "error": "invalid_token", "message": "Token expired"},
            "invalid_token",
            None,
            "Token expired",
            id="code-plus-top-level-message",
        ),
        pytest.param(
            {"error": "Not Found"}, None, None, "Not Found", id="prose-error-is-a-message"
        ),
        pytest.param(
            {"error": "Token expired.", "error_description": "Sign in again"},
            None,
            "Sign in again",
            "Token expired.",
            id="prose-error-with-description",
        ),
        pytest.param(
            {"error": " invalid_token\n"}, "invalid_token", None, None, id="code-stripped"
        ),
        pytest.param({"error": "x" * 101}, None, None, "x" * 101, id="overlong-code-is-a-message"),
        pytest.param(
            {"error": True, "message": "Something broke"},
            None,
            None,
            "Something broke",
            id="boolean-error",
        ),
        pytest.param(
            {"code": "rate_limited", "message": "Slow down"},
            "rate_limited",
            None,
            "Slow down",
            id="top-level-code",
        ),
        pytest.param(
            {"code": 404, "error_message": "Not here"}, None, None, "Not here", id="int-code"
        ),
        pytest.param(
            {"message": "Bad credentials", "documentation_url": "https://docs"},
            None,
            None,
            "Bad credentials",
            id="github",
        ),
        pytest.param({"detail": "Not authenticated"}, None, None, "Not authenticated", id="drf"),
    ],
)
def test_json_error_shapes(
    obj: object, error: str | None, description: str | None, message: str | None
) -> None:
    details = parse_error_body(body(obj), JSON)
    assert (details.error, details.error_description, details.message) == (
        error,
        description,
        message,
    )
    assert details.problem is None


def test_top_level_json_array() -> None:
    details = parse_error_body(body([{"code": "E1", "detail": "first"}, {"code": "E2"}]), None)
    assert details == BodyDetails(error="E1", message="first")
    assert parse_error_body(body([1, " oops ", "later"]), JSON) == BodyDetails(
        message="oops; later"
    )
    assert parse_error_body(body([1, 2]), JSON) is EMPTY_BODY
    assert parse_error_body(b"[]", None) is EMPTY_BODY
    assert parse_error_body(body([{"retry_after": 4}]), None) == BodyDetails(retry_after=4.0)


def test_problem_details_by_media_type() -> None:
    details = parse_error_body(
        body(
            {
                "type": "https://example.com/probs/out-of-credit",
                "title": "You do not have enough credit.",
                "status": "403",  # wrong type: ignored
                "detail": "Your current balance is 30, but that costs 50.",
                "instance": 5,  # wrong type: ignored
                "balance": 30,
                "accounts": ["/account/12345"],
            }
        ),
        PROBLEM,
    )
    assert details.message == "Your current balance is 30, but that costs 50."
    assert details.problem == {
        "type": "https://example.com/probs/out-of-credit",
        "title": "You do not have enough credit.",
        "detail": "Your current balance is 30, but that costs 50.",
        "balance": 30,
        "accounts": ["/account/12345"],
    }
    assert isinstance(details.problem, MappingProxyType)
    assert details.error is None


def test_problem_details_by_shape() -> None:
    details = parse_error_body(body({"title": "Forbidden", "status": 403}), JSON)
    assert details.message == "Forbidden"
    assert details.problem == {"title": "Forbidden", "status": 403}
    details = parse_error_body(body({"type": "about:blank", "detail": " why\n"}), "text/plain")
    assert details.problem == {"type": "about:blank", "detail": "why"}
    assert details.message == "why"
    assert details.error is None  # "about:blank" is never taken for an error code


@pytest.mark.parametrize(
    "obj",
    [
        {"title": "x"},
        {"type": "x", "status": True},
        {"type": 1, "status": 400, "detail": "d"},
        {"status": 400, "detail": "d"},
    ],
)
def test_not_problem_details(obj: dict[str, object]) -> None:
    assert parse_error_body(body(obj), JSON).problem is None


def test_problem_details_with_oauth_members() -> None:
    details = parse_error_body(
        body(
            {
                "type": "about:blank",
                "title": "Bad Request",
                "status": True,
                "error": "invalid_request",
                "error_description": "Missing grant_type",
            }
        ),
        PROBLEM,
    )
    assert details.error == "invalid_request"
    assert details.error_description == "Missing grant_type"
    assert details.message == "Bad Request"
    assert details.problem == {
        "type": "about:blank",
        "title": "Bad Request",
        "error": "invalid_request",
        "error_description": "Missing grant_type",
    }


def test_problem_media_type_with_nothing_usable() -> None:
    details = parse_error_body(body({"status": 500}), PROBLEM)
    assert details == BodyDetails(problem={"status": 500})
    assert parse_error_body(body({"title": ""}), PROBLEM) == BodyDetails(problem={})


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({"retry_after": 5}, 5.0),
        ({"retryAfter": 1.5}, 1.5),
        ({"retry_after_seconds": " 30 "}, 30.0),
        ({"retry_after": -1, "retryAfter": 2}, 2.0),
        ({"retry_after": True}, None),
        ({"retry_after": "soon"}, None),
        ({"retry_after": None}, None),
        ({"retry_after": 10**50}, None),
        ({"retry_after": 10**30}, None),
        ({"retry_after": MAX_SERVER_DELAY + 1}, None),
        ({"error": {"message": "slow", "retry_after": 3}}, 3.0),
        ({"retry_after": 1, "error": {"retry_after": 3}}, 1.0),
        ({"errors": [{"retryAfter": 7}]}, 7.0),
    ],
)
def test_json_retry_after(obj: dict[str, object], expected: float | None) -> None:
    assert parse_error_body(body(obj), JSON).retry_after == expected


def test_json_retry_after_non_finite() -> None:
    assert parse_error_body(b'{"retry_after": NaN}', JSON).retry_after is None
    assert parse_error_body(b'{"retry_after": Infinity}', JSON).retry_after is None
    assert parse_error_body(b'{"retry_after": 1e999}', JSON).retry_after is None


def test_json_huge_numbers_and_deep_nesting() -> None:
    digits = "9" * 5000
    details = parse_error_body(f'{{"status": {digits}, "title": "t"}}'.encode(), PROBLEM)
    assert details.problem == {"title": "t"}
    deep = parse_error_body(b"[" * 100_000, JSON)
    assert deep.message is not None
    assert deep.message.endswith("\u2026")
    assert len(deep.message) == 500


def test_json_sniffed_despite_content_type() -> None:
    details = parse_error_body(b'  {"error": "invalid_token"}', "text/html")
    assert details == BodyDetails(error="invalid_token")


def test_json_with_bom() -> None:
    details = parse_error_body(b'\xef\xbb\xbf{"error": "invalid_token"}', JSON)
    assert details.error == "invalid_token"


@pytest.mark.parametrize(
    ("raw", "content_type", "message"),
    [
        (b"Internal Server Error", JSON, "Internal Server Error"),
        (b"{not json", None, "{not json"),
        (b'"Unauthorized"', JSON, "Unauthorized"),
        (b"42", "application/vnd.api+json", "42"),
        (b"null", JSON, "null"),
        (b"<html><title>502 Bad Gateway</title></html>", JSON, "502 Bad Gateway"),
    ],
)
def test_json_content_type_fallbacks(raw: bytes, content_type: str, message: str) -> None:
    assert parse_error_body(raw, content_type) == BodyDetails(message=message)


@pytest.mark.parametrize(
    ("raw", "content_type", "expected"),
    [
        pytest.param(
            b"error=invalid_request&error_description=Bad+thing&error_uri=https%3A%2F%2Fx%2Fe"
            b"&scope=a+b&error=ignored",
            "application/x-www-form-urlencoded",
            BodyDetails(
                error="invalid_request",
                error_description="Bad thing",
                error_uri="https://x/e",
                scope="a b",
            ),
            id="form-content-type",
        ),
        pytest.param(
            b"state=xyz&error=access_denied",
            "text/plain",
            BodyDetails(error="access_denied"),
            id="form-sniffed",
        ),
        pytest.param(
            b"error=Not+Found",
            None,
            BodyDetails(message="Not Found"),
            id="form-prose-error",
        ),
        pytest.param(
            b"error=invalid_request&error_description=Bad thing",
            "application/x-www-form-urlencoded",
            BodyDetails(error="invalid_request", error_description="Bad thing"),
            id="form-content-type-with-spaces",
        ),
        pytest.param(
            b"Rate limit exceeded",
            "application/x-www-form-urlencoded",
            BodyDetails(message="Rate limit exceeded"),
            id="form-content-type-without-fields",
        ),
        pytest.param(
            b"a=b&c=d", None, BodyDetails(message="a=b&c=d"), id="form-without-error-field"
        ),
        pytest.param(
            b"error=oops and more", None, BodyDetails(message="error=oops and more"), id="prose"
        ),
    ],
)
def test_form_bodies(raw: bytes, content_type: str | None, expected: BodyDetails) -> None:
    assert parse_error_body(raw, content_type) == expected


@pytest.mark.parametrize(
    ("raw", "content_type", "message"),
    [
        pytest.param(
            b"<!DOCTYPE html><html><head><TITLE lang='en'> 403 &amp; Forbidden </title></head>"
            b"<body><h1>Other</h1></body></html>",
            "text/html; charset=utf-8",
            "403 & Forbidden",
            id="title",
        ),
        pytest.param(
            b"<html><body><h1 class='x'><span>404</span> Not <b>Found</b></h1></body></html>",
            "text/html",
            "404 Not Found",
            id="h1",
        ),
        pytest.param(
            b"<html><head><title> </title></head><h1>Teapot</h1>", None, "Teapot", id="empty-title"
        ),
        pytest.param(b"<title>Oops", None, "Oops", id="unclosed-title"),
        pytest.param(b"<title>a &lt;b&gt; c</title>", None, "a <b> c", id="entities-after-tags"),
        pytest.param(
            b"<title>&#00000065;&#0000000000;&#" + b"9" * 5000 + b";&#65</title>",
            None,
            "A\ufffd\ufffdA",
            id="long-character-references",
        ),
        pytest.param(
            b"<html><head><style>p {}</style><script>var x = '<p>';</script></head>"
            b"<body><div>Access <b>denied</b></div><p>more</p></body></html>",
            "text/html",
            "Access denied",
            id="first-visible-line",
        ),
        pytest.param(b"<p>Hi</p><script>alert(1)", None, "Hi", id="unclosed-script"),
        pytest.param(b"<script>only code", None, None, id="only-script"),
        pytest.param(b"<br/><hr>", "text/html", None, id="only-tags"),
        pytest.param(b"<<<<", None, "<<<<", id="not-really-markup"),
        pytest.param(b"Forbidden\nmore", "text/html", "Forbidden", id="html-type-plain-body"),
        pytest.param(
            b"<error>Token expired</error>", "application/xml", "Token expired", id="xml-no-code"
        ),
    ],
)
def test_html_bodies(raw: bytes, content_type: str | None, message: str | None) -> None:
    details = parse_error_body(raw, content_type)
    assert details == BodyDetails(message=message)


@pytest.mark.parametrize(
    ("raw", "content_type", "expected"),
    [
        pytest.param(
            b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
            b"<Message>Access Denied</Message><RequestId>X</RequestId></Error>",
            "application/xml",
            BodyDetails(error="AccessDenied", message="Access Denied"),
            id="s3",
        ),
        pytest.param(
            b'<?xml version="1.0"?><Error><Code>AuthenticationFailed</Code></Error>',
            None,
            BodyDetails(error="AuthenticationFailed"),
            id="sniffed-code-only",
        ),
        pytest.param(
            b"<Error><Code>Not Found</Code></Error>",
            "text/xml",
            BodyDetails(message="Not Found"),
            id="prose-code",
        ),
        pytest.param(
            b"<feed><title>Not an error</title></feed>",
            "application/atom+xml",
            BodyDetails(message="Not an error"),
            id="xml-falls-back-to-markup-text",
        ),
    ],
)
def test_xml_bodies(raw: bytes, content_type: str | None, expected: BodyDetails) -> None:
    assert parse_error_body(raw, content_type) == expected


@pytest.mark.parametrize(
    ("raw", "content_type", "message"),
    [
        (b"\n\n   Bad Gateway  \nmore", "text/plain", "Bad Gateway"),
        (b"\x00\x01\n\t\nreal text", None, "real text"),
        (b"upstream\tconnect\r\nerror", None, "upstream connect"),
        (b"a\x00b\x1bc\x7fd\xc2\x9fe", None, "a b c d e"),
        (b"caf\xc3\xa9 \xff\xfe", None, "caf\u00e9 \ufffd\ufffd"),
        (b"caf\xe9", "text/plain; charset=iso-8859-1", "caf\u00e9"),
        (b"caf\xe9", 'text/plain; format=flowed; charset="latin-1"', "caf\u00e9"),
        ("caf\u00e9".encode("utf-16"), "text/plain;charset=UTF-16", "caf\u00e9"),
        (b"caf\xe9", "text/plain; charset=no-such-codec", "caf\ufffd"),
        (b"caf\xe9", "text/plain; charset=", "caf\ufffd"),
        (b"caf\xe9", "text/plain; charset=base64", "caf\ufffd"),
        (b"xn--caf", "text/plain; charset=punycode", "xn--caf"),
        (b"a\\u0041", "text/plain; charset=unicode_escape", "a\\u0041"),
        (b"plain", "text/plain; charset=utf\x008", "plain"),
    ],
)
def test_plain_text_and_decoding(raw: bytes, content_type: str | None, message: str) -> None:
    assert parse_error_body(raw, content_type) == BodyDetails(message=message)


def test_strings_are_cut() -> None:
    details = parse_error_body(b"x" * 200_000, None)
    assert details.message == "x" * 499 + "\u2026"
    spaced = parse_error_body(("word " * 200).encode(), None)
    assert spaced.message is not None
    assert spaced.message.endswith("word\u2026")
    assert len(spaced.message) <= 500


def test_lone_surrogates_are_replaced() -> None:
    details = parse_error_body(b'{"error_description": "a\\ud800b", "error_uri": "x\\udfff"}', None)
    assert details.error_description == "a\ufffdb"
    assert details.error_uri == "x\ufffd"


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("https://as.example/e", "https://as.example/e"),
        (" https://as.example/e ", "https://as.example/e"),
        ("https://as.example/a b", None),
        ("https://as.example/\u00a0x", None),
        ("https://as.example/\x07", None),
        ("https://as.example/" + "a" * 500, None),
        ("", None),
        (42, None),
    ],
)
def test_error_uri(uri: object, expected: str | None) -> None:
    details = parse_error_body(body({"error": "invalid_request", "error_uri": uri}), JSON)
    assert details.error_uri == expected


def test_body_details_wraps_problem_mapping() -> None:
    source = {"title": "x"}
    details = BodyDetails(problem=source)
    source["title"] = "changed"
    assert details.problem == {"title": "x"}
    assert isinstance(details.problem, MappingProxyType)


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (b"<" + b"a" * 65_000, "text/html"),
        (b"<title" + b" " * 65_000, None),
        (b"<title>" * 9000, None),
        (b"<script " * 8000, None),
        (b"<?xml" + b"<Code" * 12000, None),
        (b"\n" * 65_000 + b"end", None),
        (b"{" * 65_000, JSON),
        (b'{"a": "' + b"\\" * 65_000, JSON),
        (b"error=" + b"&error=" * 9000, None),
        (b"&#" + b"9" * 65_000 + b";", "text/html"),
    ],
)
@pytest.mark.timeout(10)  # a hang guard against catastrophic backtracking, not a benchmark
def test_hostile_bodies_are_cheap(raw: bytes, content_type: str | None) -> None:
    check_details(parse_error_body(raw, content_type))


@pytest.mark.timeout(10)  # a hang guard against catastrophic backtracking, not a benchmark
def test_hostile_headers_are_cheap() -> None:
    hostile = [
        'Bearer realm="' + "\\" * 8000,
        "Bearer " + "a=" * 4000,
        "Bearer " + ", " * 4000,
        "Bearer " + '"' * 8000,
        "a" * 8000 + "=",
        " " * 8000,
    ]
    assert isinstance(parse_www_authenticate(hostile), tuple)
    for value in hostile:
        # None of them is a date, a delay or a reset: each parser says so, and quickly.
        assert parse_http_date(value) is None
        assert parse_retry_after(value, NOW) is None
        headers = FakeHeaders([("RateLimit", value), ("X-RateLimit-Reset", value)])
        assert ratelimit_reset(headers, NOW) is None
        assert (
            server_delay(FakeHeaders([("Retry-After", value), ("retry-after-ms", value)]), NOW)
            is None
        )


def check_details(details: BodyDetails) -> None:
    """The invariants every parse_error_body result satisfies."""
    assert isinstance(details, BodyDetails)
    for text in (
        details.error,
        details.error_description,
        details.error_uri,
        details.scope,
        details.message,
    ):
        if text is not None:
            assert text
            assert len(text) <= 500
            assert " ".join(text.split()) == text
            assert not re.search(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]", text)
    if details.error is not None:
        assert CODE_RE.fullmatch(details.error)
    if details.error_uri is not None:
        assert " " not in details.error_uri
    if details.retry_after is not None:
        assert math.isfinite(details.retry_after)
        assert 0.0 <= details.retry_after <= MAX_SERVER_DELAY
    if details.problem is not None:
        assert isinstance(details.problem, MappingProxyType)
        for member in ("type", "title", "detail", "instance"):
            assert isinstance(details.problem.get(member, ""), str)
        status = details.problem.get("status", 0)
        assert isinstance(status, int)
        assert not isinstance(status, bool)


CONTENT_TYPES = st.one_of(
    st.none(),
    st.text(max_size=40),
    st.sampled_from(
        [
            JSON,
            PROBLEM,
            "application/x-www-form-urlencoded",
            "text/html; charset=latin-1",
            "application/xml",
            "text/plain; charset=utf-16",
            "text/plain; charset=idna",
        ]
    ),
)
JSON_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=20),
        st.sampled_from(["invalid_token", "Not Found", "https://x/y", "about:blank", "5"]),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(
                st.sampled_from(
                    [
                        "error",
                        "error_description",
                        "error_uri",
                        "scope",
                        "message",
                        "code",
                        "status",
                        "type",
                        "title",
                        "detail",
                        "instance",
                        "errors",
                        "extensions",
                        "retry_after",
                        "retryAfter",
                    ]
                ),
                st.text(max_size=5),
            ),
            children,
            max_size=6,
        ),
    ),
    max_leaves=20,
)


@given(st.binary(max_size=300), CONTENT_TYPES)
@example(b"\xef\xbb\xbf", None)
def test_parse_error_body_never_raises_on_bytes(raw: bytes, content_type: str | None) -> None:
    check_details(parse_error_body(raw, content_type))


@given(st.text(max_size=300), CONTENT_TYPES)
def test_parse_error_body_never_raises_on_text(text: str, content_type: str | None) -> None:
    check_details(parse_error_body(text.encode("utf-8", "surrogatepass"), content_type))


@given(JSON_VALUES, CONTENT_TYPES)
def test_parse_error_body_never_raises_on_json(value: object, content_type: str | None) -> None:
    check_details(parse_error_body(json.dumps(value).encode(), content_type))


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["error", "error_description", "error_uri", "scope", "x"]),
            st.text(max_size=20),
        ),
        max_size=5,
    )
)
def test_parse_error_body_never_raises_on_forms(fields: list[tuple[str, str]]) -> None:
    raw = urlencode(fields).encode()
    check_details(parse_error_body(raw, "application/x-www-form-urlencoded"))
    check_details(parse_error_body(raw, None))
