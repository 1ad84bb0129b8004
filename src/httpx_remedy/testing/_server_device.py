"""The OAuth server's device authorization grant (RFC 8628), on authlib's components: the
device authorization endpoint, the device code grant, and the pending logins a test approves.

Polls are paced: one sooner than the code's interval after the previous poll (a little timer
jitter allowed) is answered ``slow_down``, and the interval grows by 5 seconds for that code, as
RFC 8628 §3.5 says.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc8628 import (
    DEVICE_CODE_GRANT_TYPE,
    DeviceAuthorizationEndpoint,
    DeviceCodeGrant,
    DeviceCredentialMixin,
)

if TYPE_CHECKING:
    from .oauth_server import OAuthServer

DEVICE_PATH = "/oauth/device"
#: How much sooner than the interval a poll may come (the client's timer and ours differ).
POLL_TOLERANCE = 0.05
SLOW_DOWN_STEP = 5.0


@dataclass
class PendingLogin(DeviceCredentialMixin):  # type: ignore[misc]
    """A device code waiting for the user (authlib's ``DeviceCredentialMixin``)."""

    device_code: str
    user_code: str
    client_id: str
    scope: str
    expires_at: float
    interval: float
    #: None while the user has not answered; True approved, False denied.
    approved: bool | None = None
    last_poll: float | None = None

    def get_client_id(self) -> str:
        return self.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_user_code(self) -> str:
        return self.user_code

    def is_expired(self) -> bool:
        return time.time() >= self.expires_at


class DeviceLogins:
    """The OAuth server's pending device logins, and the test playing their user."""

    _lock: threading.RLock
    _logins: dict[str, PendingLogin]

    def approve(self, user_code: str) -> None:
        """The user approves the device login showing ``user_code``: the next poll gets the
        tokens. ``KeyError`` for a code that is not pending."""
        self._answer_login(user_code, True)

    def deny(self, user_code: str) -> None:
        """The user refuses the device login showing ``user_code``: the next poll gets
        ``access_denied``."""
        self._answer_login(user_code, False)

    def _save_login(self, login: PendingLogin) -> None:
        with self._lock:
            self._logins[login.user_code] = login

    def _login_by_user_code(self, user_code: str) -> PendingLogin | None:
        with self._lock:
            return self._logins.get(user_code)

    def _login_by_device_code(self, device_code: str) -> PendingLogin | None:
        with self._lock:
            return next((x for x in self._logins.values() if x.device_code == device_code), None)

    def _forget_login(self, login: PendingLogin) -> None:
        with self._lock:
            self._logins.pop(login.user_code, None)

    def _answer_login(self, user_code: str, approved: bool) -> None:
        with self._lock:
            login = self._logins.get(user_code)
            if login is None or login.approved is not None:
                raise KeyError(f"no pending device login for user code {user_code!r}")
            login.approved = approved


class DeviceEndpoint(DeviceAuthorizationEndpoint):  # type: ignore[misc]
    """RFC 8628 §3.1-3.2: a device code, a user code, and where the user enters it."""

    def __init__(self, server: Any, rig: OAuthServer) -> None:
        super().__init__(server)
        self.rig = rig
        self.EXPIRES_IN = rig.device_expires_in
        self.INTERVAL = rig.device_interval

    def get_verification_uri(self) -> str:
        return self.rig.url + "/device"

    def save_device_credential(self, client_id: str, scope: str | None, data: Any) -> None:
        self.rig._save_login(
            PendingLogin(
                device_code=data["device_code"],
                user_code=data["user_code"],
                client_id=client_id,
                scope=scope or "",
                expires_at=time.time() + float(data["expires_in"]),
                interval=float(data["interval"]),
            )
        )


class DeviceGrant(DeviceCodeGrant):  # type: ignore[misc]
    """RFC 8628 §3.4-3.5: the polls, answered from the pending login."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def query_device_credential(self, device_code: str) -> PendingLogin | None:
        rig: OAuthServer = self.server.rig
        return rig._login_by_device_code(device_code)

    def query_user_grant(self, user_code: str) -> tuple[str | None, bool] | None:
        rig: OAuthServer = self.server.rig
        login = rig._login_by_user_code(user_code)
        if login is None or login.approved is None:
            return None
        return (login.client_id if login.approved else None), login.approved

    def should_slow_down(self, credential: PendingLogin) -> bool:
        now = time.monotonic()
        last, credential.last_poll = credential.last_poll, now
        if last is not None and now - last < credential.interval - POLL_TOLERANCE:
            credential.interval += SLOW_DOWN_STEP
            return True
        return False

    def create_token_response(self) -> Any:
        answer = super().create_token_response()
        # A device code is good for one token response.
        rig: OAuthServer = self.server.rig
        rig._forget_login(self.request.credential)
        return answer


__all__ = [
    "DEVICE_CODE_GRANT_TYPE",
    "DEVICE_PATH",
    "DeviceEndpoint",
    "DeviceGrant",
    "DeviceLogins",
    "PendingLogin",
]
