"""The public surface: ``__all__``, docstrings, exported exceptions, the ``py.typed`` marker."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

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
    assert len(public_exception_classes()) == 57


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
