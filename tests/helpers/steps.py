"""The core by hand: ``Steps`` drives a flow generator command by command."""

from __future__ import annotations

import inspect
from typing import Any


class Steps:
    """Drives a flow of the core (a generator of commands) by hand, as a driver would, for the
    core's tests: each :meth:`expect` takes the flow's next command, checks it, and says what
    the driver answers (a result, or an exception to throw in); :meth:`result` runs the flow
    to its end and gives what it returns (or raises what it raises)."""

    def __init__(self, flow: Any) -> None:
        self.flow = flow
        self._reply: Any = None
        self._error: BaseException | None = None

    def _next(self) -> Any:
        reply, error = self._reply, self._error
        self._reply, self._error = None, None
        if error is not None:
            return self.flow.throw(error)
        return self.flow.send(reply)

    def expect(self, expected: Any, reply: Any = None) -> Any:
        """The next command, which must equal ``expected`` (a command), be an instance of it
        (a class), or satisfy it (a function); ``reply`` is sent back for it, or thrown in when
        it is an exception (a function is called with the command for the reply, for a reply
        made from it). Returns the command."""
        try:
            command = self._next()
        except StopIteration as stop:
            raise AssertionError(
                f"the flow ended ({stop.value!r}), expected {expected!r}"
            ) from None
        if isinstance(expected, type):
            assert isinstance(command, expected), f"{command!r} is not a {expected.__name__}"
        elif inspect.isfunction(expected):
            assert expected(command), f"{command!r} does not satisfy {expected.__name__}"
        else:
            assert command == expected, f"{command!r} != {expected!r}"
        if inspect.isfunction(reply):
            reply = reply(command)
        if isinstance(reply, BaseException):
            self._error = reply
        else:
            self._reply = reply
        return command

    def reply(self, reply: Any) -> None:
        """Answer the last command with ``reply`` after all (when the answer is worked out after
        the command was seen: a ``Locked`` flow's result, driven by hand)."""
        self._reply, self._error = reply, None

    def result(self) -> Any:
        """What the flow returns after the last answer; it must yield nothing more."""
        try:
            command = self._next()
        except StopIteration as stop:
            return stop.value
        raise AssertionError(f"the flow went on with {command!r}")
