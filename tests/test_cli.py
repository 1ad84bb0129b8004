"""The command line: ``httpx-remedy explain CODE`` and ``httpx-remedy catalog [--json]``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import httpx_remedy as remedy
from httpx_remedy import catalog
from httpx_remedy._cli import main

ALL_CODES = list(catalog)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def console_script() -> str | None:
    """The ``httpx-remedy`` script installed next to this Python, if any."""
    folder = Path(sys.executable).parent
    return shutil.which("httpx-remedy", path=str(folder))


@pytest.mark.parametrize("code", ["429", 429])
def test_explain_a_status(code: object, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "explain", str(code))
    entry = catalog[429]
    assert status == 0
    assert err == ""
    assert out.startswith("429 Too Many Requests")
    assert entry.description in out
    assert entry.fix in out
    for cause in entry.causes:
        assert cause in out
    assert "TooManyRequests" in out
    assert str(entry.remedy) in out


@pytest.mark.parametrize("code", ["invalid_grant", "INVALID_GRANT"])
def test_explain_an_oauth_code(code: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "explain", code)
    entry = catalog["invalid_grant"]
    assert status == 0
    assert out.startswith("invalid_grant")
    assert entry.description in out
    assert entry.fix in out
    assert "InvalidGrant" in out
    assert "re-authenticate" in out


@pytest.mark.parametrize("code", ALL_CODES, ids=str)
def test_explain_every_code(code: int | str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "explain", str(code))
    entry = catalog[code]
    assert status == 0
    assert err == ""
    assert entry.fix in out
    assert entry.description in out


@pytest.mark.parametrize("code", ALL_CODES, ids=str)
def test_the_class_explain_names_is_importable(
    code: int | str, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = run(capsys, "explain", str(code))
    line = next(line for line in out.splitlines() if "Raised as:" in line)
    name = line.split("httpx_remedy.", 1)[1].split()[0]
    assert getattr(remedy, name, None) is catalog[code].exception


@pytest.mark.parametrize(
    ("typo", "suggestion"),
    [
        ("invalid_grnt", "invalid_grant"),
        ("invalid_tokn", "invalid_token"),
        ("slow-down", "slow_down"),
    ],
)
def test_explain_an_unknown_code_suggests(
    typo: str, suggestion: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, "explain", typo)
    assert status == 2
    assert out == ""
    assert typo in err
    assert suggestion in err
    assert "httpx-remedy catalog" in err


@pytest.mark.parametrize("unknown", ["999", "600", "099", "zzzzzzzzzz"])
def test_explain_an_unknown_code_without_suggestion(
    unknown: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, "explain", unknown)
    assert status == 2
    assert out == ""
    assert "unknown code" in err


def test_catalog_lists_every_code(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "catalog")
    assert status == 0
    assert err == ""
    firsts = [line.split()[0] for line in out.splitlines() if line.strip()]
    assert sorted(firsts) == sorted(str(code) for code in ALL_CODES)
    for code in ALL_CODES:
        line = next(line for line in out.splitlines() if line.split()[0] == str(code))
        assert catalog[code].exception.__name__ in line
        assert catalog[code].title in line


def test_catalog_json(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "catalog", "--json")
    assert status == 0
    assert err == ""
    data = json.loads(out)
    assert isinstance(data, list)
    assert [row["code"] for row in data] == [str(e.code) for e in catalog.statuses()] + [
        e.code for e in catalog.oauth_codes()
    ]
    assert {row["code"] for row in data} == {str(code) for code in ALL_CODES}
    for row in data:
        entry = catalog[row["code"]]
        assert row["fix"] == entry.fix
        assert row["description"] == entry.description
        assert row["causes"] == list(entry.causes)
        assert row["title"] == entry.title
        assert row["exception"] == entry.exception.__name__
        assert row["remedy"] == entry.remedy.value
        assert row["status"] == entry.status


@pytest.mark.parametrize("argv", [[], ["explain"], ["frobnicate"], ["catalog", "--yaml"]])
def test_bad_usage_exits_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "usage" in capsys.readouterr().err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "explain" in out
    assert "catalog" in out


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONWARNINGS"] = "error"
    return env


@pytest.mark.integration  # a process of its own
def test_python_dash_m() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "httpx_remedy", "explain", "401"],
        capture_output=True,
        text=True,
        timeout=60,
        env=subprocess_env(),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("401 Unauthorized")
    assert catalog[401].fix in result.stdout


@pytest.mark.integration  # a process of its own
def test_python_dash_m_unknown_code() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "httpx_remedy", "explain", "invalid_grnt"],
        capture_output=True,
        text=True,
        timeout=60,
        env=subprocess_env(),
        check=False,
    )
    assert result.returncode == 2
    assert "invalid_grant" in result.stderr


@pytest.mark.skipif(console_script() is None, reason="httpx-remedy script not installed here")
@pytest.mark.integration  # a process of its own
def test_console_script() -> None:
    script = console_script()
    assert script is not None
    result = subprocess.run(
        [script, "catalog", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=subprocess_env(),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert {row["code"] for row in json.loads(result.stdout)} == {str(c) for c in ALL_CODES}


@pytest.mark.integration  # a process of its own
def test_a_closed_pipe_ends_quietly() -> None:
    """`httpx-remedy catalog --json | head -c 1`: no BrokenPipeError traceback."""
    import subprocess
    import sys

    process = subprocess.Popen(
        [sys.executable, "-m", "httpx_remedy", "catalog", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    process.stdout.read(1)
    process.stdout.close()
    _, err = process.communicate(timeout=30)
    assert process.returncode == 0
    assert b"Traceback" not in err
    assert b"BrokenPipe" not in err
