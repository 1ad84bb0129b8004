"""The retry policy and its decisions: pure, immutable, no I/O and no sleeping.

:class:`Retry` says what may be retried and how long to wait; :func:`decide` applies it to one
outcome. The transports carry the decision out (close, log, sleep, send again) and nothing else.
"""

from __future__ import annotations

import inspect
import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ._budget import DEFAULT_BUDGET, RetryBudget
from ._catalog import RETRYABLE_STATUSES, catalog
from ._entry import Remedy
from ._http import Origin, origin_text
from ._pacer import DEFAULT_PACER, Pacer
from ._record import Record

if TYPE_CHECKING:
    import tenacity

    WaitStrategy = tenacity.wait.wait_base | Callable[[tenacity.RetryCallState], float]

#: RFC 9110 §9.2.2: methods whose repetition has the same effect as one request.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})


class _DefaultWait:
    """The default wait strategy, full-jitter exponential backoff (a uniform wait in
    [0, 0.5 s x 2^(n-1)], at most 8 s): ``tenacity.wait_random_exponential(multiplier=0.5,
    max=8)`` drawing from the library's own generator (``_jitter``), built with tenacity on
    first use. tenacity costs a fair share of
    ``import httpx_remedy`` and most processes never compute a backoff: a :class:`Retry` given
    no ``wait`` holds this stand-in, and its ``wait`` attribute reads as the tenacity strategy.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "wait_random_exponential(multiplier=0.5, max=8)"

    def __call__(self, state: tenacity.RetryCallState) -> float:
        return float(_tenacity_parts()[1](state))

    def __reduce__(self) -> str:
        return "DEFAULT_WAIT"  # unpickled (and copied) as the one stand-in


#: The default of ``Retry(wait=...)`` (see :class:`_DefaultWait`).
DEFAULT_WAIT: WaitStrategy = _DefaultWait()

#: tenacity's ``Retrying`` (the state a wait strategy reads) and the default wait strategy,
#: made on first need (see :class:`_DefaultWait`).
_tenacity: tuple[Any, WaitStrategy] | None = None


def _tenacity_parts() -> tuple[Any, WaitStrategy]:
    global _tenacity
    if _tenacity is None:
        import tenacity

        from ._jitter import wait_random_exponential  # tenacity's, on a generator of its own

        _tenacity = (tenacity.Retrying(), wait_random_exponential(multiplier=0.5, max=8))
    return _tenacity


# The testing mode: how many ``testing.no_wait()`` blocks are open (in any thread or task).
# While any is, a retry's wait is skipped and the process-wide budget is not drawn on. Written
# only through set_no_wait(), under its lock.
_no_wait_depth = 0
_no_wait_lock = threading.Lock()


def set_no_wait(on: bool) -> None:
    """Open (``on=True``) or close (``on=False``) one ``testing.no_wait()`` block; blocks nest,
    and the testing mode lasts while any is open."""
    global _no_wait_depth
    with _no_wait_lock:
        if not on and _no_wait_depth == 0:
            raise RuntimeError("set_no_wait(False) without a matching set_no_wait(True)")
        _no_wait_depth += 1 if on else -1


def waits_disabled() -> bool:
    """True inside ``httpx_remedy.testing.no_wait()``."""
    return _no_wait_depth > 0


@dataclass(frozen=True)
class Attempt:
    """What happened on one send of a request, and what the library did next.

    ``action`` is ``"retry"`` (waited ``wait`` seconds for ``wait_reason``, then sent again),
    ``"refresh"`` (got a new token and sent again), ``"replay"`` (sent again with a token
    another request had already refreshed), ``"nonce"`` (sent again with the DPoP nonce the
    server asked for), ``"raise"`` or ``"return"``. ``note`` says why a
    retry did not happen (which cap, which safety rule) when there is a reason to give.
    """

    number: int
    max_attempts: int
    method: str
    url: str
    status: int | None
    error: str | None
    elapsed: float
    action: str
    wait: float | None = None
    wait_reason: str | None = None
    note: str | None = None

    def __str__(self) -> str:
        what = str(self.status) if self.status is not None else (self.error or "?")
        if self.status is not None and self.error:
            what += f" {self.error}"
        text = f"attempt {self.number}/{self.max_attempts}: {what} -> {self.action}"
        if self.wait is not None:
            text += f" after {self.wait:.3g}s ({self.wait_reason})"
        if self.note:
            text += f" [{self.note}]"
        return text


def attempts_of(error: BaseException) -> tuple[Attempt, ...]:
    """The attempt history of an error raised through a remedy transport, oldest first.

    Works for the typed :class:`HTTPError` (its ``attempts``) and for a transport error such as
    ``httpx.ConnectError`` raised after retrying; empty for anything else.
    """
    found = getattr(error, "attempts", None)
    if not isinstance(found, tuple):
        found = getattr(error, "remedy_attempts", ())
    return found if isinstance(found, tuple) else ()


class RetryHook(Protocol):
    """Called before each retry's wait with the record of the attempt that failed."""

    def __call__(self, attempt: Attempt, /) -> None: ...


