"""FlightRelay: drives tests/support/flight_relay (the C++ program every round-trip test uses)
from Python, over its stdin/stdout line protocol. The binary is named by the
ANYTLS_FLIGHT_RELAY environment variable (meson sets it)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass


@dataclass
class FlightStats:
    accepted: int = 0       # connections accepted since the relay started
    open: int = 0           # connections still open
    flights: int = 0        # releases so far
    held_s2c: int = 0       # server -> client bytes held now
    forwarded_s2c: int = 0
    forwarded_c2s: int = 0
    records_c2s: int = 0    # TLS records the clients began
    records_s2c: int = 0
    holding: int = 0


class FlightRelay:
    """A flight relay in front of 127.0.0.1:upstream_port; its own port is ``.port``."""

    def __init__(self, upstream_port: int, exe: str | None = None) -> None:
        exe = exe or os.environ["ANYTLS_FLIGHT_RELAY"]
        self._process = subprocess.Popen([exe, str(upstream_port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         text=True, bufsize=1)
        first = self._process.stdout.readline().strip()
        if not first.startswith("port "):
            self.close()
            raise RuntimeError(f"flight_relay did not report its port: {first!r}")
        self.port = int(first.split()[1])

    def command(self, line: str) -> str:
        """Sends one command and returns its reply line."""
        self._process.stdin.write(line + "\n")
        self._process.stdin.flush()
        reply = self._process.stdout.readline().strip()
        if not reply:
            raise RuntimeError(f"flight_relay gave no reply to {line!r} (exit code {self._process.poll()})")
        return reply

    def hold(self) -> None:
        self.command("hold")

    def release(self) -> int:
        """Lets one flight through; returns the number of releases so far."""
        return self._fields(self.command("release"))["flight"]

    def pass_all(self) -> None:
        self.command("pass")

    def stats(self) -> FlightStats:
        return FlightStats(**self._fields(self.command("stats")))

    @staticmethod
    def _fields(reply: str) -> dict:
        return {key: int(value) for key, _, value in (w.partition("=") for w in reply.split()[1:])}

    def close(self) -> None:
        if self._process.poll() is None:
            try:
                self._process.stdin.close()  # the end of stdin ends the relay
            except OSError:
                pass
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process.stdout.close()

    def __enter__(self) -> "FlightRelay":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
