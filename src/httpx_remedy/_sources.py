"""The token sources a user can plug in: any object with ``fetch_token`` (or ``afetch_token``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ._token import Token


@runtime_checkable
class TokenSource(Protocol):
    """Any source of access tokens: a cloud SDK, a vault, a file.

    ``fetch_token`` returns a new token (a :class:`Token`, or a mapping shaped like a token
    endpoint's JSON: ``access_token``, ``expires_in``, ...). ``scope`` is the scope wanted, or
    None for the source's own. The transport decides when to call it and makes sure only one
    call runs at a time.
    """

    def fetch_token(self, scope: str | None) -> Token | Mapping[str, Any]: ...


@runtime_checkable
class AsyncTokenSource(Protocol):
    """The async twin of :class:`TokenSource`, for ``AsyncRemedyTransport``."""

    async def afetch_token(self, scope: str | None) -> Token | Mapping[str, Any]: ...
