"""Reading a body the flow needs (an error body, a token response): the command, its bounds.

A hostile server can trickle a body a byte at a time, or send a few bytes that inflate to
gigabytes; the body is read within a time bound (the deadline, else ``MAX_BODY_SECONDS``) and a
bound on decoded bytes (``_decode``). The core picks the bounds and puts them on the command;
the drivers read within them and say which one cut the body short, if one did.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._record import Record

if TYPE_CHECKING:
    from ._http import Response
    from ._policy import Retry

#: The longest an error body or a token response is read when no deadline comes sooner: a
#: server that trickles a 401's body a byte at a time would otherwise hold the call for as long
#: as ``max_error_body`` bytes take (nine hours for 64 KiB at one byte every half second).
MAX_BODY_SECONDS = 10.0


class ReadBody(Record):
    """Read the body and close the response: at most ``limit`` bytes once decoded, and no
    further chunk once ``seconds`` have passed (checked between chunks; the wait for one chunk
    is bounded by the read timeout). Answered with a :data:`BodyRead`. Made by
    :func:`read_body`, which picks ``seconds``."""

    response: Response
    limit: int
    seconds: float
    #: True when ``seconds`` is what the deadline leaves, rather than ``MAX_BODY_SECONDS``.
    by_deadline: bool = False


#: What a :class:`ReadBody` gives back: the body (decoded, cut short if it had to be), and
#: why it was cut short: None (read whole), ``"size"`` (``limit`` reached, decoded) or
#: ``"time"`` (``seconds`` passed).
BodyRead = tuple[bytes, "str | None"]


def time_left(policy: Retry | None, started: float, now: float) -> float | None:
    """What the policy's deadline leaves of a call that started at ``started``; None without
    one."""
    if policy is None or policy.deadline is None:
        return None
    return policy.deadline - (now - started)


def read_body(response: Response, limit: int, left: float | None = None) -> ReadBody:
    """The command that reads a body: for ``MAX_BODY_SECONDS`` at most, or what the deadline
    leaves (``left``) when that is less."""
    if left is not None and left < MAX_BODY_SECONDS:
        return ReadBody(response, limit, max(left, 0.0), by_deadline=True)
    return ReadBody(response, limit, MAX_BODY_SECONDS)


def cut_note(command: ReadBody, cut: str | None, what: str, cap: str) -> str | None:
    """Says which cap cut a body short (None when it was read whole): ``what`` names the body,
    ``cap`` the size cap."""
    if cut == "time":
        if command.by_deadline:
            return f"{what} cut: still arriving when the deadline came, {command.seconds:.3g}s in"
        return f"{what} cut: still arriving after {command.seconds:.3g}s (MAX_BODY_SECONDS)"
    if cut == "size":
        return f"{what} cut at {command.limit} bytes ({cap})"
    return None
