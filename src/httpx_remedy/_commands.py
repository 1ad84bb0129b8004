"""What the flows ask the drivers to do, and nothing else.

The flows (``_recovery``, ``_token_flow``) are generators that yield these commands and receive
their results, in the sans-I/O style: the sync and async transports each carry a command out
(send, read a body, close, sleep, lock, call a store or a token source) and decide nothing. What
a driver needs to know to carry one out is answered here: :func:`sleep_seconds`.
"""

from __future__ import annotations

import threading
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from ._body import ReadBody
from ._policy import waits_disabled
from ._record import Record

if TYPE_CHECKING:
    from ._exceptions import TokenWaitTimeout
    from ._http import Request, Response
    from ._manager import TokenManager
    from ._store import Store
    from ._token_flow import TokenCall

T = TypeVar("T")


class Send(Record):
    """Send ``request`` through the wrapped transport; answered with the response (or the
    transport's error, thrown into the flow)."""

    request: Request


class Close(Record):
    """Close ``response`` (its connection goes back to the pool)."""

    response: Response


class Sleep(Record):
    """Wait ``seconds``; a retry's wait is skipped inside ``testing.no_wait()``, a wait for
    another process (``always``) is not. See :func:`sleep_seconds`. With ``cancel``, the wait
    ends early once that event is set (a device login's polling: the flow then stops)."""

    seconds: float
    always: bool = False
    cancel: threading.Event | None = None


class StoreOp(Record):
    """Call ``store.<method>(*args)`` (its async twin ``a<method>`` in the async transport)."""

    store: Store
    method: str
    args: tuple[Any, ...]


class Locked(Record):
    """Run ``flow`` while holding ``manager``'s lock (the single-flight token fetch), after
    waiting at most ``wait`` seconds for it; past that, raise :meth:`timed_out` instead."""

    manager: TokenManager
    flow: Generator[Any, Any, Any]
    wait: float
    call: TokenCall

    def timed_out(self) -> TokenWaitTimeout:
        return self.call.timed_out("another request in this process", self.wait)


class CallSource(Record):
    """Ask a user's token source for a token (``fetch_token``, or ``afetch_token`` in the async
    transport when the source has it)."""

    source: object
    scope: str | None


Command = Send | ReadBody | Close | Sleep | Locked | CallSource | StoreOp
Flow = Generator[Command, Any, T]


def sleep_seconds(command: Sleep) -> float:
    """How long a driver sleeps for ``command``: its seconds, or 0 (no sleep at all) for a
    retry's wait inside ``testing.no_wait()``, and for a wait that is not positive."""
    if command.seconds > 0 and (command.always or not waits_disabled()):
        return command.seconds
    return 0.0


def unknown_command(command: NoReturn) -> NoReturn:
    """For the last branch of a driver's dispatch: mypy proves it unreachable (every command
    has its branch); at run time, something that is not a command was yielded."""
    raise TypeError(f"a flow yielded {command!r}, which is not a command")
