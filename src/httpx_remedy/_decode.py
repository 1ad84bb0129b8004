"""Decoding a body's ``Content-Encoding`` with a bound on what comes out.

httpx decodes a body whole, and a few KiB of gzip inflate to gigabytes (``gzip, gzip`` stacks
the ratio: 1.8 KB became 2 GiB). Error bodies and token responses are decoded here instead,
stage by stage, each stage handing the next at most ``_STEP`` bytes at a time, so that however
far the body would inflate, memory stays within a few times ``limit``. Pure: bytes in, bytes out.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator, Sequence

#: The most output asked of one stage at a time.
_STEP = 64 * 1024

#: Encodings httpx decodes when their library is installed, whose Python bindings cannot bound
#: the output of one call: a body in them is kept as it came, undecoded.
UNBOUNDED = frozenset({"br", "zstd"})

#: zlib's wbits for a gzip wrapper.
_GZIP = zlib.MAX_WBITS | 16


def decode_bounded(encodings: Sequence[str], raw: bytes, limit: int) -> tuple[bytes, bool]:
    """``raw`` decoded per ``encodings`` (``Content-Encoding`` values in the order the server
    applied them), cut at ``limit`` bytes, and whether more output was there.

    As httpx does: ``identity`` and unknown names are skipped, ``deflate`` is zlib-wrapped or
    raw. A body that does not decode, or that uses an encoding whose output cannot be bounded
    (:data:`UNBOUNDED`), comes back as it came (cut at ``limit``): what the server said is still
    worth reading, and its status still types the error.
    """
    stages = [name.strip().lower() for name in encodings]
    stages = [name for name in stages if name in ("gzip", "deflate") or name in UNBOUNDED]
    if not raw or not stages or any(name in UNBOUNDED for name in stages):
        return raw[:limit], len(raw) > limit
    chunks: Iterator[bytes] = iter((raw,))
    for name in reversed(stages):
        chunks = _inflate(name, chunks)
    decoded = bytearray()
    try:
        for chunk in chunks:
            decoded += chunk
            if len(decoded) > limit:
                return bytes(decoded[:limit]), True
    except zlib.error:
        return raw[:limit], len(raw) > limit
    return bytes(decoded), False


def _inflate(name: str, chunks: Iterable[bytes]) -> Iterator[bytes]:
    """One stage: the inflated ``chunks``, at most ``_STEP`` bytes at a time, pulled lazily so
    that a later stage (or the caller) stops this one as soon as it has enough."""
    decompressor = None
    head = b""
    for data in chunks:
        if decompressor is None:
            # deflate is zlib-wrapped or raw (servers send both); its first two bytes tell.
            head += data
            if name == "deflate" and len(head) < 2:
                continue
            decompressor = zlib.decompressobj(_GZIP if name == "gzip" else _deflate_wbits(head))
            data, head = head, b""
        while True:
            out = decompressor.decompress(data, _STEP)
            if out:
                yield out
            if decompressor.eof:
                return  # anything after the end of the stream is ignored, as httpx does
            data = decompressor.unconsumed_tail
            if not data and len(out) < _STEP:
                break  # all input taken, and no output held back: wait for more input


def _deflate_wbits(head: bytes) -> int:
    """zlib's wbits for a ``deflate`` body: a zlib wrapper (RFC 1950) when its two header bytes
    say so, else a raw deflate stream."""
    cmf, flg = head[0], head[1]
    if cmf & 0x0F == 8 and cmf >> 4 <= 7 and (cmf << 8 | flg) % 31 == 0:
        return zlib.MAX_WBITS
    return -zlib.MAX_WBITS
