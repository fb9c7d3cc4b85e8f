"""asyncio: 200 concurrent connections over the fd mode, and the loop never blocks."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time

import pytest

import anytls
import anytls.asyncio
from conftest import client_toml


async def _echo_once(client: anytls.Client, port: int, size: int) -> None:
    reader, writer = await anytls.asyncio.open_connection(client, "test", "127.0.0.1", port, timeout=30)
    try:
        data = os.urandom(size)
        writer.write(data)
        await writer.drain()
        got = await asyncio.wait_for(reader.readexactly(size), 60)
        assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
    finally:
        writer.close()
        await writer.wait_closed()


def test_two_hundred_concurrent(client: anytls.Client, echo_port: int) -> None:
    async def main() -> float:
        # A ticker measures the longest gap between loop iterations while opens run.
        worst = 0.0
        stop = False

        async def ticker() -> None:
            nonlocal worst
            last = time.monotonic()
            while not stop:
                await asyncio.sleep(0.01)
                now = time.monotonic()
                worst = max(worst, now - last)
                last = now

        tick = asyncio.ensure_future(ticker())
        await asyncio.gather(*(_echo_once(client, echo_port, 20_000 + i) for i in range(200)))
        stop = True
        await tick
        return worst

    worst = asyncio.run(main())
    assert worst < 1.0, f"event loop stalled for {worst:.2f} s"


def test_async_target_refused(client: anytls.Client, closed_port: int) -> None:
    async def main() -> None:
        # The open does not wait for the SYNACK: the refusal reaches the reader.
        reader, writer = await anytls.asyncio.open_connection(client, "test", "127.0.0.1", closed_port, timeout=10)
        try:
            with pytest.raises(anytls.TargetRefusedError):
                await asyncio.wait_for(reader.read(16), 10)
        finally:
            writer.close()

    asyncio.run(main())


def test_cancelled_opens_stop_in_the_library(pki: dict, client: anytls.Client, echo_port: int) -> None:
    """50 opens to a proxy that never answers its TLS handshake, cancelled: they end in the
    library at once, no executor thread stays parked, a healthy client's open goes through,
    and closing the stuck client does not block the loop."""
    import socket

    silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    stuck = anytls.Client(config=client_toml(silent.getsockname()[1], pki["ca"]))

    async def main() -> None:
        loop = asyncio.get_running_loop()
        tasks = [asyncio.ensure_future(anytls.asyncio.open_connection(stuck, "test", "127.0.0.1", echo_port,
                                                                       timeout=30)) for _ in range(50)]
        await asyncio.sleep(0.3)
        for t in tasks:
            t.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(r, asyncio.CancelledError) for r in results), results
        # Before, each cancelled open kept an executor thread until its 30 s timeout, and the
        # healthy open below queued behind them and timed out.
        assert getattr(loop, "_default_executor", None) is None
        started = time.monotonic()
        await asyncio.wait_for(_echo_once(client, echo_port, 1000), 5)
        assert time.monotonic() - started < 2.0
        # Another open in flight on the stuck client when it closes: the close is quick (it
        # blocked the loop for 9 s before) and the open fails with ClosedError.
        pending = asyncio.ensure_future(anytls.asyncio.open_connection(stuck, "test", "127.0.0.1", echo_port,
                                                                        timeout=30))
        await asyncio.sleep(0.2)
        started = time.monotonic()
        stuck.close()
        assert time.monotonic() - started < 0.5
        with pytest.raises(anytls.ClosedError):
            await asyncio.wait_for(pending, 2)

    try:
        asyncio.run(main())
    finally:
        stuck.close()
        silent.close()


def test_pending_open_from_an_event_loop_of_ones_own(client: anytls.Client, echo_port: int) -> None:
    """Client.start_open without asyncio: select() on fileno(), then the socket."""
    import select

    with client.start_open("test", "127.0.0.1", echo_port, timeout=10) as pending:
        ready, _, _ = select.select([pending], [], [], 10)
        assert ready == [pending]
        with pending.socket(blocking=True) as s:
            s.sendall(b"ping")
            assert s.recv(4) == b"ping"
        with pytest.raises(anytls.InvalidArgumentError):
            pending.socket()
