// count_round_trips: the counting rule of the round-trip tests (tests/round_trips/README.md),
// in C++. The same rule is written in tests/round_trips/round_trip_count.py and
// bindings/go/round_trips_relay_test.go; the three must stay alike.
//
// Call it right after the relay was told `hold` and the open began (in another thread). It
// waits for milestones, never for quiet: it lets a flight through only when the stream cannot
// go on without one, and counts
//   round trips = connections the relay accepted meanwhile (each TCP handshake is one)
//               + flights released until the first echoed byte reached the client.
#pragma once

#include <chrono>
#include <functional>
#include <sstream>
#include <string>
#include <thread>

#include "support/flight_relay_process.hpp"

namespace anytls::test {

enum class OpenKind { warm, cold };

struct RoundTripCount {
    std::size_t flights_before_payload = 0;  // flights released when the target had the payload
    std::size_t flights = 0;                 // flights released when the client had an echoed byte
    std::size_t new_connections = 0;
    std::string error;  // set when the run could not finish (then the counts are what was seen)

    std::size_t round_trips() const { return new_connections + flights; }

    // What the test asserts: warm 1 (no new connection, the payload goes out with the open),
    // cold 3 (the TCP connection, the TLS handshake's flight, the echo).
    std::string verdict(OpenKind kind) const {
        std::ostringstream out;
        const std::size_t expected = kind == OpenKind::warm ? 1 : 3;
        const std::size_t expected_before_payload = kind == OpenKind::warm ? 0 : 1;
        const std::size_t expected_connections = kind == OpenKind::warm ? 0 : 1;
        auto problem = [&out]() -> std::ostringstream& {
            if (out.tellp() > 0) out << "; ";
            return out;
        };
        if (!error.empty()) problem() << error << " (after " << flights << " flights)";
        if (flights_before_payload != expected_before_payload)
            problem()
                << (kind == OpenKind::warm
                        ? "the payload did not reach the target before a server->client flight"
                        : "the payload did not reach the target with the TLS handshake's flight "
                          "alone")
                << ": the open waits for the SYNACK";
        if (new_connections != expected_connections)
            problem() << "the open made " << new_connections << " new connections, expected "
                      << expected_connections;
        if (round_trips() != expected)
            problem() << "measured " << round_trips()
                      << " round trips to the first echoed byte, expected " << expected;
        return out.str();  // empty: as expected
    }
};

// How long the payload may take to reach the target before a flight is released for it. On
// code that needs no flight it arrives within milliseconds; only a run that does need one
// waits this long. Well under the client's 10 s SYNACK timeout, so that on code that waits
// for the SYNACK the flight released next still reaches the session before it gives up on it
// (and retries on a new one, which would muddle the count it reports).
inline constexpr std::chrono::seconds payload_wait{5};
// How long the other milestones (a new connection's ClientHello, an echoed byte after a
// release) may take. Generous: on code that works they come at once, and code that does not
// has already failed on the payload's wait.
inline constexpr std::chrono::seconds milestone_wait{30};
// More flights than any open can need: a run that gets here is broken, not slow.
inline constexpr std::size_t flight_cap = 6;

// payload_at_target / echo_at_client wait up to the given time for their milestone and say
// whether it happened (they must not consume it: a later call returns true at once).
inline RoundTripCount count_round_trips(
    FlightRelayProcess& relay, OpenKind kind,
    const std::function<bool(std::chrono::milliseconds)>& payload_at_target,
    const std::function<bool(std::chrono::milliseconds)>& echo_at_client,
    const FlightStats& before) {
    RoundTripCount count;
    auto finish = [&] {
        count.new_connections = relay.stats().accepted - before.accepted;
        return count;
    };
    if (kind == OpenKind::cold) {
        // The handshake's flight is released once the ClientHello has begun on a new
        // connection: before that there is no client to answer, and the gate would close on
        // the ClientHello itself.
        const auto deadline = std::chrono::steady_clock::now() + milestone_wait;
        for (;;) {
            auto now = relay.stats();
            if (now.accepted > before.accepted && now.records_c2s > before.records_c2s) break;
            if (std::chrono::steady_clock::now() > deadline) {
                count.error = "the cold open made no new connection through the relay";
                return finish();
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        count.flights = relay.release() - before.flights;
    }
    while (!payload_at_target(payload_wait)) {
        if (count.flights >= flight_cap) {
            count.error = "the payload never reached the target";
            return finish();
        }
        count.flights = relay.release() - before.flights;
    }
    count.flights_before_payload = count.flights;
    do {
        if (count.flights >= flight_cap) {
            count.error = "no echoed byte reached the client";
            return finish();
        }
        count.flights = relay.release() - before.flights;
    } while (!echo_at_client(milestone_wait));
    return finish();
}

}  // namespace anytls::test
