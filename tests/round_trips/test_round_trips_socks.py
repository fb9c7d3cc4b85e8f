"""Round trips to the first echoed byte through `anytls socks` (SOCKS5 CONNECT and HTTP
CONNECT), counted by the flight relay (README.md here): a warm stream must take 1, a cold one
3. The entry's proxy is the relay, in front of a real `anytls server`.

The client sends its CONNECT request and the payload in one write, without waiting for the
entry's answer, and reads the answer (whenever it comes) before the echo: the count says
when the payload could leave, whether the entry answers CONNECT at once or after the SYNACK.

Run by meson (suite round_trips) with ANYTLS_EXE and ANYTLS_FLIGHT_RELAY set.
"""

from __future__ import annotations

import re
import socket
import struct
import time
import urllib.request

import pytest

from conftest import ANYTLS, PASSWORD, PAYLOAD, pool_keys
from processes import recv_exactly, start_process, stop_process  # tests/cli/processes.py
from round_trip_count import COLD, WARM
from round_trip_measure import measure_round_trips

IO_TIMEOUT = 60  # generous: on today's code the answer waits for released flights


@pytest.fixture()
def socks(anytls_server, relay, tmp_path):
    """An `anytls socks` process whose only proxy is the relay: {"address": (host, port), "metrics": url}."""
    (tmp_path / "client.toml").write_text(f"""
log-level = "warning"
[experimental.anytls-session-management]
{pool_keys()}
[[proxies]]
name = "relay"
type = "anytls"
server = "127.0.0.1"
port = {relay.port}
password = "{PASSWORD}"
sni = "localhost"
ca-file = "{anytls_server['ca']}"
""")
    process, lines = start_process([ANYTLS, "socks", "--config", str(tmp_path / "client.toml"), "--listen",
                                    "127.0.0.1:0", "--metrics", "127.0.0.1:0"], "listening on ")
    host, _, port = lines[-1].split()[-1].rpartition(":")
    metrics = next(line.split()[-1] for line in lines if line.startswith("metrics on "))
    try:
        yield {"address": (host, int(port)), "metrics": metrics}
    finally:
        stop_process(process, expect_success=False)


def read_echo(sock: socket.socket, first_echo) -> bytes:
    echo = b""
    while len(echo) < len(PAYLOAD):
        piece = sock.recv(65536)
        assert piece, "the connection ended before the whole echo"
        echo += piece
        first_echo()
    return echo


def socks5_echo(socks_address, target_port: int):
    def run(first_echo) -> bytes:
        with socket.create_connection(socks_address, timeout=IO_TIMEOUT) as sock:
            sock.sendall(b"\x05\x01\x00")  # no authentication: answered by the entry itself
            assert recv_exactly(sock, 2) == b"\x05\x00"
            request = b"\x05\x01\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack(">H", target_port)
            sock.sendall(request + PAYLOAD)
            head = recv_exactly(sock, 4)
            assert head[:2] == b"\x05\x00", f"SOCKS5 reply {head!r}"
            bound_length = {1: 4, 4: 16}.get(head[3]) or recv_exactly(sock, 1)[0]
            recv_exactly(sock, bound_length + 2)
            return read_echo(sock, first_echo)
    return run


def http_connect_echo(socks_address, target_port: int):
    def run(first_echo) -> bytes:
        with socket.create_connection(socks_address, timeout=IO_TIMEOUT) as sock:
            request = f"CONNECT 127.0.0.1:{target_port} HTTP/1.1\r\nHost: 127.0.0.1:{target_port}\r\n\r\n"
            sock.sendall(request.encode() + PAYLOAD)
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                head += recv_exactly(sock, 1)
            assert re.match(rb"HTTP/1\.1 200 ", head), f"HTTP CONNECT answer {head!r}"
            return read_echo(sock, first_echo)
    return run


def wait_idle(metrics_url: str, idle: int) -> None:
    deadline = time.monotonic() + 15  # a finished tunnel may linger 2 s for the target's end
    text = ""
    while time.monotonic() < deadline:
        text = urllib.request.urlopen(metrics_url, timeout=IO_TIMEOUT).read().decode()
        count = lambda state: int(re.search(rf'anytls_pool_sessions{{proxy="relay",state="{state}"}} (\d+)',  # noqa: E731
                                            text).group(1))
        if count("idle") == idle and count("busy") == 0 and count("creating") == 0:
            return
        time.sleep(0.02)
    raise AssertionError(f"the pool did not settle at {idle} idle sessions:\n{text}")


ENTRIES = {"socks5": socks5_echo, "http_connect": http_connect_echo}


@pytest.mark.parametrize("entry", ENTRIES)
def test_round_trips_warm_socks_entry(entry, socks, relay, target) -> None:
    echo = ENTRIES[entry]
    # The warm session: one stream opened, echoed and closed, with the relay passing.
    assert echo(socks["address"], target.port)(lambda: None) == PAYLOAD
    wait_idle(socks["metrics"], 1)
    measure_round_trips(relay, target, WARM, PAYLOAD, f"anytls socks {entry}", echo(socks["address"], target.port))


@pytest.mark.parametrize("entry", ENTRIES)
def test_round_trips_cold_socks_entry(entry, socks, relay, target) -> None:
    measure_round_trips(relay, target, COLD, PAYLOAD, f"anytls socks {entry}",
                        ENTRIES[entry](socks["address"], target.port))
