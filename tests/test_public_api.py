"""The public surface: ``__all__``, docstrings, exported exceptions, the ``py.typed`` marker."""

from __future__ import annotations

import ast
import importlib
import inspect
import pickle
import re
import traceback
import typing
from pathlib import Path

import httpx
import pytest

import httpx_remedy
from httpx_remedy import _catalog_errors, _exceptions

PUBLIC = list(httpx_remedy.__all__)


def public_exception_classes() -> list[str]:
    """Every exception class the library defines (in ``_exceptions`` and ``_catalog_errors``)
    without a leading underscore."""
    return sorted(
        name
        for module in (_exceptions, _catalog_errors)
        for name, obj in vars(module).items()
        if inspect.isclass(obj)
        and issubclass(obj, (httpx_remedy.HTTPError, httpx_remedy.RemedyError))
        and not name.startswith("_")
    )


def test_all_is_sorted() -> None:
    assert sorted(PUBLIC) == PUBLIC


def test_all_has_no_duplicates() -> None:
    assert len(set(PUBLIC)) == len(PUBLIC)


@pytest.mark.parametrize("name", PUBLIC)
def test_every_name_is_importable(name: str) -> None:
    module = importlib.import_module("httpx_remedy")
    assert hasattr(module, name)
    namespace: dict[str, object] = {}
    exec(f"from httpx_remedy import {name}", namespace)
    assert namespace[name] is getattr(httpx_remedy, name)


@pytest.mark.parametrize(
    "name", [n for n in PUBLIC if inspect.isclass(getattr(httpx_remedy, n, None))]
)
def test_every_class_has_a_docstring(name: str) -> None:
    doc = inspect.getdoc(getattr(httpx_remedy, name))
    assert doc
    assert doc.strip()


@pytest.mark.parametrize(
    "name",
    [n for n in PUBLIC if inspect.isfunction(getattr(httpx_remedy, n, None))],
)
def test_every_function_has_its_own_docstring(name: str) -> None:
    function = getattr(httpx_remedy, name)
    assert function.__doc__
    assert function.__doc__.strip()


def test_the_surface_has_functions_and_classes() -> None:
    functions = {n for n in PUBLIC if inspect.isfunction(getattr(httpx_remedy, n, None))}
    assert {"raise_for_status", "araise_for_status", "wrap", "attempts_of"} <= functions
    assert "catalog" in PUBLIC
    assert isinstance(httpx_remedy.catalog, httpx_remedy.Catalog)
    assert isinstance(httpx_remedy.__version__, str)


def test_module_has_a_docstring() -> None:
    assert httpx_remedy.__doc__
    assert httpx_remedy.__doc__.strip()


def test_the_exception_modules_are_found() -> None:
    assert len(public_exception_classes()) == 61


@pytest.mark.parametrize("name", public_exception_classes())
def test_every_public_exception_class_is_exported(name: str) -> None:
    assert name in PUBLIC
    defined = getattr(_exceptions, name, None) or getattr(_catalog_errors, name)
    assert getattr(httpx_remedy, name, None) is defined


def test_every_catalog_class_is_exported() -> None:
    missing = sorted(
        {
            entry.exception.__name__
            for entry in httpx_remedy.catalog.values()
            if getattr(httpx_remedy, entry.exception.__name__, None) is not entry.exception
        }
    )
    assert missing == []


def test_py_typed_exists() -> None:
    marker = Path(httpx_remedy.__file__).parent / "py.typed"
    assert marker.is_file()


def test_testing_module_is_public() -> None:
    from httpx_remedy import testing

    assert sorted(testing.__all__) == [
        "ApiCall",
        "OAuthServer",
        "TokenCall",
        "error_response",
        "no_wait",
        "use_clock",
    ]
    for name in testing.__all__:
        assert getattr(testing, name).__doc__


def test_every_public_name_is_used_in_a_runnable_example() -> None:
    """Each public name is documented by a script in examples/ that the suite runs."""
    from pathlib import Path

    import httpx_remedy

    examples = Path(__file__).resolve().parent.parent / "examples"
    text = "\n".join(path.read_text() for path in examples.glob("*.py"))
    assert (examples / "catalog_and_cli.py").exists()

    def documented(name: str) -> bool:
        if name in text:
            return True
        # The typed errors are one family, all shown by catalog_and_cli.py (it prints the
        # catalog, each code with its class) and caught in examples by their common bases.
        member = getattr(httpx_remedy, name)
        return isinstance(member, type) and issubclass(member, httpx_remedy.HTTPError)

    missing = [n for n in httpx_remedy.__all__ if n != "__version__" and not documented(n)]
    assert not missing, f"no example uses {missing}"


def test_public_names_report_the_package_as_their_module() -> None:
    """A traceback shows ``httpx_remedy.NotFound``, not the private module it is defined in."""
    for name in PUBLIC:
        member = getattr(httpx_remedy, name)
        if inspect.isclass(member) or inspect.isfunction(member):
            assert member.__module__ == "httpx_remedy", name
    request = httpx.Request("GET", "https://api.example.com/")
    rejected = httpx.Response(
        401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}, request=request
    )
    with pytest.raises(httpx_remedy.InvalidToken) as caught:
        httpx_remedy.raise_for_status(rejected)
    combined = type(caught.value)
    assert repr(combined) == "<class 'httpx_remedy.InvalidToken[Unauthorized]'>"
    shown = "".join(traceback.format_exception_only(type(caught.value), caught.value))
    assert shown.startswith("httpx_remedy.InvalidToken[Unauthorized]: 401 Unauthorized")
    copy = pickle.loads(pickle.dumps(caught.value))
    assert type(copy) is combined
    assert pickle.loads(pickle.dumps(httpx_remedy.NotFound)) is httpx_remedy.NotFound
    assert pickle.loads(pickle.dumps(httpx_remedy.Remedy.BACK_OFF)) is httpx_remedy.Remedy.BACK_OFF


