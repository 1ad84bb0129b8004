"""Who hears the events: the :class:`Listener` protocol, the process-wide listeners, and
:func:`emit`, which the core calls to hand an event to a transport's listeners and the
process's.

A listener is any callable taking an :class:`~._events.Event`. One that raises never breaks a
request: its exception is logged (at most once a minute per listener, ``_hooks``) and ignored.
The process-wide listeners start as one :class:`~._log_listener.LoggingListener`, the default
log lines; :func:`set_listeners` replaces them (an empty list silences the library's own lines).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

from ._hooks import call_hook
from ._log_listener import LoggingListener

if TYPE_CHECKING:
    from ._events import Event
    from ._settings import Settings


class Listener(Protocol):
    """Receives every event (a subclass of :class:`Event`) of the transports it is installed
    on: ``RemedyTransport(listeners=[...])``, or every transport with :func:`set_listeners`.
    Called synchronously, in the thread or task that made the decision: keep it quick."""

    def __call__(self, event: Event, /) -> None: ...


# Read without a lock by every emit (a tuple, replaced whole); written under _guard.
_process: tuple[Listener, ...] = (LoggingListener(),)
_guard = threading.Lock()


def set_listeners(listeners: Iterable[Listener]) -> tuple[Listener, ...]:
    """Install ``listeners`` for every transport in the process, in place of the current ones
    (the default: one :class:`LoggingListener`), and return those. A transport's own
    ``listeners=`` hear its events as well."""
    global _process
    new = tuple(listeners)
    for listener in new:
        if not callable(listener):
            raise TypeError(f"a listener must be callable, not {listener!r}")
    with _guard:
        old, _process = _process, new
    return old


def get_listeners() -> tuple[Listener, ...]:
    """The listeners every transport in the process reports to."""
    return _process


def add_listener(listener: Listener) -> None:
    """Add one process-wide listener (kept with the others)."""
    global _process
    with _guard:
        _process = (*_process, listener)


def remove_listener(listener: Listener) -> None:
    """Remove one process-wide listener added with :func:`add_listener` (no error if gone)."""
    global _process
    with _guard:
        _process = tuple(one for one in _process if one is not listener)


def listening(settings: Settings) -> bool:
    """Whether anyone hears ``settings``' events: when not, none is made."""
    return bool(_process or settings.listeners)


def emit(settings: Settings, event: Event) -> None:
    """Hand ``event`` to the transport's listeners, then to the process's."""
    for listener in settings.listeners:
        call_hook("listener", listener, event, event.at)
    for listener in _process:
        call_hook("listener", listener, event, event.at)


def emit_process(event: Event) -> None:
    """Hand ``event`` to the process-wide listeners alone: for what belongs to no transport
    (a shared store's outage)."""
    for listener in _process:
        call_hook("listener", listener, event, event.at)
