"""measure_round_trips: one counted stream, the same for every Python entry (SOCKS5, HTTP
CONNECT, Client.open). The entry's part is a function that opens a stream, writes the
payload, calls first_echo() when an echoed byte arrived, and returns the whole echo."""

from __future__ import annotations

import threading
from typing import Callable, Optional

from flight_relay import FlightRelay
from round_trip_count import RoundTripCount, count_round_trips

StreamFunction = Callable[[Callable[[], None]], bytes]


class StreamRun:
    """Runs a StreamFunction on its own thread."""

    def __init__(self, function: StreamFunction) -> None:
        self._function = function
        self._echoed = threading.Event()
        self.echo = b""
        self.error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.echo = self._function(self._echoed.set)
        except BaseException as e:  # reported by the test
            self.error = e
        finally:
            self._echoed.set()  # a failed run must not keep the counter waiting

    def wait_echo(self, timeout: float) -> bool:
        return self._echoed.wait(timeout) and self.error is None

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise AssertionError("the stream's thread did not finish")


def measure_round_trips(relay: FlightRelay, target, kind: str, payload: bytes, label: str,
                        function: StreamFunction) -> RoundTripCount:
    """Holds the relay, runs the stream, counts; asserts the echo and the count."""
    relay.hold()
    before = relay.stats()
    received_before = target.received()
    run = StreamRun(function)
    count = count_round_trips(relay, kind, lambda t: target.wait_received(received_before + len(payload), t),
                              run.wait_echo, before)
    relay.pass_all()  # the rest of the echo, whatever the count
    run.join(60)
    print(f"round_trips {label} {kind}: {count.summary()}")
    assert run.error is None, f"{label}: the stream failed: {run.error!r}"
    assert run.echo == payload, f"{label}: the echo differs from the payload"
    verdict = count.verdict(kind)
    assert not verdict, f"{label}, {kind} stream: {verdict}"
    return count
