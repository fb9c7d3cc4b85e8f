"""Round trips to the first echoed byte through the Python binding (anytls.Client.open),
counted by the flight relay (README.md here): a warm stream must take 1, a cold one 3.

Run by meson (suite round_trips) with ANYTLS_EXE, ANYTLS_FLIGHT_RELAY, ANYTLS_LIBRARY and
PYTHONPATH=bindings/python set.
"""

from __future__ import annotations

import time

import anytls
from conftest import PASSWORD, PAYLOAD, pool_keys
from round_trip_count import COLD, WARM
from round_trip_measure import measure_round_trips

OPEN_TIMEOUT = 60  # generous: on today's code the open waits for released flights


def client_toml(relay_port: int, ca: str) -> str:
    return (f'log-level = "warning"\n[[proxies]]\nname = "relay"\ntype = "anytls"\nserver = "127.0.0.1"\n'
            f'port = {relay_port}\npassword = "{PASSWORD}"\nsni = "localhost"\nca-file = "{ca}"\n'
            f'[proxies.session-override]\n{pool_keys()}')


def echo_through(client: anytls.Client, target_port: int):
    def run(first_echo) -> bytes:
        with client.open("relay", "127.0.0.1", target_port, timeout=OPEN_TIMEOUT, io_timeout=OPEN_TIMEOUT) as stream:
            stream.sendall(PAYLOAD)
            echo = b""
            while len(echo) < len(PAYLOAD):
                piece = stream.recv(65536)
                assert piece, "the stream ended before the whole echo"
                echo += piece
                first_echo()
            return echo
    return run


def wait_idle(client: anytls.Client, idle: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        stats = client.stats("relay")
        if stats.idle == idle and stats.busy == 0:
            return
        time.sleep(0.01)
    raise AssertionError(f"the pool did not settle at {idle} idle sessions: {client.stats('relay')}")


def test_round_trips_warm_python_client_open(anytls_server, relay, target) -> None:
    with anytls.Client(config=client_toml(relay.port, anytls_server["ca"])) as client:
        # The warm session: one stream opened, echoed and closed, with the relay passing.
        assert echo_through(client, target.port)(lambda: None) == PAYLOAD
        wait_idle(client, 1)
        measure_round_trips(relay, target, WARM, PAYLOAD, "python Client.open", echo_through(client, target.port))


def test_round_trips_cold_python_client_open(anytls_server, relay, target) -> None:
    with anytls.Client(config=client_toml(relay.port, anytls_server["ca"])) as client:
        measure_round_trips(relay, target, COLD, PAYLOAD, "python Client.open", echo_through(client, target.port))
