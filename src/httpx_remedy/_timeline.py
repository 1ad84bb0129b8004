"""``Timeline``: the events of one call or a block of calls, kept in order and printable.

For debugging and for tests: ``with Timeline() as t: client.get(...)`` records what the library
did during the block (every transport in the process), and ``print(t)`` shows it one line per
event, stamped with the time since the block began, as ``httpx-remedy demo`` prints it. Lines of
your own (what a client or a server did) go in between with :meth:`Timeline.note`.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO, TypeVar

from ._listen import add_listener, remove_listener

if TYPE_CHECKING:
    from ._events import Event

E = TypeVar("E", bound="Event")


class Timeline:
    """A listener that keeps the events it hears, in order, and prints them as a timeline.

    Use it as a context manager (it listens to every transport in the process for the block),
    or install it on one transport (``RemedyTransport(listeners=[timeline])``). ``out``: print
    each line as it comes, too (``sys.stdout``). ``clock``: the clock the stamps are measured on
    (the transports' clock: ``time.monotonic`` unless a test injects one). Keeps the last
    ``limit`` entries (bounded, like everything in the library).
    """

    def __init__(
        self,
        *,
        out: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        limit: int = 10_000,
    ) -> None:
        self.out = out
        self.clock = clock
        self.started = clock()
        self._entries: deque[tuple[float, str, str, Event | None]] = deque(maxlen=limit)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<Timeline: {len(self._entries)} entries>"

    def __call__(self, event: Event, /) -> None:
        self._add(event.at, "library", event.describe(), event)

    def note(self, who: str, text: str) -> None:
        """Put a line of your own in the timeline (``who``: ``client``, ``server`` ...)."""
        self._add(self.clock(), who, text, None)

    def _add(self, at: float, who: str, text: str, event: Event | None) -> None:
        with self._lock:
            self._entries.append((at, who, text, event))
        if self.out is not None:
            self.show(at, who, text)

    def show(self, at: float, who: str, text: str) -> None:
        """Print one entry as it comes (when ``out`` was given); override to print otherwise."""
        print(self.format(at, who, text), file=self.out, flush=True)

    def format(self, at: float, who: str, text: str) -> str:
        """One line: ``+  0.52s  library  retrying GET ...``."""
        return f"  +{at - self.started:6.2f}s  {who:<8} {text}"

    @property
    def events(self) -> list[Event]:
        """The events heard, oldest first."""
        with self._lock:
            return [entry[3] for entry in self._entries if entry[3] is not None]

    def of(self, kind: type[E]) -> list[E]:
        """The events of one kind (``timeline.of(RetryScheduled)``), oldest first."""
        return [event for event in self.events if isinstance(event, kind)]

    def lines(self) -> list[str]:
        """Every entry as a line of text, in the order of their stamps (an attempt's first
        send is stamped when the request began, before the token fetch it waited for)."""
        with self._lock:
            entries = sorted(self._entries, key=lambda entry: entry[0])  # stable: ties in order
        return [self.format(at, who, text) for at, who, text, _ in entries]

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def clear(self) -> None:
        """Forget every entry, and start the stamps again from now."""
        with self._lock:
            self._entries.clear()
            self.started = self.clock()

    def __enter__(self) -> Timeline:
        self.started = self.clock()
        add_listener(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        remove_listener(self)
