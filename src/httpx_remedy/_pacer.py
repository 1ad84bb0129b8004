"""The pacer's state: per origin, the window a server last described, and the bookings of the
sends into it (see ``_pacing`` for what pacing does and how the drivers use it).

Pure: no I/O, no sleeping, no clock reading (callers pass ``now``, on the monotonic clock).
"""

from __future__ import annotations

import math
import threading
from typing import Final

from ._http import Origin
from ._quota import Quota

# Two announced resets closer than this are the same window (resets are often whole seconds).
_SAME_WINDOW: Final = 1.0
_MAX_ORIGINS: Final = 10_000


class _Window:
    """What is known of one origin's current window; changed under the pacer's lock."""

    __slots__ = ("announced", "end", "left", "length", "limit", "next", "source")

    def __init__(self, found: Quota, now: float) -> None:
        self.end = now + found.reset
        self.left = found.remaining
        self.limit = found.limit
        self.length = found.window
        self.source = found.source
        self.next = 0.0  # the earliest slot of the next spread send
        self.announced = 0.0  # the end of the last window shared as a pause


class Pacer:
    """Paces the requests to each origin on the quota its responses announce.

    Thread-safe, shared by every transport whose policy names it (the default policy uses one
    process-wide pacer: one account's quota is shared by every client of the process).

    Args:
        spread_below: when fewer than this share of the limit is left (``0.2``: the last 20%),
            the remaining requests are spread evenly over the time to the reset. ``0`` never
            spreads (requests go as fast as they come until the quota is spent). When the
            server does not say the limit, the last ``spread_min`` requests are spread.
        spread_min: see ``spread_below``.
        margin: seconds added to a wait for a reset, for the server's rounding and the clock
            difference between the server and this machine.
    """

    __slots__ = ("_inflight", "_lock", "_windows", "margin", "spread_below", "spread_min")

    def __init__(
        self, *, spread_below: float = 0.2, spread_min: int = 5, margin: float = 0.05
    ) -> None:
        for name, value in (("spread_below", spread_below), ("margin", margin)):
            if isinstance(value, bool) or not (
                isinstance(value, (int, float)) and math.isfinite(value) and value >= 0
            ):
                raise ValueError(f"Pacer {name} must be a finite number >= 0, not {value!r}")
        if spread_below > 1:
            raise ValueError(f"Pacer spread_below must be at most 1, not {spread_below!r}")
        if isinstance(spread_min, bool) or not (isinstance(spread_min, int) and spread_min >= 0):
            raise ValueError(f"Pacer spread_min must be an int >= 0, not {spread_min!r}")
        self.spread_below = float(spread_below)
        self.spread_min = spread_min
        self.margin = float(margin)
        self._lock = threading.Lock()
        #: origin -> its window; empty until some response announced a quota (the hot path
        #: reads only its truthiness then).
        self._windows: dict[Origin, _Window] = {}
        #: origin -> sends booked and not answered yet: a count a server announces does not
        #: include them, so they are taken off it.
        self._inflight: dict[Origin, int] = {}

    def __repr__(self) -> str:
        return (
            f"Pacer(spread_below={self.spread_below:g}, spread_min={self.spread_min}, "
            f"margin={self.margin:g})"
        )

    def __reduce__(self) -> tuple[object, ...]:
        # The process-wide pacer unpickles as the receiving process's own; another as a new
        # pacer with the same settings (what it heard is this process's business).
        if self is DEFAULT_PACER:
            return (_default, ())
        return (_rebuild, (self.spread_below, self.spread_min, self.margin))

    def clear(self) -> None:
        """Forget every window (for tests, and after a change of account)."""
        with self._lock:
            self._windows.clear()
            self._inflight.clear()

    def heard(self, origin: Origin, found: Quota, now: float) -> float | None:
        """Take in the quota a response to ``origin`` announced (``now`` on the monotonic
        clock). Returns the seconds to share as a pause when it says the quota is newly spent,
        else None."""
        end = now + found.reset
        with self._lock:
            inflight = max(self._inflight.pop(origin, 0) - 1, 0)
            if inflight:
                self._inflight[origin] = inflight
            # What the server will have left once the sends it has not seen yet arrive.
            left = found.remaining - inflight
            window = self._windows.get(origin)
            same = _SAME_WINDOW
            if window is not None and window.length is not None:
                same = min(same, window.length / 2)
            if window is None or end > window.end + same:
                # The first word, or a later window than the one booked into.
                if window is None and len(self._windows) >= _MAX_ORIGINS:
                    self._windows.pop(next(iter(self._windows)))
                fresh = _Window(found, now)
                fresh.left = left
                if window is not None:
                    fresh.announced = window.announced
                    fresh.length = fresh.length or window.length
                    fresh.limit = fresh.limit or window.limit
                self._windows[origin] = window = fresh
            elif end >= window.end - same:
                # The same window: the server's count wins when it is lower (other clients).
                window.left = min(window.left, left)
                window.limit = found.limit or window.limit
                window.length = found.window or window.length
            else:
                return None  # an answer from a window already booked past
            if window.length is None and window.limit is not None and found.reset > 0:
                # Not said: the longest reset seen is the best guess, refined as more come.
                window.length = found.reset
            elif window.length is not None and found.window is None:
                window.length = max(window.length, found.reset)
            if found.remaining <= 0 and window.end > window.announced + same:
                window.announced = window.end
                return max(window.end - now, 0.0) + self.margin
        return None

    def book(self, origin: Origin, now: float, most: float) -> tuple[float, _Window | None]:
        """Book a send to ``origin`` at ``now``: the seconds it must wait first (0: none), and
        the window it was booked in. A wait longer than ``most`` is not booked: the caller
        raises."""
        with self._lock:
            window = self._windows.get(origin)
            if window is None:
                return 0.0, None
            if now >= window.end:
                if window.length is None or window.limit is None:
                    del self._windows[origin]  # nothing known of the new window
                    return 0.0, None
                passed = math.floor((now - window.end) / window.length) + 1
                window.end += passed * window.length
                window.left = window.limit
            start = now
            if window.left <= 0:
                if window.length is None or window.limit is None:
                    # Only the reset is known: wait for it, then the next answer tells.
                    wait = window.end - now + self.margin
                    return wait, window
                start = window.end + self.margin
                if start - now > most:
                    return start - now, window
                window.end += window.length
                window.left = window.limit
            elif window.length is not None:
                # A window booked ahead starts when the one before it ends.
                begins = window.end - window.length
                if begins > now:
                    start = begins + self.margin
            left = window.left
            low = (
                left <= window.limit * self.spread_below
                if window.limit is not None
                else left <= self.spread_min
            )
            if low and self.spread_below > 0:
                slot = max(start, window.next)
                window.next = slot + (window.end - slot) / max(left, 1.0)
                start = slot
            wait = start - now
            if wait > most:
                return wait, window
            window.left = left - 1
            if len(self._inflight) < _MAX_ORIGINS or origin in self._inflight:
                self._inflight[origin] = self._inflight.get(origin, 0) + 1
            return wait, window


#: The process-wide pacer of the default policy.
DEFAULT_PACER = Pacer()


def _rebuild(spread_below: float, spread_min: int, margin: float) -> Pacer:
    return Pacer(spread_below=spread_below, spread_min=spread_min, margin=margin)


def _default() -> Pacer:
    return DEFAULT_PACER