def _check_number(
    name: str, value: object, *, allow_none: bool = False, minimum: float = 0.0
) -> None:
    if value is None and allow_none:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < minimum
    ):
        raise ValueError(f"Retry {name} must be a finite number >= {minimum:g}, not {value!r}")


class _DefaultDeadline(float):
    """The default policy's deadline: a float like any other, marked so that :class:`Retry` can
    tell it from a deadline the user chose (only a chosen one shrinks the attempts' timeouts)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return float.__repr__(self)


#: The default deadline: bounds how long a call goes on waiting and retrying, and nothing else.
DEFAULT_DEADLINE: float = _DefaultDeadline(120.0)


@dataclass(frozen=True, init=False, repr=False)
class Retry:
    """The retry policy: what is retried, how long to wait, and where to stop.

    Args:
        max_attempts: sends per request, the first included (``1`` disables retrying).
        statuses: the statuses that are retried (any iterable of ints; kept as a frozenset).
            429, 503 and other "refused, not processed" statuses are retried for every method;
            the rest only for idempotent methods or a request carrying an ``Idempotency-Key``.
        wait: a tenacity wait strategy for the computed backoff; used when the server gives no
            delay. Default: full-jitter exponential, 0.5 s base, 8 s cap.
        max_retry_after: the longest wait this policy sleeps. A longer server delay is not
            slept: the typed error is raised at once with ``retry_after`` set.
        deadline: seconds the call may go on waiting and retrying: no wait runs past it and no
            retry starts after it. A deadline you pass (``Retry(deadline=30)``) also bounds
            every attempt: each one's timeouts, the first's included, are shrunk to the time
            left. The default (120 s) bounds the waits and retries only: the attempts keep your
            client's own timeouts, so a long poll or a big upload with ``timeout=None`` or
            ``timeout=300`` goes out as you configured it (an attempt started before the
            deadline runs on its own timeouts, past it if they are longer). A token request
            made for the call follows the same rule. ``shrinks_timeouts`` (read-only) is True
            for a deadline you passed. None: no deadline.
        budget: the :class:`RetryBudget` retries draw from; None turns the budget off.
        idempotency_keys: add an ``Idempotency-Key`` to POST and PATCH requests that lack one,
            the same on every attempt, so that they can be retried safely.
        pace: pace the requests on the quota the server announces in its rate-limit headers
            (``RateLimit``, ``X-RateLimit-*``...; see ``docs/rate-limits.md``): wait for the
            reset instead of sending into a spent quota, spread the last requests of a low one.
            True (the default) uses the process-wide :class:`Pacer`; pass your own ``Pacer``
            to tune or isolate it, False to turn pacing off. A request turns it off for itself
            with ``extensions={"remedy.pace": False}``. A client far from its limit is never
            slowed: pacing waits only when the quota is spent or low.
        on_retry: called with the :class:`Attempt` record before each retry's wait, after the
            failed response was closed (its connection is back in the pool). A hook that raises
            never breaks the request: its exception is logged as a WARNING, with the traceback,
            on the ``httpx_remedy`` logger (at most once a minute per hook) and ignored.
    """

    max_attempts: int
    statuses: frozenset[int]
    wait: WaitStrategy = field(compare=False)  # a property: see _wait_of
    #: The wait strategy as given: :data:`DEFAULT_WAIT` when none was.
    _wait: WaitStrategy = field(init=False, compare=False, repr=False)
    max_retry_after: float
    deadline: float | None
    #: True when ``deadline`` was passed, so that it shrinks each attempt's timeouts (derived,
    #: not an argument).
    shrinks_timeouts: bool = field(init=False)
    #: True when a first send has work to do besides counting: an idempotency key to add or
    #: timeouts to fit into the deadline (derived; one attribute check on the hot path).
    first_send_work: bool = field(init=False, compare=False)
    budget: RetryBudget | None = field(compare=False)
    idempotency_keys: bool
    on_retry: RetryHook | None = field(compare=False)
    #: The pacer in force (None: pacing off).
    pace: Pacer | None = field(compare=False)

    def __init__(
        self,
        max_attempts: int = 3,
        statuses: Iterable[int] = RETRYABLE_STATUSES,
        wait: WaitStrategy = DEFAULT_WAIT,
        max_retry_after: float = 60.0,
        deadline: float | None = DEFAULT_DEADLINE,
        budget: RetryBudget | None = DEFAULT_BUDGET,
        idempotency_keys: bool = False,
        on_retry: RetryHook | None = None,
        pace: bool | Pacer = True,
    ) -> None:
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
            raise ValueError(f"Retry max_attempts must be an int >= 1, not {max_attempts!r}")
        if isinstance(statuses, (int, str)) or not isinstance(statuses, Iterable):
            raise TypeError(f"Retry statuses must be a collection of ints, not {statuses!r}")
        statuses = frozenset(statuses)
        bad = [
            s
            for s in statuses
            if isinstance(s, bool) or not isinstance(s, int) or not 400 <= s <= 599
        ]
        if bad:
            raise ValueError(f"Retry statuses must be error statuses (400-599), not {bad!r}")
        _check_number("max_retry_after", max_retry_after)
        _check_number("deadline", deadline, allow_none=True, minimum=0.001)
        if not callable(wait):
            raise TypeError(f"Retry wait must be a tenacity wait strategy, not {wait!r}")
        if budget is not None and not isinstance(budget, RetryBudget):
            raise TypeError(f"Retry budget must be a RetryBudget or None, not {budget!r}")
        if on_retry is not None and not callable(on_retry):
            raise TypeError(f"Retry on_retry must be callable, not {on_retry!r}")
        assign = object.__setattr__  # frozen
        # Every instance sets the same attributes in the same order, and the class has no
        # __getattr__: the hot path's reads (pace, budget, first_send_work) stay CPython's
        # cheapest attribute load, which either would undo (about 350 instructions a read).
        assign(self, "max_attempts", max_attempts)
        assign(self, "statuses", statuses)
        if _tenacity is not None and wait is _tenacity[1]:
            wait = DEFAULT_WAIT  # the default strategy itself, as dataclasses.replace passes it
        assign(self, "_wait", wait)  # read as ``wait`` (see _wait_of)
        assign(self, "max_retry_after", max_retry_after)
        assign(self, "deadline", deadline)
        # By type, not identity: a copied or unpickled default policy is still the default.
        assign(
            self,
            "shrinks_timeouts",
            deadline is not None and type(deadline) is not _DefaultDeadline,
        )
        assign(self, "budget", budget)
        assign(self, "idempotency_keys", idempotency_keys)
        assign(self, "first_send_work", bool(idempotency_keys) or self.shrinks_timeouts)
        assign(self, "on_retry", on_retry)
        if pace is True:
            pace = DEFAULT_PACER
        elif pace is not False and not isinstance(pace, Pacer):
            raise TypeError(f"Retry pace must be True, False or a Pacer, not {pace!r}")
        assign(self, "pace", pace or None)

    def __repr__(self) -> str:
        """``Retry(max_attempts=5, deadline=30, shrinks_timeouts=True)``: the arguments that
        differ from the defaults, and always the deadline and whether it shrinks timeouts."""
        shown = []
        for name, default in _defaults().items():
            value = self._wait if name == "wait" else getattr(self, name)
            if name == "deadline":
                shown += [f"deadline={value!r}", f"shrinks_timeouts={self.shrinks_timeouts!r}"]
            elif name == "pace" and value is None:
                shown.append("pace=False")
            elif not _same(value, default):
                shown.append(f"{name}={value!r}")
        return f"Retry({', '.join(shown)})"

    def backoff(self, attempt: int, elapsed: float) -> float:
        """The computed wait after failed attempt number ``attempt`` (finite, >= 0)."""
        import tenacity  # bound since _tenacity_parts() ran: a dict lookup

        retrying, _ = _tenacity_parts()
        state = tenacity.RetryCallState(retrying, None, (), {})
        state.attempt_number = attempt
        state.start_time -= elapsed
        state.outcome_timestamp = state.start_time + elapsed
        try:
            value = float(self._wait(state))
        except (TypeError, ValueError, ArithmeticError):
            value = 0.0
        return value if math.isfinite(value) and value > 0 else 0.0


def _wait_of(policy: Retry) -> WaitStrategy:
    """``Retry.wait``: the strategy given, or for the default (:class:`_DefaultWait`) the
    tenacity strategy it stands for, tenacity imported then. A property rather than a
    ``__getattr__`` on the class: that would slow every other attribute read of a policy."""
    wait = policy._wait
    return _tenacity_parts()[1] if wait is DEFAULT_WAIT else wait


# Set on the class after the dataclass is made: the field stays in fields(Retry) and in
# dataclasses.replace, and reads go through the property.
setattr(Retry, "wait", property(_wait_of, doc="The wait strategy between attempts."))  # noqa: B010

_DEFAULTS: dict[str, object] = {}


def _defaults() -> dict[str, object]:
    """The arguments of :class:`Retry` and their defaults, for its repr (read from its signature
    on first use: ``inspect.signature`` is not free, and most processes never print a policy)."""
    if not _DEFAULTS:
        signature = inspect.signature(Retry)
        _DEFAULTS.update((name, p.default) for name, p in signature.parameters.items())
    return _DEFAULTS


def _same(value: object, default: object) -> bool:
    # The default budget is the process-wide one itself; the default wait strategy is any of
    # its kind with the same settings (a copy, as unpickling makes).
    if isinstance(default, RetryBudget):
        return value is default
    if default is True:  # pace: the process-wide pacer
        return value is DEFAULT_PACER
    if default is DEFAULT_WAIT:
        if isinstance(value, _DefaultWait):
            return True
        if type(value).__module__ != "httpx_remedy._jitter":
            return False  # not a copy of the default (tenacity need not be imported to say so)
        default = _tenacity_parts()[1]
        return type(value) is type(default) and vars(value) == vars(default)
    return value == default


#: The policy a transport uses when given none: the defaults.
DEFAULT_RETRY = Retry()
NO_RETRY = Retry(max_attempts=1, budget=None, deadline=None)


class Decision(Record):
    """What to do after an attempt: retry after ``wait`` seconds, or stop (``note`` says why)."""

    retry: bool
    wait: float = 0.0
    wait_reason: str | None = None
    note: str | None = None
    #: Which rule refused the retry (one of ``_events.CAPS``); None when retrying.
    cap: str | None = None


def retry_kind(policy: Retry, status: int, code: str | None) -> Remedy | None:
    """How an error response may be retried: BACK_OFF (any method), RETRY_IF_SAFE, or None.

    An OAuth code whose catalog remedy is a retry (``temporarily_unavailable``,
    ``server_error``) counts whatever the status; otherwise the status must be one of the
    policy's ``statuses``, retried for every method when its catalog remedy is to back off
    (the request was refused, not processed) and only when safe otherwise.
    """
    entry = catalog.oauth(code)
    if entry is not None and entry.remedy.retries:
        return entry.remedy
    if status in policy.statuses:
        remedy = catalog.for_status(status).remedy
        return Remedy.BACK_OFF if remedy is Remedy.BACK_OFF else Remedy.RETRY_IF_SAFE
    return None


def decide(
    policy: Retry,
    *,
    attempt: int,
    elapsed: float,
    kind: Remedy,
    method: str,
    has_idempotency_key: bool,
    replayable: bool,
    server_delay: tuple[float, str] | None,
    origin: Origin,
    now: float,
) -> Decision:
    """Whether to retry after failed attempt number ``attempt``, and after how long.

    The rules, in order: a request that may have been
    processed is retried only when idempotent; a one-shot body is never replayed; then the
    caps: ``max_attempts``, ``max_retry_after`` (a longer server delay is raised, not slept),
    the ``deadline``, and last the retry budget (so that a refused retry spends nothing).
    """
    if (
        kind is Remedy.RETRY_IF_SAFE
        and method not in IDEMPOTENT_METHODS
        and not has_idempotency_key
    ):
        return Decision(
            False,
            cap="not_idempotent",
            note=f"{method} is not idempotent and may have been processed; "
            "send an Idempotency-Key to make it retryable",
        )
    if not replayable:
        return Decision(
            False,
            cap="not_replayable",
            note="the request body is a one-shot stream and cannot be replayed",
        )
    if attempt >= policy.max_attempts:
        return Decision(False, cap="attempts", note=f"max_attempts ({policy.max_attempts}) reached")
    if server_delay is not None:
        wait, reason = server_delay
        if wait > policy.max_retry_after:
            return Decision(
                False,
                cap="max_retry_after",
                note=f"the server asked for {wait:g}s, more than "
                f"max_retry_after ({policy.max_retry_after:g}s)",
            )
    else:
        wait, reason = min(policy.backoff(attempt, elapsed), policy.max_retry_after), "backoff"
    if policy.deadline is not None and elapsed + wait >= policy.deadline:
        return Decision(
            False,
            cap="deadline",
            note=f"a {wait:.3g}s wait would overrun the deadline "
            f"({policy.deadline:g}s, {elapsed:.3g}s used)",
        )
    budget = policy.budget
    if budget is DEFAULT_BUDGET and waits_disabled():
        # Inside testing.no_wait() the process-wide budget is left alone, so that one test's
        # retries cannot use up the next one's; a budget passed explicitly still applies.
        budget = None
    if budget is not None and not budget.try_spend(origin, now):
        return Decision(
            False,
            cap="budget",
            note=f"the retry budget for {origin_text(origin)} is spent ({policy.budget!r})",
        )
    return Decision(True, wait=wait, wait_reason=reason)
