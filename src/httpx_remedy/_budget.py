"""The retry budget: how many retries an origin may get, across the process (and, with a
shared store, across the fleet), so that a storm adds a trickle of retries while a short blip
is retried in full. Pure counting under a lock, with a lock-free count of first attempts that
``_first_send.prepare`` inlines."""

from __future__ import annotations

import math
import threading
from collections.abc import Hashable
from typing import Any

#: The most origins a :class:`RetryBudget` keeps counts for; past it the oldest is forgotten.
MAX_BUDGET_ORIGINS = 10_000
# Where a budget's counts for an origin keep the current slot (see RetryBudget._counts).
_SINCE, _UNTIL, _AT = 21, 22, 23
#: Counts no reading falls in (an empty slot at -inf): where nothing was counted yet.
_NO_COUNTS: list[Any] = [0] * 21 + [-math.inf, -math.inf, 0] + [0] * 13
# Where the failures per slot start, after the current slot's fields.
_FAILURES = 24


class RetryBudget:
    """Caps retries per origin, across the process, so that a storm adds a trickle of retries
    while a short blip is retried in full.

    Two sources of retries, tried in order:

    - **the share**: retries to an origin may not exceed ``ratio`` times the first attempts
      made to it in the last ``window`` seconds, plus ``minimum`` (in the spirit of Envoy's
      retry budgets and Finagle's);
    - **the reserve** (gRPC-style retry throttling): a bucket of ``reserve`` retries, full at
      the start, refilled by successes (each first attempt that did not fail earns ``ratio`` of
      a retry) and drawn on only while the origin's failures in the window, failed retries
      included, do not outnumber its first attempts. In a blip (some requests fail once, their
      retries succeed) that always holds, and the reserve retries them all; in a storm (the
      retries fail too) it stops holding after the first failed retry, and only the share is
      left: about ``1 + ratio`` sends per request.

    Thread-safe; share one instance between transports to pool their budgets (the default
    policy uses one process-wide budget). Counting first attempts is the whole cost on the
    success path; the rest is computed when a retry is asked for.
    """

    __slots__ = (
        "_fleet",
        "_last",
        "_lock",
        "_origins",
        "_reserves",
        "_slot",
        "minimum",
        "ratio",
        "reserve",
        "window",
    )
    _SLOTS = 10

    def __init__(
        self, ratio: float = 0.1, minimum: int = 5, window: float = 10.0, reserve: int = 20
    ) -> None:
        if isinstance(ratio, bool) or not (
            isinstance(ratio, (int, float)) and math.isfinite(ratio) and ratio >= 0
        ):
            raise ValueError(f"RetryBudget ratio must be a finite number >= 0, not {ratio!r}")
        if isinstance(minimum, bool) or not (isinstance(minimum, int) and minimum >= 0):
            raise ValueError(f"RetryBudget minimum must be an int >= 0, not {minimum!r}")
        if isinstance(window, bool) or not (
            isinstance(window, (int, float)) and math.isfinite(window) and window > 0
        ):
            raise ValueError(f"RetryBudget window must be a number > 0, not {window!r}")
        if isinstance(reserve, bool) or not (isinstance(reserve, int) and reserve >= 0):
            raise ValueError(f"RetryBudget reserve must be an int >= 0, not {reserve!r}")
        self.ratio = float(ratio)
        self.minimum = minimum
        self.window = float(window)
        self.reserve = reserve
        self._slot = self.window / self._SLOTS
        self._lock = threading.Lock()
        # origin -> [current slot index, firsts per slot..., retries per slot...,
        #            the current slot's start and end (clock readings), its firsts' position,
        #            failures per slot..., and the firsts, retries and failures that left the
        #            window (running totals the reserve is refilled from)]
        self._origins: dict[Hashable, list[Any]] = {}
        # The origin counted last and its counts: most clients send to one origin, and
        # comparing two keys is cheaper than hashing a new one (a dict lookup). Replaced
        # whole (one atomic store); a forgotten origin's counts can no longer match (its slot
        # is cleared to -inf). Read lock-free by _first_send.prepare too, which inlines the
        # fast path of record_request: keep the two in step.
        self._last: tuple[Hashable, list[Any]] = (None, _NO_COUNTS)
        # origin -> [reserve left, firsts seen, failures seen] (the totals at the last visit)
        self._reserves: dict[Hashable, list[float]] = {}
        # origin -> [when shared, fleet firsts, fleet retries, own firsts then, own retries
        # then]: the counts of every process sharing a store, at the last share.
        self._fleet: dict[Hashable, list[float]] = {}

    def __repr__(self) -> str:
        return (
            f"RetryBudget(ratio={self.ratio:g}, minimum={self.minimum}, window={self.window:g}, "
            f"reserve={self.reserve})"
        )

    def _counts(self, origin: Hashable, index: int) -> list[Any]:
        slots = self._SLOTS
        counts = self._origins.get(origin)
        if counts is None:
            if len(self._origins) >= MAX_BUDGET_ORIGINS:  # bounded: forget the oldest origin
                oldest = next(iter(self._origins))
                forgotten = self._origins.pop(oldest)
                self._reserves.pop(oldest, None)
                # The lock-free path may still hold it (_last): no reading falls in its slot.
                forgotten[_SINCE] = forgotten[_UNTIL] = -math.inf
            counts = self._origins[origin] = [index] + [0] * (2 * slots) + [0.0, 0.0, 0]
            counts += [0] * (slots + 3)
        elif counts[0] != index:
            # Clear the slots that went by since the last visit (all of them after a long gap),
            # keeping the running totals the reserve is refilled from.
            last = int(counts[0])
            for i in range(last + 1, min(index, last + slots) + 1):
                at = 1 + i % slots
                failed = _FAILURES + i % slots
                counts[-3] += counts[at]
                counts[-2] += counts[at + slots]
                counts[-1] += counts[failed]
                counts[at] = counts[at + slots] = counts[failed] = 0
            counts[0] = index
        else:
            return counts
        # The current slot, as record_request checks it without dividing.
        counts[_SINCE] = index * self._slot
        counts[_UNTIL] = (index + 1) * self._slot
        counts[_AT] = 1 + index % self._SLOTS
        return counts

    def record_request(self, origin: Hashable, now: float) -> None:
        """Count a first attempt to ``origin`` (``now`` is a monotonic clock reading)."""
        last, counts = self._last
        if last != origin:
            counts = self._origins.get(origin)  # type: ignore[assignment]
        if counts is not None and counts[21] <= now < counts[22]:
            # The hot path: every request passes here. No lock, no division, nothing made but
            # the count: a count lost to a race now and then is affordable in a budget that
            # is an estimate anyway. (21, 22, 23: _SINCE, _UNTIL, _AT, spelt out for speed.)
            counts[counts[23]] += 1
            if last != origin:
                self._last = (origin, counts)
            return
        index = int(now / self._slot)
        with self._lock:
            counts = self._counts(origin, index)
            counts[1 + index % self._SLOTS] += 1
            self._last = (origin, counts)

    def try_spend(self, origin: Hashable, now: float) -> bool:
        """Count a failed attempt to ``origin`` and take one retry for it from the budget;
        False when the budget is spent."""
        index = int(now / self._slot)
        slots = self._SLOTS
        with self._lock:
            counts = self._counts(origin, index)
            firsts = sum(counts[1 : 1 + slots])
            retries = sum(counts[1 + slots : _SINCE])
            counts[_FAILURES + index % slots] += 1
            failures = sum(counts[_FAILURES : _FAILURES + slots])
            reserve = self._refill(origin, counts[-3] + firsts, counts[-1] + failures)
            own_firsts = firsts  # the reserve tells a blip from a storm on this process's own
            fleet = self._fleet.get(origin)
            if fleet is not None and now - fleet[0] < self.window:
                # Shared through a store: the fleet's counts at the last share, plus this
                # process's own since.
                firsts = max(firsts, int(fleet[1] + counts[-3] + firsts - fleet[3]))
                retries = max(retries, int(fleet[2] + counts[-2] + retries - fleet[4]))
            # "May not exceed": the retry being asked for must fit under the cap (the epsilon
            # keeps float noise such as 0.1 * 30 = 3.0000000000000004 from costing a retry).
            if retries + 1 <= self.ratio * firsts + self.minimum + 1e-9:
                counts[1 + slots + index % slots] += 1
                return True
            if reserve[0] >= 1 and failures <= own_firsts:
                reserve[0] -= 1
                return True
            return False

    def to_share(self, origin: Hashable, now: float, every: float) -> tuple[int, int] | None:
        """The first attempts and retries made to ``origin`` since the last share, when it is
        due (else None): what a transport with a store adds to the fleet's counts
        (``Store.share_counts``), on the failure path only. Due when the last share is
        ``every`` seconds old, or when this process has retried ``minimum / 5`` times since
        (so that a fleet cannot spend its fixed part many times over between two shares)."""
        index = int(now / self._slot)
        slots = self._SLOTS
        with self._lock:
            fleet = self._fleet.get(origin)
            counts = self._counts(origin, index)
            firsts = counts[-3] + sum(counts[1 : 1 + slots])
            retries = counts[-2] + sum(counts[1 + slots : 1 + 2 * slots])
            if fleet is None:  # the first share: what the window holds
                return sum(counts[1 : 1 + slots]), sum(counts[1 + slots : 1 + 2 * slots])
            since = int(retries - fleet[4])
            if now - fleet[0] < every and since < max(1, self.minimum // 5):
                return None
            return int(firsts - fleet[3]), since

    def shared(self, origin: Hashable, now: float, fleet: tuple[int, int] | None) -> None:
        """Take in the fleet's counts for ``origin`` (firsts and retries in the window, every
        process's, this one's included) that ``Store.share_counts`` returned."""
        index = int(now / self._slot)
        slots = self._SLOTS
        with self._lock:
            counts = self._counts(origin, index)
            firsts = counts[-3] + sum(counts[1 : 1 + slots])
            retries = counts[-2] + sum(counts[1 + slots : 1 + 2 * slots])
            if fleet is None:
                self._fleet.pop(origin, None)
                return
            if len(self._fleet) >= 10_000 and origin not in self._fleet:
                self._fleet.pop(next(iter(self._fleet)))
            self._fleet[origin] = [now, fleet[0], fleet[1], firsts, retries]

    def _refill(self, origin: Hashable, firsts: int, failures: int) -> list[float]:
        """The reserve of ``origin``, refilled by the successes since the last visit (the first
        attempts that did not fail), given the running totals of firsts and failures."""
        reserve = self._reserves.get(origin)
        if reserve is None:
            reserve = self._reserves[origin] = [float(self.reserve), firsts, failures]
            return reserve
        successes = (firsts - reserve[1]) - (failures - reserve[2])
        if successes > 0:
            reserve[0] = min(float(self.reserve), reserve[0] + self.ratio * successes)
            reserve[1], reserve[2] = firsts, failures
        return reserve


DEFAULT_BUDGET = RetryBudget()
