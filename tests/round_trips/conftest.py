"""Fixtures of the Python round-trip tests: a real `anytls server` process (self-signed
certificate, trusted through ca-file), a flight relay in front of it per test, and an echo
target that says when it has received the payload."""

from __future__ import annotations

import os
import socket
import threading
from typing import Iterator, List

import pytest

from flight_relay import FlightRelay
from processes import start_process, stop_process  # tests/cli/processes.py

ANYTLS = os.environ.get("ANYTLS_EXE", "anytls")
PASSWORD = "round trips password"
PAYLOAD = bytes((i * 7 + 1) % 256 for i in range(1000))


@pytest.fixture(scope="module")
def anytls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """{"port": ..., "ca": path of the certificate to trust}."""
    directory = tmp_path_factory.mktemp("round-trips-server")
    ca = directory / "ca.pem"
    (directory / "server.toml").write_text(f"""
listen = "127.0.0.1:0"
self-signed = true
self-signed-names = ["localhost", "127.0.0.1"]
synack = "after-connect"
log-level = "warning"
[[users]]
name = "rtt"
password = "{PASSWORD}"
""")
    process, lines = start_process([ANYTLS, "server", "--config", str(directory / "server.toml"), "--write-cert",
                                    str(ca)], "listening on ")
    try:
        yield {"port": int(lines[-1].rpartition(":")[2]), "ca": str(ca)}
    finally:
        stop_process(process, expect_success=False)


@pytest.fixture()
def relay(anytls_server: dict) -> Iterator[FlightRelay]:
    with FlightRelay(anytls_server["port"]) as r:
        yield r


def pool_keys() -> str:
    """No proactive sessions, nothing timed that could send bytes meanwhile (heartbeats are off
    by default), and an idle session that stays for the whole test."""
    return ('ensure-idle-session = 0\nidle-session-timeout = "10m"\nidle-session-check-interval = "10m"\n')


class WatchedEchoTarget:
    """A TCP echo server on 127.0.0.1 that counts what it received, so that a test knows the
    moment its payload reached the target without timing anything."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._changed = threading.Condition()
        self._received = 0
        self._connections: List[socket.socket] = []
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def received(self) -> int:
        with self._changed:
            return self._received

    def wait_received(self, total: int, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self._received >= total, timeout)

    def _accept_loop(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self._connections.append(connection)
            threading.Thread(target=self._echo, args=(connection,), daemon=True).start()

    def _echo(self, connection: socket.socket) -> None:
        try:
            while data := connection.recv(65536):
                with self._changed:
                    self._received += len(data)
                    self._changed.notify_all()
                connection.sendall(data)
        except OSError:
            pass

    def close(self) -> None:
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept()
        except OSError:
            pass
        self._listener.close()
        for connection in self._connections:
            connection.close()


@pytest.fixture()
def target() -> Iterator[WatchedEchoTarget]:
    t = WatchedEchoTarget()
    try:
        yield t
    finally:
        t.close()
