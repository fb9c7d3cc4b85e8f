"""Deadlines and closes at the edges: an open keeps its timeout through a stuck TLS handshake,
and closing a stream wakes a write blocked on a target that never reads."""

from __future__ import annotations

import socket
import threading
import time
from typing import Iterator, List

import pytest

import anytls
from conftest import client_toml


@pytest.fixture()
def silent_listener() -> Iterator[int]:
    """Accepts TCP (the kernel does, from its backlog) and never says a word."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def test_the_open_timeout_holds_during_the_tls_handshake(pki: dict, silent_listener: int) -> None:
    with anytls.Client(config=client_toml(silent_listener, pki["ca"])) as c:
        started = time.monotonic()
        with pytest.raises(anytls.TimeoutError) as info:
            c.open("test", "127.0.0.1", 9, timeout=0.5)
        elapsed = time.monotonic() - started
        # Before, the open ended only at the built-in 10 s handshake timeout.
        assert elapsed < 2.0, elapsed
        assert "test" in info.value.message
        # The client closes at once although the handshake is still in flight.
        started = time.monotonic()
    assert time.monotonic() - started < 2.0


def test_close_wakes_a_write_blocked_on_a_target_that_never_reads(client: anytls.Client) -> None:
    sink = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sink.bind(("127.0.0.1", 0))
    sink.listen(1)
    accepted: List[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(sink.accept()[0]), daemon=True).start()
    s = client.open("test", "127.0.0.1", sink.getsockname()[1], timeout=10, wait_connected=True)
    caught: List[BaseException] = []
    progress = [0]

    def writer() -> None:
        chunk = b"x" * 65536
        try:
            while True:
                s.sendall(chunk)
                progress[0] += len(chunk)
        except BaseException as exc:  # noqa: BLE001
            caught.append(exc)

    t = threading.Thread(target=writer)
    t.start()
    # Wait until the writer is stuck: every buffer between us and the sink is full.
    last, still = -1, 0
    while still < 5:
        time.sleep(0.1)
        still = still + 1 if progress[0] == last else 0
        last = progress[0]
    assert t.is_alive()
    started = time.monotonic()
    s.close()
    t.join(5)
    woke_after = time.monotonic() - started
    assert not t.is_alive()
    # Before, the close waited behind the write until the server's 30 s write timeout.
    assert woke_after < 1.0, woke_after
    assert caught and isinstance(caught[0], anytls.ClosedError), caught
    sink.close()
    for a in accepted:
        a.close()
