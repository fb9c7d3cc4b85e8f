// Round trips to the first echoed byte through the C API (anytls_stream_open, _write, _read),
// counted by the flight relay (tests/round_trips/README.md): a warm stream must take 1, a
// cold one 3. The client talks to a real `anytls server` process through the relay.
#include <doctest/doctest.h>

#include <anytls/anytls.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/flight_relay_process.hpp"
#include "support/round_trip_count.hpp"
#include "support/server_process.hpp"
#include "support/test_certs.hpp"
#include "support/watched_echo_target.hpp"

using namespace anytls::test;
using namespace std::chrono_literals;

namespace {

constexpr int open_timeout_ms =
    60000;  // generous: on today's code the open waits for released flights
const char* const password = "round trips password";

std::string env(const char* name) {
    const char* value = std::getenv(name);
    REQUIRE_MESSAGE(value, name << " must be set (meson sets it)");
    return value;
}

// One `anytls server` for the whole program.
ServerProcess& server() {
    static ServerProcess process;
    static bool started = false;
    if (!started) {
        const auto& pki = test_pki();
        const std::string toml = pki.dir + "/round-trips-server.toml";
        std::ofstream(toml) << "listen = \"127.0.0.1:0\"\ncertificate = \"" << pki.server_cert
                            << "\"\nprivate-key = \"" << pki.server_key
                            << "\"\nsynack = \"after-connect\"\nlog-level = \"warning\"\n"
                            << "[[users]]\nname = \"rtt\"\npassword = \"" << password << "\"\n";
        std::string why;
        REQUIRE_MESSAGE(process.start(env("ANYTLS_EXE"), toml, &why), why);
        started = true;
    }
    return process;
}

// No proactive sessions, nothing timed that could send bytes meanwhile (heartbeats are off by
// default), and an idle session that stays for the whole test.
std::string client_toml(std::uint16_t relay_port) {
    return "log-level = \"warning\"\n[[proxies]]\nname = \"relay\"\ntype = \"anytls\"\nserver = "
           "\"127.0.0.1\"\n"
           "port = " +
           std::to_string(relay_port) + "\npassword = \"" + password +
           "\"\nsni = \"localhost\"\n"
           "ca-file = \"" +
           test_pki().ca_cert +
           "\"\n[proxies.session-override]\nensure-idle-session = 0\n"
           "idle-session-timeout = \"10m\"\nidle-session-check-interval = \"10m\"\n";
}

// Reached once, as a success or a failure (the first call decides).
class Milestone {
public:
    void reach(bool ok) {
        {
            std::lock_guard lock(mutex_);
            if (reached_) return;
            reached_ = true;
            ok_ = ok;
        }
        changed_.notify_all();
    }
    // true: reached as a success within `limit`.
    bool wait(std::chrono::milliseconds limit) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, limit, [&] { return reached_; }) && ok_;
    }

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    bool reached_ = false;
    bool ok_ = false;
};

std::vector<std::uint8_t> payload_bytes() {
    std::vector<std::uint8_t> payload(1000);
    for (std::size_t i = 0; i < payload.size(); ++i)
        payload[i] = static_cast<std::uint8_t>(i * 7 + 1);
    return payload;
}

// A stream's life on its own thread: open, write the payload, read the first echoed byte
// (reaching `echoed`), then the rest of the echo, close. `error` says what went wrong.
struct StreamRun {
    Milestone echoed;
    std::string error;
    std::vector<std::uint8_t> echo;
    std::thread thread;

