"""asyncio support: streams opened in the fd mode of the C API, driven by the event loop.

The open runs in the library as a pending open (``Client.start_open``): the loop watches its
notify fd, so no thread waits on its behalf, and cancelling the task cancels the open itself
(docs/C-API.md, "Pending opens"). The resulting socket is handed to
:func:`asyncio.open_connection`. A refused target raises ``TargetRefusedError`` from the
reader, where the stream would otherwise end.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any, Tuple

from ._client import DEFAULT_OPEN_TIMEOUT, Client

__all__ = ["open_connection", "open_socket"]


async def open_socket(client: Client, proxy: str, host: str, port: int,
                      timeout: float = DEFAULT_OPEN_TIMEOUT) -> socket.socket:
    """Opens a stream as a non-blocking ``socket.socket`` without blocking the event loop.

    Cancelling the awaiting task cancels the open in the library, wherever it is."""
    loop = asyncio.get_running_loop()
    # Leaving the with block frees the pending open, which cancels it if it still runs (this
    # task was cancelled, or the socket could not be made).
    with client.start_open(proxy, host, port, timeout) as pending:
        ended = loop.create_future()

        def on_ended() -> None:
            if not ended.done():
                ended.set_result(None)

        loop.add_reader(pending.fileno(), on_ended)
        try:
            await ended
        finally:
            loop.remove_reader(pending.fileno())
        return pending.socket(blocking=False)


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
