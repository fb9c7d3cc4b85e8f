"""The socket of an fd stream: a ``socket.socket`` whose end reports the stream's error.

A socket pair carries bytes and an end, not an error. Opens do not wait for the server's
SYNACK, so a target the server refuses ends the stream after the socket was handed out; the
library records why (``anytls_stream_fd_error``), and this socket raises it where a plain one
would read a clean end: ``TargetRefusedError`` (a ``ConnectionRefusedError``) for a refused
target. asyncio's transports read through ``recv``/``recv_into`` too, so a reader there gets
the same exception.
"""

from __future__ import annotations

import socket

from . import _lib


class StreamSocket(socket.socket):
    """A connected AF_UNIX stream socket relayed by the library to one AnyTLS stream."""

    __slots__ = ()

    def _raise_end_error(self) -> None:
        if self.fileno() < 0:
            return
        rc = _lib.lib().anytls_stream_fd_error(self.fileno())
        _lib.check(rc)

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        data = super().recv(bufsize, flags)
        if not data and bufsize > 0:
            self._raise_end_error()
        return data

    def recv_into(self, buffer, nbytes: int = 0, flags: int = 0) -> int:  # type: ignore[override]
        n = super().recv_into(buffer, nbytes, flags)
        if n == 0 and (nbytes or len(memoryview(buffer))):
            self._raise_end_error()
        return n


def stream_socket(fd: int, blocking: bool) -> StreamSocket:
    """Wraps the caller's end `fd` (closed again if that fails)."""
    try:
        sock = StreamSocket(socket.AF_UNIX, socket.SOCK_STREAM, 0, fileno=fd)
    except BaseException:
        import os
        os.close(fd)
        raise
    sock.setblocking(blocking)
    return sock
