"""``wrap()``: put a remedy transport under an existing client, its default transport and every
mounted one, in place."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, overload

from ._classify import MAX_ERROR_BODY
from ._dpop import DPoPKey
from ._http import (
    ASYNC_CLIENTS,
    CLIENTS,
    AsyncBaseTransport,
    AsyncClient,
    BaseTransport,
    Client,
    origin_of,
    origin_text,
    see_httpx2,
)
from ._policy import DEFAULT_RETRY, Retry
from ._store import Store
from ._transport import AsyncCredentials, AsyncRemedyTransport, RemedyTransport, SyncCredentials


@overload
def wrap(
    client: Client,
    *,
    retry: Retry | None = ...,
    raise_errors: bool = ...,
    max_error_body: int = ...,
    credentials: SyncCredentials | None = ...,
    origins: Iterable[str] | None = ...,
    step_up: bool = ...,
    store: Store | None = ...,
    dpop: DPoPKey | None = ...,
) -> Client: ...
@overload
def wrap(
    client: AsyncClient,
    *,
    retry: Retry | None = ...,
    raise_errors: bool = ...,
    max_error_body: int = ...,
    credentials: AsyncCredentials | None = ...,
    origins: Iterable[str] | None = ...,
    step_up: bool = ...,
    store: Store | None = ...,
    dpop: DPoPKey | None = ...,
) -> AsyncClient: ...
def wrap(
    client: Client | AsyncClient,
    *,
    retry: Retry | None = DEFAULT_RETRY,
    raise_errors: bool = True,
    max_error_body: int = MAX_ERROR_BODY,
    credentials: AsyncCredentials | None = None,
    origins: Iterable[str] | None = None,
    step_up: bool = False,
    store: Store | None = None,
    dpop: DPoPKey | None = None,
) -> Client | AsyncClient:
    """Wrap an existing client's default transport and every mounted one, in place.

    The keyword arguments are the transport's (see :class:`RemedyTransport`). With
    ``credentials=`` and no ``origins=``, a client with a ``base_url`` sends the token to the
    origin of its ``base_url`` only (as if ``origins=[it]`` were given to every transport); one
    without shares the credentials' binding across its mounts (see ``origins``). Transports
    already wrapped are left as they are. Returns the client.
    """
    see_httpx2()  # an httpx2 client: its stack joins before the checks below
    if credentials is not None and origins is None and client.base_url.host:
        origins = [origin_text(origin_of(client.base_url))]
    options: dict[str, Any] = {
        "retry": retry,
        "raise_errors": raise_errors,
        "max_error_body": max_error_body,
        "credentials": credentials,
        "origins": origins,
        "step_up": step_up,
        "store": store,
        "dpop": dpop,
    }
    if isinstance(client, CLIENTS):

        def wrap_sync(transport: BaseTransport) -> BaseTransport:
            if isinstance(transport, RemedyTransport):
                return transport
            return RemedyTransport(transport, **options)

        client._transport = wrap_sync(client._transport)
        client._mounts = {
            pattern: None if t is None else wrap_sync(t) for pattern, t in client._mounts.items()
        }
        return client
    if isinstance(client, ASYNC_CLIENTS):

        def wrap_async(transport: AsyncBaseTransport) -> AsyncBaseTransport:
            if isinstance(transport, AsyncRemedyTransport):
                return transport
            return AsyncRemedyTransport(transport, **options)

        client._transport = wrap_async(client._transport)
        client._mounts = {
            pattern: None if t is None else wrap_async(t) for pattern, t in client._mounts.items()
        }
        return client
    raise TypeError(f"wrap() takes an httpx.Client or httpx.AsyncClient, not {client!r}")
