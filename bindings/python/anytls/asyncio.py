"""asyncio support: streams opened in the fd mode of the C API, driven by the event loop.

The blocking open (a new session's handshake; it does not wait for the SYNACK) runs in the
loop's default executor, so the loop never blocks; the resulting socket is handed to
:func:`asyncio.open_connection`. A refused target raises ``TargetRefusedError`` from the
reader, where the stream would otherwise end.
"""

from __future__ import annotations

import asyncio
import functools
import socket
from typing import Any, Tuple

from ._client import DEFAULT_OPEN_TIMEOUT, Client

__all__ = ["open_connection", "open_socket"]


async def open_socket(client: Client, proxy: str, host: str, port: int,
                      timeout: float = DEFAULT_OPEN_TIMEOUT) -> socket.socket:
    """Opens a stream as a non-blocking ``socket.socket`` without blocking the event loop."""
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(
        None, functools.partial(client.open_socket, proxy, host, port, timeout, blocking=False))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        # The open goes on in the executor; close its socket when it arrives.
        def discard(f: "asyncio.Future[socket.socket]") -> None:
            if not f.cancelled() and f.exception() is None:
                f.result().close()

        future.add_done_callback(discard)
        raise


async def open_connection(client: Client, proxy: str, host: str, port: int,
                          timeout: float = DEFAULT_OPEN_TIMEOUT,
                          **kwargs: Any) -> Tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Opens a proxied connection to host:port as an asyncio ``(StreamReader, StreamWriter)``.

    ``timeout`` (seconds) bounds the open; extra keyword arguments (``limit=``) go to
    :func:`asyncio.open_connection`. ``writer.close()`` ends the stream.
    """
    sock = await open_socket(client, proxy, host, port, timeout)
    try:
        return await asyncio.open_connection(sock=sock, **kwargs)
    except BaseException:
        sock.close()
        raise
