"""node-oidc-provider for the integration tests: ``tests/oidc/server.mjs`` on 127.0.0.1.

The session fixture ``oidc`` (import ``oidc_rig_fixture`` into a test module) starts one rig for
the whole run; :func:`start_oidc_rig` starts another with other options (a rig of its own for a
test that needs, say, a real-time device polling spacing). Without ``node`` the tests are skipped,
unless ``HTTPX_REMEDY_REQUIRE_OIDC=1`` (CI sets it): then they fail. ``tests/oidc/node_modules``
is installed with ``npm ci`` on first use when it is missing or does not hold the pinned version.

The process runs in a session of its own and exits when its stdin closes: stopping the rig,
or the death of the test process however it dies, leaves no orphan.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import selectors
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

RIG_DIR = Path(__file__).parent / "oidc"
SCRIPT = RIG_DIR / "server.mjs"
REQUIRE_ENV = "HTTPX_REMEDY_REQUIRE_OIDC"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
#: oidc-provider 9 needs URL.parse and crypto.hash: Node 20.18 or newer.
MIN_NODE = (20, 18)
STARTUP_SECONDS = 30.0


class RigUnavailable(RuntimeError):
    """node, npm or the pinned oidc-provider is not to be had on this machine."""


@dataclass
class OIDCRig:
    """A running ``server.mjs``: its URLs, its clients, and the test's levers on it.

    Clients (``secrets[client_id]``; ``None`` for a public client):

    - ``basic``: ``client_secret_basic``, a secret that needs RFC 6749 §2.3.1 form-encoding;
    - ``post``: ``client_secret_post``;
    - ``jwt``: ``private_key_jwt`` with :attr:`rsa_key` (RS256) or :attr:`ec_key` (ES256);
    - ``device``: public (``none``), device_code and refresh_token grants only;
    - ``dpop``: ``client_secret_basic``, every token must be DPoP-bound.

    All but ``device`` may use client_credentials, refresh_token and the device grant. Scopes:
    ``read`` and ``write`` (the resource's), ``openid`` and ``offline_access`` (a refresh token
    with the device grant); ``admin`` is known and allowed to no client (``invalid_scope``).
    An unknown scope is dropped silently, as RFC 6749 §3.3 allows.
    """

    issuer: str
    port: int
    #: The resource indicator (RFC 8707) and audience of every access token: ``{issuer}/api``.
    resource: str
    secrets: dict[str, str | None]
    rsa_key: dict[str, Any]
    ec_key: dict[str, Any]
    process: subprocess.Popen[bytes] = field(repr=False)
    _http: httpx.Client = field(repr=False, default_factory=lambda: httpx.Client(timeout=10))

    @property
    def token_url(self) -> str:
        return f"{self.issuer}/token"

    @property
    def device_authorization_url(self) -> str:
        return f"{self.issuer}/device/auth"

    @property
    def revocation_url(self) -> str:
        return f"{self.issuer}/token/revocation"

    @property
    def introspection_url(self) -> str:
        return f"{self.issuer}/token/introspection"

    @property
    def resource_url(self) -> str:
        """A protected resource that needs scope ``read`` (any method)."""
        return f"{self.issuer}/api/resource"

    @property
    def write_url(self) -> str:
        """A protected resource that needs scope ``write`` (any method)."""
        return f"{self.issuer}/api/write"

    def _rig(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self._http.request(method, f"{self.issuer}/rig/{path}", json=body)
        if response.status_code != 200:
            raise AssertionError(f"/rig/{path}: {response.status_code} {response.text}")
        return response.json()

    def approve(self, user_code: str, account_id: str = "alice") -> None:
        """The user enters ``user_code`` and consents to everything the device asked for."""
        self._rig("POST", "device/approve", {"user_code": user_code, "account_id": account_id})

    def deny(self, user_code: str) -> None:
        """The user refuses: the next poll answers ``access_denied``."""
        self._rig("POST", "device/deny", {"user_code": user_code})

    def slow_down(self, user_code: str, times: int = 1) -> None:
        """The next ``times`` polls for this code answer ``slow_down``, however they are paced."""
        self._rig("POST", "device/slow-down", {"user_code": user_code, "times": times})

    def expire(self, user_code: str) -> None:
        """The device code expires now: the next poll answers ``expired_token``."""
        self._rig("POST", "device/expire", {"user_code": user_code})

    def revoke(self, client_id: str) -> int:
        """Destroy every access token issued to ``client_id`` so far; returns how many."""
        return int(self._rig("POST", "revoke", {"client_id": client_id})["revoked"])

    def dpop_nonce(self) -> str:
        """A nonce the token endpoint and the resource accept in a DPoP proof right now (a
        client learns it from a ``use_dpop_nonce`` answer; this spares a round trip)."""
        return str(self._rig("GET", "dpop-nonce")["nonce"])

    def requests(self) -> list[dict[str, Any]]:
        """What reached ``/token``, ``/device/auth`` and ``/api/*``, oldest first: ``method``,
        ``path``, ``grant_type``, ``authorization`` (the scheme), ``dpop`` (a proof was sent),
        ``status``, ``error`` and ``dpop_nonce`` (the ``DPoP-Nonce`` answered), when present."""
        return list(self._rig("GET", "requests"))

    def forget_requests(self) -> None:
        self._rig("DELETE", "requests")

    def device_authorization(
        self, client_id: str = "device", scope: str = "offline_access read", **extra: str
    ) -> dict[str, Any]:
        """POST to the device authorization endpoint (RFC 8628 §3.1) by hand."""
        data = {"client_id": client_id, "scope": scope, **extra}
        secret = self.secrets.get(client_id)
        auth = (client_id, secret) if secret else None
        if auth:
            del data["client_id"]
        response = self._http.post(self.device_authorization_url, data=data, auth=auth)
        response.raise_for_status()
        return dict(response.json())

    def device_login(
        self, client_id: str = "device", scope: str = "offline_access read"
    ) -> dict[str, Any]:
        """A whole device login by hand (codes, the user's approval, one poll): the token
        response, with a refresh token when ``offline_access`` is asked for."""
        codes = self.device_authorization(client_id, scope)
        self.approve(codes["user_code"])
        data = {"grant_type": DEVICE_GRANT, "device_code": codes["device_code"]}
        secret = self.secrets.get(client_id)
        if not secret:
            data["client_id"] = client_id
        auth = (client_id, secret) if secret else None
        response = self._http.post(self.token_url, data=data, auth=auth)
        if response.status_code != 200:
            raise AssertionError(f"device login: {response.status_code} {response.text}")
        return dict(response.json())

    def stop(self) -> None:
        """Stop the rig and its process group, and reap it."""
        self._http.close()
        stop_process(self.process)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Close its stdin (it exits by itself), then SIGTERM and SIGKILL its process group."""
    with contextlib.suppress(OSError):
        if process.stdin is not None:
            process.stdin.close()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            try:
                process.wait(timeout=5)
                break
            except subprocess.TimeoutExpired:
                continue
    if process.stdout is not None:
        process.stdout.close()


def node_path() -> str:
    """The ``node`` to run, or :class:`RigUnavailable` saying why there is none."""
    node = shutil.which("node")
    if node is None:
        raise RigUnavailable("node is not installed (apt-get install nodejs npm)")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
    found = re.match(r"v(\d+)\.(\d+)", version.stdout.strip())
    if found is None or (int(found[1]), int(found[2])) < MIN_NODE:
        raise RigUnavailable(
            f"node {version.stdout.strip() or '?'} is older than "
            f"{MIN_NODE[0]}.{MIN_NODE[1]}, which oidc-provider 9 needs"
        )
    return node


_install_lock = threading.Lock()


def ensure_installed() -> None:
    """``npm ci`` in ``tests/oidc`` unless node_modules holds the pinned oidc-provider."""
    pinned = json.loads((RIG_DIR / "package.json").read_text())["dependencies"]["oidc-provider"]
    installed = RIG_DIR / "node_modules" / "oidc-provider" / "package.json"
    with _install_lock:
        if installed.exists() and json.loads(installed.read_text())["version"] == pinned:
            return
        npm = shutil.which("npm")
        if npm is None:
            raise RigUnavailable("npm is not installed (apt-get install npm)")
        done = subprocess.run(
            [npm, "ci", "--prefix", str(RIG_DIR), "--no-audit", "--no-fund", "--silent"],
            capture_output=True,
            text=True,
            check=False,
            timeout=100,
        )
        if done.returncode != 0:
            raise RigUnavailable(f"npm ci in {RIG_DIR} failed:\n{done.stderr[-2000:]}")


def _read_ready_line(process: subprocess.Popen[bytes], log: Path) -> dict[str, Any]:
    assert process.stdout is not None
    give_up = time.monotonic() + STARTUP_SECONDS
    line = b""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while not line.endswith(b"\n"):
            left = give_up - time.monotonic()
            if left <= 0 or not selector.select(timeout=left):
                break
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:
                break
            line += chunk
    try:
        return dict(json.loads(line))
    except ValueError:
        stop_process(process)
        raise RuntimeError(
            f"oidc rig did not start (exit {process.returncode}); stdout {line!r}; "
            f"stderr:\n{log.read_text(errors='replace')[-4000:]}"
        ) from None


@contextlib.contextmanager
def start_oidc_rig(
    directory: Path | None = None,
    *,
    interval: int = 1,
    poll_spacing_ms: int | None = None,
    slow_down_step_ms: int = 1000,
    device_code_ttl: int = 600,
    access_token_ttl: int = 600,
    dpop_nonce: bool = True,
) -> Iterator[OIDCRig]:
    """Start ``server.mjs`` on a free port, yield its handle, stop it.

    ``interval`` is the device polling interval the server advertises (seconds);
    ``poll_spacing_ms`` the spacing it enforces between two polls of one device code (default:
    the interval; 0 turns pacing off, for a client on a fake clock), widened by
    ``slow_down_step_ms`` at each ``slow_down``. ``dpop_nonce=False`` accepts DPoP proofs
    without a server nonce. Raises :class:`RigUnavailable` without a usable node.
    """
    from joserfc.jwk import ECKey, RSAKey

    node = node_path()
    ensure_installed()
    with contextlib.ExitStack() as stack:
        if directory is None:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="oidc-")))
        rsa = RSAKey.generate_key(2048, parameters={"kid": "test-rsa"}, private=True)
        ec = ECKey.generate_key("P-256", parameters={"kid": "test-ec"}, private=True)
        jwks = directory / "client-jwks.json"
        public = [rsa.as_dict(private=False), ec.as_dict(private=False)]
        jwks.write_text(json.dumps({"keys": public}))
        log = directory / "oidc-rig.log"
        command = [
            node,
            str(SCRIPT),
            "--port=0",
            f"--jwks={jwks}",
            f"--interval={interval}",
            f"--slow-down-step-ms={slow_down_step_ms}",
            f"--device-code-ttl={device_code_ttl}",
            f"--access-token-ttl={access_token_ttl}",
            f"--dpop-nonce={'required' if dpop_nonce else 'off'}",
            "--exit-on-stdin-close",
        ]
        if poll_spacing_ms is not None:
            command.append(f"--poll-spacing-ms={poll_spacing_ms}")
        with open(log, "wb") as stderr:
            process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                cwd=RIG_DIR,
                start_new_session=True,
            )
        ready = _read_ready_line(process, log)
        rig = OIDCRig(
            issuer=ready["issuer"],
            port=int(ready["port"]),
            resource=ready["resource"],
            secrets=dict(ready["clients"]),
            rsa_key=rsa.as_dict(private=True),
            ec_key=ec.as_dict(private=True),
            process=process,
        )
        try:
            yield rig
        finally:
            rig.stop()


def oidc_rig_for_tests(directory: Path | None = None, **options: Any) -> Iterator[OIDCRig]:
    """A started rig, stopped afterwards; skipped without node unless HTTPX_REMEDY_REQUIRE_OIDC=1
    (then failed)."""
    with contextlib.ExitStack() as stack:
        try:
            rig = stack.enter_context(start_oidc_rig(directory, **options))
        except RigUnavailable as why:
            if os.environ.get(REQUIRE_ENV) == "1":
                pytest.fail(f"{why}, and {REQUIRE_ENV}=1")
            pytest.skip(f"oidc rig unavailable: {why}")
        yield rig


#: The session rig's enforced spacing between two polls of a device code (it advertises 1 s).
SESSION_POLL_SPACING = 0.3


class _SessionRig:
    """One rig for the whole run, however many test modules import the fixture (pytest makes
    a session fixture per defining module: each import would otherwise start its own)."""

    rig: OIDCRig | None = None
    users = 0
    stack = contextlib.ExitStack()


@pytest.fixture(scope="session", name="oidc")
def oidc_rig_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OIDCRig]:
    """The session's rig: advertises interval 1 s, enforces 0.3 s between polls, +1 s per
    slow_down; DPoP nonces required."""
    if _SessionRig.rig is None:
        options = {"poll_spacing_ms": int(SESSION_POLL_SPACING * 1000)}
        rigs = oidc_rig_for_tests(tmp_path_factory.mktemp("oidc"), **options)
        _SessionRig.rig = next(rigs)
        _SessionRig.stack.callback(rigs.close)
    _SessionRig.users += 1
    try:
        yield _SessionRig.rig
    finally:
        _SessionRig.users -= 1
        if _SessionRig.users == 0:
            _SessionRig.rig = None
            _SessionRig.stack.close()