@pytest.mark.parametrize(
    "callable_",
    [httpx_remedy.RemedyTransport, httpx_remedy.AsyncRemedyTransport, httpx_remedy.wrap],
)
def test_the_default_retry_policy_reads_well_in_the_signature(callable_: object) -> None:
    default = inspect.signature(callable_).parameters["retry"].default  # type: ignore[arg-type]
    assert repr(default) == "Retry(deadline=120.0, shrinks_timeouts=False)"
    assert default == httpx_remedy.Retry()


def test_a_retry_repr_shows_what_differs_from_the_defaults() -> None:
    assert repr(httpx_remedy.Retry(max_attempts=5, statuses=[503], deadline=30)) == (
        "Retry(max_attempts=5, statuses=frozenset({503}), deadline=30, shrinks_timeouts=True)"
    )
    unpickled = pickle.loads(pickle.dumps(httpx_remedy.Retry(budget=None)))
    assert repr(unpickled) == "Retry(deadline=120.0, shrinks_timeouts=False, budget=None)"


def test_the_transports_docstrings_are_literals_in_the_source() -> None:
    """What editors and doc tools read is what ``help()`` shows: nothing glued on at run time."""
    from httpx_remedy import _transport

    source = ast.parse(Path(_transport.__file__).read_text())
    literal = {
        node.name: ast.get_docstring(node, clean=False)
        for node in source.body
        if isinstance(node, ast.ClassDef)
    }
    for transport in (httpx_remedy.RemedyTransport, httpx_remedy.AsyncRemedyTransport):
        assert transport.__doc__ == literal[transport.__name__]
    assert "credentials:" in (literal["RemedyTransport"] or "")


def test_credentials_take_the_grants_and_the_token_sources_only() -> None:
    from httpx_remedy import _transport

    assert typing.get_args(_transport.SyncCredentials) == (
        httpx_remedy.ClientCredentials,
        httpx_remedy.RefreshToken,
        httpx_remedy.DeviceCode,
        httpx_remedy.TokenSource,
    )


TYPED = """
import httpx
import httpx_remedy as remedy

remedy.Retry(statuses={429, 503})
remedy.Retry(statuses=[429, 503])
remedy.wrap(httpx.Client(), retry=None, raise_errors=False)
remedy.wrap(httpx.AsyncClient(), credentials=remedy.ClientCredentials("https://a/t", "id", "s"))
remedy.wrap(httpx.Client(), retyr=None)  # line 9: a typo
"""


@pytest.mark.integration  # runs mypy: seconds on a cold cache
def test_the_public_signatures_type_check(tmp_path: Path) -> None:
    """Any iterable of statuses is a Retry's; a typo in wrap()'s keywords fails in mypy."""
    from mypy import api

    (tmp_path / "typed.py").write_text(TYPED)
    cache = Path(__file__).resolve().parent.parent / ".mypy_cache" / "tests"
    out, err, _ = api.run(["--strict", "--cache-dir", str(cache), str(tmp_path / "typed.py")])
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert len(errors) == 2, out + err  # the typo, reported twice (the keyword, the overload)
    assert all("typed.py:9:" in line for line in errors), out
    assert 'Unexpected keyword argument "retyr"' in out


def test_the_exception_tree_names_every_exception_and_nothing_else() -> None:
    """The tree in ``_exceptions``' docstring is whole (RemedyError's family too) and true."""
    doc = _exceptions.__doc__ or ""
    drawn = re.findall(r"[├└]── ([A-Za-z.]+)", doc)
    assert drawn[0] == "httpx.HTTPStatusError"
    named = set(drawn[1:])
    assert named == set(public_exception_classes())
    for name in named:
        assert issubclass(getattr(httpx_remedy, name), Exception)
    assert "RetryBudgetExhausted" not in doc


ROOT = Path(__file__).resolve().parent.parent


def test_the_repository_ships_its_license_and_says_where_it_lives() -> None:
    license_text = (ROOT / "LICENSE").read_text()
    assert license_text.startswith("MIT License\n\nCopyright (c) 2026 httpx-remedy developers\n")
    project = (ROOT / "pyproject.toml").read_text()
    assert 'license-files = ["LICENSE"]' in project
    urls = project[project.index("[project.urls]") :].split("\n\n")[0]
    for name in ("Homepage", "Documentation", "Source", "Changelog", "Issues"):
        assert f'\n{name} = "https://github.com/httpx-remedy/httpx-remedy' in urls, name


def test_contributing_describes_every_module() -> None:
    """The layout in CONTRIBUTING.md stays true: each module of the package has its paragraph."""
    text = (ROOT / "CONTRIBUTING.md").read_text()
    package = ROOT / "src" / "httpx_remedy"
    for path in sorted(package.rglob("*.py")):
        name = path.relative_to(package).as_posix()
        if name == "__main__.py":
            continue
        assert f"**`{name}`**" in text, f"CONTRIBUTING.md does not describe {name}"
