"""asyncio: 200 concurrent connections over the fd mode, and the loop never blocks."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time

import pytest

import anytls
import anytls.asyncio


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
