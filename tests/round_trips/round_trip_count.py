"""The counting rule of the round-trip tests (README.md here), in Python. The same rule is in
tests/support/round_trip_count.hpp (C++) and bindings/go/round_trips_relay_test.go (Go); the
three must stay alike.

Call count_round_trips right after the relay was told ``hold`` and the open began (in another
thread). It waits for milestones, never for quiet: it lets a flight through only when the
stream cannot go on without one, and counts

    round trips = connections the relay accepted meanwhile (each TCP handshake is one)
                + flights released until the first echoed byte reached the client.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from flight_relay import FlightRelay, FlightStats

# How long the payload may take to reach the target before a flight is released for it. On
# code that needs no flight it arrives within milliseconds; only a run that does need one
# waits this long. Well under the client's 10 s SYNACK timeout, so that on code that waits
# for the SYNACK the flight released next still reaches the session before it gives up on it
# (and retries on a new one, which would muddle the count it reports).
PAYLOAD_WAIT = 5.0
# How long the other milestones (a new connection's ClientHello, an echoed byte after a
# release) may take. Generous: on code that works they come at once, and code that does not
# has already failed on the payload's wait.
MILESTONE_WAIT = 30.0
# More flights than any open can need: a run that gets here is broken, not slow.
FLIGHT_CAP = 6

WARM, COLD = "warm", "cold"


@dataclass
class RoundTripCount:
    flights_before_payload: int = 0  # flights released when the target had the payload
    flights: int = 0                 # flights released when the client had an echoed byte
    new_connections: int = 0
    error: str = ""                  # set when the run could not finish

    @property
    def round_trips(self) -> int:
        return self.new_connections + self.flights

    def summary(self) -> str:
        return (f"{self.round_trips} round trips ({self.new_connections} new connections, {self.flights} flights; "
                f"{self.flights_before_payload} flights before the payload reached the target)")

    def verdict(self, kind: str) -> str:
        """What the test asserts; "" when the count is as expected: warm 1 (no new connection,
        the payload goes out with the open), cold 3 (the TCP connection, the TLS handshake's
        flight, the echo)."""
        expected = 1 if kind == WARM else 3
        expected_before_payload = 0 if kind == WARM else 1
        expected_connections = 0 if kind == WARM else 1
        problems = []
        if self.error:
            problems.append(f"{self.error} (after {self.flights} flights)")
        if self.flights_before_payload != expected_before_payload:
            what = ("the payload did not reach the target before a server->client flight" if kind == WARM
                    else "the payload did not reach the target with the TLS handshake's flight alone")
            problems.append(f"{what}: the open waits for the SYNACK")
        if self.new_connections != expected_connections:
            problems.append(f"the open made {self.new_connections} new connections, expected {expected_connections}")
        if self.round_trips != expected:
            problems.append(f"measured {self.round_trips} round trips to the first echoed byte, expected {expected}")
        return "; ".join(problems)


def count_round_trips(relay: FlightRelay, kind: str, payload_at_target: Callable[[float], bool],
                      echo_at_client: Callable[[float], bool], before: FlightStats) -> RoundTripCount:
    """payload_at_target / echo_at_client wait up to the given seconds for their milestone and
    say whether it happened (a later call returns True at once)."""
    count = RoundTripCount()

    def finish() -> RoundTripCount:
        count.new_connections = relay.stats().accepted - before.accepted
        return count

    if kind == COLD:
        # The handshake's flight is released once the ClientHello has begun on a new
        # connection: before that there is no client to answer, and the gate would close on
        # the ClientHello itself.
        deadline = time.monotonic() + MILESTONE_WAIT
        while True:
            now = relay.stats()
            if now.accepted > before.accepted and now.records_c2s > before.records_c2s:
                break
            if time.monotonic() > deadline:
                count.error = "the cold open made no new connection through the relay"
                return finish()
            time.sleep(0.005)
        count.flights = relay.release() - before.flights
    while not payload_at_target(PAYLOAD_WAIT):
        if count.flights >= FLIGHT_CAP:
            count.error = "the payload never reached the target"
            return finish()
        count.flights = relay.release() - before.flights
    count.flights_before_payload = count.flights
    while True:
        if count.flights >= FLIGHT_CAP:
            count.error = "no echoed byte reached the client"
            return finish()
        count.flights = relay.release() - before.flights
        if echo_at_client(MILESTONE_WAIT):
            return finish()
