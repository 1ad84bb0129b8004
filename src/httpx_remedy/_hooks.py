"""Calling the user's hooks: a hook that raises never breaks a request.

Its exception is logged (a WARNING on the ``httpx_remedy`` logger, with the traceback) and
ignored. A hook that raises every time would log on every request, so each hook's failures are
logged at most once per :data:`QUIET` seconds.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

logger = logging.getLogger("httpx_remedy")

T = TypeVar("T")

#: The least time between two warnings about the same hook, in seconds.
QUIET = 60.0
#: How many hooks' last warning times are kept (the oldest is forgotten first).
_REMEMBERED = 256

# hook -> when its failure was last logged (a reading of the transport's monotonic clock).
_last_logged: dict[object, float] = {}
_guard = threading.Lock()


def call_hook(what: str, hook: Callable[[T], object], argument: T, now: float) -> None:
    """Call ``hook(argument)``; an exception it raises is logged (rate-limited) and ignored.

    ``what`` names the hook for people (``on_retry``); ``now`` is a monotonic clock reading.
    The message names the hook by its qualified name, never by its ``repr`` (which may show
    the state of the object it is bound to).
    """
    try:
        hook(argument)
    except Exception as error:
        if _first_in_a_while(hook, now):
            logger.warning(
                "the %s hook %s raised %s; ignored (the request goes on; this hook's failures "
                "are logged at most once every %gs)",
                what,
                _name(hook),
                type(error).__name__,
                QUIET,
                exc_info=error,
            )


def _first_in_a_while(hook: object, now: float) -> bool:
    try:
        key: object = hook
        hash(key)
    except TypeError:  # an unhashable callable object
        key = id(hook)
    with _guard:
        last = _last_logged.get(key)
        if last is not None and now - last < QUIET:
            return False
        _last_logged.pop(key, None)
        if len(_last_logged) >= _REMEMBERED:
            _last_logged.pop(next(iter(_last_logged)))
        _last_logged[key] = now
        return True


def _name(hook: object) -> str:
    name = getattr(hook, "__qualname__", None)
    if not isinstance(name, str):
        name = type(hook).__qualname__
    module = getattr(hook, "__module__", None)
    return f"{module}.{name}" if isinstance(module, str) else name
