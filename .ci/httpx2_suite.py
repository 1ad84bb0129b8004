"""The whole suite with httpx2 standing in for httpx (``httpx2.alias_httpx()``)."""

import sys

import httpx2

httpx2.alias_httpx()
import pytest  # noqa: E402

if __name__ == "__main__":
    # anyio is imported by httpx2 before pytest can rewrite it: that warning is expected here.
    sys.exit(pytest.main(["-q", "--no-cov", "-W", "ignore::pytest.PytestAssertRewriteWarning"]))