    void start(anytls_client* client, std::uint16_t target_port,
               const std::vector<std::uint8_t>& payload) {
        thread = std::thread([this, client, target_port, payload] {
            anytls_stream* stream = nullptr;
            int rc = anytls_stream_open(client, "relay", "127.0.0.1", target_port, open_timeout_ms,
                                        &stream);
            if (rc == ANYTLS_OK)
                rc = anytls_stream_write(stream, payload.data(), payload.size(), open_timeout_ms);
            while (rc == ANYTLS_OK && echo.size() < payload.size()) {
                std::uint8_t buffer[4096];
                std::size_t n = 0;
                rc = anytls_stream_read(stream, buffer, sizeof buffer, open_timeout_ms, &n);
                if (rc == ANYTLS_OK && n == 0) rc = ANYTLS_E_CLOSED;
                if (rc != ANYTLS_OK) break;
                echo.insert(echo.end(), buffer, buffer + n);
                echoed.reach(true);
            }
            if (rc != ANYTLS_OK)
                error = std::string(anytls_strerror(rc)) + ": " + anytls_last_error();
            anytls_stream_close(stream);
            echoed.reach(false);  // a failed run must not keep the counter waiting
        });
    }
    void join() {
        if (thread.joinable()) thread.join();
    }
};

void wait_idle_sessions(anytls_client* client, std::uint64_t idle) {
    anytls_pool_stats stats{};
    for (int i = 0; i < 1000; ++i) {
        stats = anytls_pool_stats{};
        stats.size = sizeof stats;
        REQUIRE(anytls_pool_get_stats(client, "relay", &stats) == ANYTLS_OK);
        if (stats.idle == idle && stats.busy == 0) return;
        std::this_thread::sleep_for(10ms);
    }
    FAIL("the pool did not settle at " << idle << " idle sessions (idle " << stats.idle << ", busy "
                                       << stats.busy << ")");
}

void measure(OpenKind kind) {
    const std::string which = kind == OpenKind::warm ? "warm" : "cold";
    WatchedEchoTarget target;
    FlightRelayProcess relay;
    std::string why;
    REQUIRE_MESSAGE(relay.start(env("ANYTLS_FLIGHT_RELAY"), server().port(), &why), why);
    anytls_client* client = nullptr;
    REQUIRE_MESSAGE(anytls_client_open(client_toml(relay.port()).c_str(), &client) == ANYTLS_OK,
                    anytls_last_error());
    const auto payload = payload_bytes();

    if (kind == OpenKind::warm) {
        // The warm session: one stream opened, echoed and closed, with the relay passing.
        StreamRun warm_up;
        warm_up.start(client, target.port(), payload);
        warm_up.join();
        REQUIRE_MESSAGE(warm_up.error.empty(), warm_up.error);
        REQUIRE(warm_up.echo == payload);
        wait_idle_sessions(client, 1);
    }

    relay.hold();
    const FlightStats before = relay.stats();
    const std::size_t received_before = target.received();
    StreamRun run;
    run.start(client, target.port(), payload);
    const RoundTripCount count = count_round_trips(
        relay, kind,
        [&](std::chrono::milliseconds limit) {
            return target.wait_received(received_before + payload.size(), limit);
        },
        [&](std::chrono::milliseconds limit) { return run.echoed.wait(limit); }, before);
    relay.pass();  // the rest of the echo, whatever the count
    run.join();
    std::printf(
        "round_trips capi %s: %zu round trips (%zu new connections, %zu flights; %zu flights "
        "before the "
        "payload reached the target)\n",
        which.c_str(), count.round_trips(), count.new_connections, count.flights,
        count.flights_before_payload);
    std::fflush(stdout);
    CHECK_MESSAGE(run.error.empty(), run.error);
    CHECK(run.echo == payload);
    const std::string verdict = count.verdict(kind);
    CHECK_MESSAGE(verdict.empty(), "C API, " << which << " stream: " << verdict);
    anytls_client_close(client);
}

}  // namespace

TEST_SUITE("round_trips") {
    TEST_CASE("round_trips: a warm C API stream gets its first echoed byte after 1 round trip") {
        measure(OpenKind::warm);
    }

    TEST_CASE("round_trips: a cold C API stream gets its first echoed byte after 3 round trips") {
        measure(OpenKind::cold);
    }

}  // TEST_SUITE
