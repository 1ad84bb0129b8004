"""A socket-level HTTP/1.1 server on 127.0.0.1 that answers as a hostile server would.

Each connection is answered by a *script*: a function given the connection and the request it
sent (head and body), which writes whatever bytes it likes, as slowly as it likes, or nothing at
all. No HTTP library stands between the script and the socket, so a test can send a header byte
httpx would never write, trickle a body one byte at a time, or accept a connection and stall.

    with RawServer(trickle(b"HTTP/1.1 401 ...", body, every=0.5)) as server:
        client.get(server.url + "/items")

Stalling scripts wait on ``server.stopping``, so stopping the server ends them at once.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import threading
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Received:
    """One request as it arrived."""

    method: str
    target: str
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes

    def header(self, name: str) -> bytes | None:
        wanted = name.lower().encode()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None


Script = Callable[[socket.socket, Received, "RawServer"], None]


class RawServer:
    """Serve ``script`` for every connection (``scripts`` in turn, the last one repeated)."""

    def __init__(self, *scripts: Script) -> None:
        if not scripts:
            raise ValueError("RawServer needs at least one script")
        self._scripts = list(scripts)
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.stopping = threading.Event()
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> RawServer:
        self._acceptor.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.stopping.set()
        # Closing alone does not wake a thread blocked in accept() (Linux); shutting down does.
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self._sock.close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                conn.close()
        self._acceptor.join(timeout=5)
        for thread in list(self._threads):
            thread.join(timeout=5)

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self._conns)

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with self._lock:
                index = len(self._conns)
                self._conns.append(conn)
            script = self._scripts[min(index, len(self._scripts) - 1)]
            thread = threading.Thread(target=self._serve, args=(conn, script), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket, script: Script) -> None:
        # Keep-alive: a connection is served request after request until the peer closes it.
        buffer = b""
        try:
            while not self.stopping.is_set():
                request, buffer = _read_request(conn, buffer)
                if request is None:
                    return
                with self._lock:
                    self.received.append(request)
                script(conn, request, self)
        except OSError:
            return
        finally:
            with contextlib.suppress(OSError):
                conn.close()


def _read_request(conn: socket.socket, buffer: bytes) -> tuple[Received | None, bytes]:
    while b"\r\n\r\n" not in buffer:
        chunk = conn.recv(65536)
        if not chunk:
            return None, b""
        buffer += chunk
    head, _, rest = buffer.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    method, target, _ = lines[0].decode("latin-1").split(" ", 2)
    headers = tuple(
        (name.strip(), value.strip())
        for name, _, value in (line.partition(b":") for line in lines[1:])
    )
    length = 0
    for name, value in headers:
        if name.lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        rest += chunk
    body, rest = rest[:length], rest[length:]
    return Received(method, target, headers, body), rest


# -- scripts ---------------------------------------------------------------------------------


def head(
    status: int,
    headers: Sequence[tuple[bytes | str, bytes | str]] = (),
    *,
    reason: bytes = b"X",
) -> bytes:
    """A response head, with header names and values written exactly as given."""
    lines = [b"HTTP/1.1 %d %s" % (status, reason)]
    for name, value in headers:
        name_b = name.encode("latin-1") if isinstance(name, str) else name
        value_b = value.encode("latin-1") if isinstance(value, str) else value
        lines.append(name_b + b": " + value_b)
    return b"\r\n".join(lines) + b"\r\n\r\n"


def answer(
    status: int,
    body: bytes = b"",
    headers: Sequence[tuple[bytes | str, bytes | str]] = (),
    *,
    length: bool = True,
) -> Script:
    """Answer at once: the head as given, Content-Length added unless ``length`` is False."""
    extra = [(b"Content-Length", str(len(body)).encode())] if length else []
    data = head(status, [*headers, *extra]) + body

    def script(conn: socket.socket, request: Received, server: RawServer) -> None:
        conn.sendall(data)

    return script


def trickle(
    status: int,
    body: bytes,
    headers: Sequence[tuple[bytes | str, bytes | str]] = (),
    *,
    every: float = 0.5,
    size: int = 1,
) -> Script:
    """Send the head at once, then the body ``size`` bytes every ``every`` seconds."""
    data = head(status, [*headers, (b"Content-Length", str(len(body)).encode())])

    def script(conn: socket.socket, request: Received, server: RawServer) -> None:
        conn.sendall(data)
        for start in range(0, len(body), size):
            if server.stopping.wait(every):
                return
            conn.sendall(body[start : start + size])

    return script


def route(scripts: dict[str, Script], default: Script | None = None) -> Script:
    """Answer each request with the script for its path (the target without its query); a path
    not listed gets ``default`` (a 404 when None)."""
    fallback = default or answer(404)

    def script(conn: socket.socket, request: Received, server: RawServer) -> None:
        chosen = scripts.get(request.target.partition("?")[0], fallback)
        chosen(conn, request, server)

    return script


def stall(conn: socket.socket, request: Received, server: RawServer) -> None:
    """Accept the request and never answer (until the server stops)."""
    server.stopping.wait()


def chunks_then_stall(
    status: int,
    chunks: Iterable[bytes],
    headers: Sequence[tuple[bytes | str, bytes | str]] = (),
) -> Script:
    """A chunked body whose first chunks arrive and the rest never does."""
    parts = list(chunks)

    def script(conn: socket.socket, request: Received, server: RawServer) -> None:
        conn.sendall(head(status, [*headers, (b"Transfer-Encoding", b"chunked")]))
        for part in parts:
            conn.sendall(b"%x\r\n%s\r\n" % (len(part), part))
        server.stopping.wait()

    return script


def gzip_bomb(decoded_size: int, layers: int = 1) -> bytes:
    """Zeros that inflate to ``decoded_size`` bytes through ``layers`` rounds of gzip
    (``Content-Encoding: gzip, gzip`` for two). Made in 1 MiB steps, so a 2 GiB bomb does not
    need 2 GiB to build."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: a gzip wrapper
    step = b"\0" * (1 << 20)
    parts = []
    left = decoded_size
    while left > 0:
        parts.append(packer.compress(step[: min(left, len(step))]))
        left -= len(step)
    parts.append(packer.flush())
    data = b"".join(parts)
    for _ in range(layers - 1):
        data = gzip.compress(data, compresslevel=9)
    return data
