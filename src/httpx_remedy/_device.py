"""The device authorization grant (RFC 8628): log in once from a command line, then keep going.

:class:`DeviceCode` is the credentials object (sans-I/O: it builds the requests and reads the
answers); :func:`login` is the flow that runs when it holds no token pair: the device
authorization request, the user's code handed to ``on_user_code`` as a
:class:`DeviceAuthorization`, then polls of the token endpoint at the server's interval
(``authorization_pending``: poll again; ``slow_down``: 5 s slower for good; anything else is
raised), bounded by ``expires_in``, ``timeout=`` and the request's deadline, and cancellable.
Its sleeps are the drivers' (``Sleep`` commands), so ``testing.no_wait()`` and ``use_clock``
govern them. Once logged in, a DeviceCode is a :class:`RefreshToken`: the pair is refreshed
with the refresh_token grant, and ``on_token`` hears of every new one.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any, cast
from urllib.parse import urlencode

from ._body import BodyRead, read_body, time_left
from ._catalog_errors import AuthorizationPending, SlowDown, UseDPoPNonce
from ._classify import build_error, describe, error_scrubber
from ._commands import Flow, Sleep
from ._dpop import DPoPKey
from ._exceptions import LoginCancelled, LoginTimeout, TokenResponseError
from ._first_send import IDEMPOTENT_EXTENSION, begin
from ._grants import MAX_TOKEN_BODY, Grant, RefreshToken
from ._http import Request, Response, buffered
from ._listen import emit, listening
from ._redact import without_credential_members
from ._settings import Settings
from ._store import Store
from ._token import LEEWAY, Token, require_secure, token_number

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
#: RFC 8628 §3.5: the polling interval when the server names none, and what each ``slow_down``
#: adds to it for the rest of the login.
DEFAULT_INTERVAL = 5.0
SLOW_DOWN_STEP = 5.0
#: How long a device code lives when the server does not say (``expires_in`` is required; a
#: server that leaves it out still gets a bound).
DEFAULT_EXPIRES_IN = 1800.0


@dataclass(frozen=True)
class DeviceAuthorization:
    """What to show the user so that they approve the login (RFC 8628 §3.2), handed to
    ``DeviceCode(on_user_code=...)``: open ``verification_uri`` and enter ``user_code`` (or
    open ``verification_uri_complete``, which holds the code, when the server gives one) within
    ``expires_in`` seconds. ``interval`` is how often the token endpoint is asked."""

    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_in: float
    interval: float

    def __str__(self) -> str:
        where = self.verification_uri_complete or self.verification_uri
        return (
            f"To sign in, open {where} and enter the code {self.user_code} "
            f"(within {self.expires_in / 60:.3g} minutes)."
        )


def _print_instructions(codes: DeviceAuthorization) -> None:
    print(codes, file=sys.stderr, flush=True)


class DeviceCode(RefreshToken):
    """A user's tokens got by a device login (RFC 8628), then kept fresh with the refresh token.

    The first request that needs a token starts the login: the device authorization request to
    ``device_authorization_url``, then ``on_user_code`` is called with a
    :class:`DeviceAuthorization` (the default prints it to stderr: "To sign in, open ... and
    enter the code ..."), then the token endpoint is polled until the user approves. Once
    approved, it is a :class:`RefreshToken`: the tokens are refreshed (asking for
    ``offline_access`` usually gets a refresh token), and ``on_token`` is called with every new
    pair, so that a command-line tool can save it and pass it back as ``token=`` next time
    without logging in again. ``reset()`` forgets the pair: the next request logs in anew.

    The login is bounded by the code's ``expires_in``, ``timeout`` (seconds) if sooner, and a
    ``Retry(deadline=...)`` of the request that started it (:class:`LoginTimeout`); setting
    ``cancel`` (a ``threading.Event``) stops it (:class:`LoginCancelled`), and in the async
    transport cancelling the task (anyio) does too. The user refusing raises
    :class:`AccessDenied`, the code expiring :class:`ExpiredToken`; both are remembered like any
    rejection (``ReauthenticationRequired``) until ``reset()``. ``on_user_code`` runs in the
    transport (on the event loop in the async one): keep it quick; what it raises ends the
    login. ``dpop`` binds the tokens to a :class:`DPoPKey` (RFC 9449): the polls and refreshes
    carry proofs, and a public client's refresh token is bound to the key too, so save the key
    with the pair.
    """

    def __init__(
        self,
        device_authorization_url: str,
        token_url: str,
        client_id: str,
        *,
        scope: str | Iterable[str] | None = None,
        on_user_code: Callable[[DeviceAuthorization], object] | None = None,
        client_secret: str | None = None,
        token: Mapping[str, Any] | None = None,
        on_token: Callable[[dict[str, Any]], None] | None = None,
        timeout: float | None = None,
        cancel: threading.Event | None = None,
        auth_method: str | None = None,
        private_key: str | bytes | Mapping[str, Any] | None = None,
        jwt_alg: str | None = None,
        extra_params: Mapping[str, str] | None = None,
        leeway: float = LEEWAY,
        store: Store | None = None,
        share_as: str | None = None,
        dpop: DPoPKey | None = None,
    ) -> None:
        if not isinstance(device_authorization_url, str) or not device_authorization_url:
            raise ValueError("device_authorization_url must be the device authorization endpoint")
        require_secure(device_authorization_url, "client credentials")
        if timeout is not None and not (
            isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0
        ):
            raise ValueError(f"timeout must be a number of seconds > 0, not {timeout!r}")
        if cancel is not None and not isinstance(cancel, threading.Event):
            raise TypeError(f"cancel must be a threading.Event, not {cancel!r}")
        if on_user_code is not None and not callable(on_user_code):
            raise TypeError(f"on_user_code must be callable, not {on_user_code!r}")
        Grant.__init__(
            self,
            token_url,
            client_id,
            client_secret,
            scope=scope,
            auth_method=auth_method,
            private_key=private_key,
            jwt_alg=jwt_alg,
            extra_params=extra_params,
            leeway=leeway,
            store=store,
            dpop=dpop,
        )
        self._hold_pair(store, share_as, on_token)
        self.device_authorization_url = device_authorization_url
        self.on_user_code = on_user_code or _print_instructions
        self.timeout = None if timeout is None else float(timeout)
        self.cancel = cancel
        if token is not None:
            self.set_token(token, notify=False)

    def set_token(self, token: Mapping[str, Any], *, notify: bool = True) -> None:
        """Replace the token pair (one you saved from ``on_token``, say): an access token, a
        refresh token, or both. Clears any earlier rejection."""
        if not isinstance(token, Mapping) or not any(
            isinstance(token.get(name), str) and token[name]
            for name in ("access_token", "refresh_token")
        ):
            raise ValueError("token must be a mapping with an access_token or a refresh_token")
        with self._lock:
            self._data = dict(token)
        self.manager.reset()
        if isinstance(token.get("access_token"), str) and token["access_token"]:
            self.manager.store(Token.from_response(token, leeway=self.leeway))
        if notify and self.on_token is not None:
            self.on_token(dict(self._data))

    def logs_in(self, scope: str | None) -> bool:
        """True while there is no refresh token: a new token takes a device login."""
        with self._lock:
            refresh = self._data.get("refresh_token")
        return not (isinstance(refresh, str) and refresh)

    def reset(self) -> None:
        """Forget the tokens and any earlier rejection: the next request logs in again."""
        with self._lock:
            self._data = {}
        self.manager.reset()

    def device_request(self, stack: ModuleType | None = None) -> Request:
        """The device authorization request (RFC 8628 §3.1): the scope, client authentication
        applied (``client_id`` in the body for a public client)."""
        params = dict(self.extra_params)
        if self.scope:
            params["scope"] = self.scope
        return self.form_request(self.device_authorization_url, urlencode(params), stack)

    def poll_request(self, device_code: str, stack: ModuleType | None = None) -> Request:
        """A device access token request (RFC 8628 §3.4)."""
        return self.grant_request(DEVICE_GRANT, {"device_code": device_code}, stack)


def login(settings: Settings, source: DeviceCode, call: Any) -> Flow[dict[str, Any]]:
    """The device login of ``source``: the token endpoint's JSON once the user approved.

    ``call`` is the :class:`~._token_flow.TokenCall` of the request that needs the token: its
    timeouts go to every request made here, its deadline bounds the whole login."""
    from ._token_flow import exchange

    started = settings.clock()
    codes, device_code = yield from _authorize(settings, source, call)
    stop_at, cap = (
        started + codes.expires_in,
        f"the device code's expires_in ({codes.expires_in:g}s)",
    )
    if source.timeout is not None and started + source.timeout < stop_at:
        stop_at, cap = started + source.timeout, f"DeviceCode(timeout={source.timeout:g})"
    if call.deadline_at is not None and call.deadline_at < stop_at:
        stop_at, cap = call.deadline_at, "the deadline of the request that needed the token"
    source.on_user_code(codes)
    interval = codes.interval
    polls = 0
    nonce_asked = False
    while True:
        now = settings.clock()
        if now + interval > stop_at:
            raise LoginTimeout(now - started, cap, polls)
        yield Sleep(interval, cancel=source.cancel)
        if source.cancel is not None and source.cancel.is_set():
            raise LoginCancelled(settings.clock() - started, polls)
        polls += 1
        try:
            return (
                yield from exchange(
                    settings,
                    lambda: source.poll_request(device_code, settings.stack),
                    call,
                    secrets=(device_code,),
                    nonce_replay=False,
                )
            )
        except AuthorizationPending:
            nonce_asked = False
        except SlowDown:
            # RFC 8628 §3.5: 5 seconds more, for this and every later poll.
            interval += SLOW_DOWN_STEP
            if listening(settings):
                from ._events import PollingSlowed  # loaded by the first event (import time)

                emit(settings, PollingSlowed(settings.clock(), interval))
        except UseDPoPNonce:
            # The next poll carries the nonce: it is the replay, paced like any poll.
            if nonce_asked:
                raise
            nonce_asked = True


def _authorize(
    settings: Settings, source: DeviceCode, call: Any
) -> Flow[tuple[DeviceAuthorization, str]]:
    """The device authorization request and its answer: what to show, and the device code."""
    from . import _recovery

    auth = settings.auth
    assert auth is not None
    request = source.device_request(settings.stack)
    request.extensions = {
        **request.extensions,
        IDEMPOTENT_EXTENSION: True,
        "timeout": dict(call.timeouts),
    }
    secrets = auth.manager.secrets()
    token_settings = _token_settings(settings, secrets)
    start = begin(token_settings, request)
    response = yield from _recovery.send_first(token_settings, request, start)
    left = time_left(start.policy, start.started, settings.clock())
    body, _ = cast(BodyRead, (yield read_body(response, MAX_TOKEN_BODY, left)))
    return parse_device_authorization(request, response, body, secrets, settings.wall_clock())


def _token_settings(settings: Settings, secrets: tuple[str, ...]) -> Settings:
    from dataclasses import replace

    return replace(settings, raise_errors=True, auth=None, secrets=secrets)


def parse_device_authorization(
    request: Request, response: Response, body: bytes, secrets: tuple[str, ...], wall_now: float
) -> tuple[DeviceAuthorization, str]:
    """The device authorization response (RFC 8628 §3.2): what to show the user, and the
    device code; its OAuth error typed, or :class:`TokenResponseError` for anything else."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, dict) and "error" not in data:
        device_code, user_code = data.get("device_code"), data.get("user_code")
        # Google's device endpoint says verification_url.
        uri = data.get("verification_uri") or data.get("verification_url")
        complete = data.get("verification_uri_complete")
        if all(isinstance(v, str) and v for v in (device_code, user_code, uri)):
            expires_in = token_number(data.get("expires_in")) or DEFAULT_EXPIRES_IN
            interval = token_number(data.get("interval")) or DEFAULT_INTERVAL
            codes = DeviceAuthorization(
                user_code=cast(str, user_code),
                verification_uri=cast(str, uri),
                verification_uri_complete=complete if isinstance(complete, str) else None,
                expires_in=expires_in,
                interval=interval,
            )
            return codes, cast(str, device_code)
    details = describe(
        response.status_code,
        response.headers,
        without_credential_members(body),
        wall_now,
        error_scrubber(request, secrets),
    )
    if details.error is not None:
        raise build_error(request, buffered(response, body, request), details, secrets=secrets)
    raise TokenResponseError(
        f"the device authorization endpoint answered {response.status_code} without a "
        "device_code, user_code and verification_uri; check device_authorization_url",
        response=buffered(response, without_credential_members(body), request),
    )
