// The flight relay itself (tests/support/flight_relay.cpp), against a scripted client and
// server made of plain sockets: holding, one flight per release, the gate that closes when
// the client starts a new TLS record (and not for ChangeCipherSpec or the rest of a record it
// had begun), the FIN held with the bytes before it. Unlike the round-trip tests this one
// passes on today's code: it checks the measuring tool, not the library.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "support/flight_relay_process.hpp"

using namespace anytls::test;
using namespace std::chrono_literals;

namespace {

// A TLS record header of `type` announcing `body` bytes, followed by them.
std::string record(std::uint8_t type, std::size_t body) {
    std::string r{static_cast<char>(type), 0x03, 0x03, static_cast<char>(body >> 8),
                  static_cast<char>(body & 0xff)};
    r.append(body, 'x');
    return r;
}
constexpr std::uint8_t handshake = 22, change_cipher_spec = 20, application_data = 23;

void send_text(int fd, const std::string& text) {
    REQUIRE(::send(fd, text.data(), text.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(text.size()));
}

// Reads exactly n bytes within 10 s.
std::string read_exactly(int fd, std::size_t n) {
    std::string got;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (got.size() < n && std::chrono::steady_clock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        char buffer[4096];
        const ssize_t r = ::recv(fd, buffer, std::min(sizeof buffer, n - got.size()), 0);
        if (r <= 0) break;
        got.append(buffer, static_cast<std::size_t>(r));
    }
    return got;
}

bool nothing_to_read(int fd) {
    char c;
    return ::recv(fd, &c, 1, MSG_DONTWAIT) < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

// Waits until the relay reports `held` server -> client bytes held.
void wait_held(FlightRelayProcess& relay, std::size_t held) {
    for (int i = 0; i < 2000 && relay.stats().held_s2c != held; ++i)
        std::this_thread::sleep_for(5ms);
    REQUIRE(relay.stats().held_s2c == held);
}

struct Sockets {
    int listener = -1;
    int client = -1;
    int server = -1;  // the relay's upstream connection, as the scripted server sees it
    FlightRelayProcess relay;

    Sockets() {
        listener = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t length = sizeof address;
        REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
        REQUIRE(::listen(listener, 4) == 0);
        REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) == 0);
        const char* exe = std::getenv("ANYTLS_FLIGHT_RELAY");
        REQUIRE_MESSAGE(exe, "ANYTLS_FLIGHT_RELAY must be set (meson sets it)");
        std::string why;
        REQUIRE_MESSAGE(relay.start(exe, ntohs(address.sin_port), &why), why);
        client = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in to{};
        to.sin_family = AF_INET;
        to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        to.sin_port = htons(relay.port());
        REQUIRE(::connect(client, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0);
        server = ::accept(listener, nullptr, nullptr);
        REQUIRE(server >= 0);
    }
    ~Sockets() {
        for (int fd : {client, server, listener})
            if (fd >= 0) ::close(fd);
    }
};

}  // namespace

TEST_SUITE("flight_relay") {
    TEST_CASE("flight relay: forwards both ways, reports its port and counts") {
        Sockets s;
        send_text(s.client, record(handshake, 10));
        CHECK(read_exactly(s.server, 15) == record(handshake, 10));
        send_text(s.server, record(handshake, 20));
        CHECK(read_exactly(s.client, 25) == record(handshake, 20));
        const FlightStats st = s.relay.stats();
        CHECK(st.accepted == 1);
        CHECK(st.open == 1);
        CHECK(st.forwarded_c2s == 15);
        CHECK(st.forwarded_s2c == 25);
        CHECK(st.records_c2s == 1);
        CHECK(st.records_s2c == 1);
        CHECK(s.relay.command("nonsense").rfind("error", 0) == 0);
    }

    TEST_CASE("flight relay: a release lets one flight through; the client's next record ends it") {
        Sockets s;
        s.relay.hold();
        send_text(s.server, record(handshake, 30));
        wait_held(s.relay, 35);
        CHECK(nothing_to_read(s.client));

        CHECK(s.relay.release() == 1);
        CHECK(read_exactly(s.client, 35) == record(handshake, 30));
        // The gate stays open: what the server sends before the client speaks is the same flight.
        send_text(s.server, record(application_data, 40));
        CHECK(read_exactly(s.client, 45) == record(application_data, 40));

        // ChangeCipherSpec is not an answer: the gate stays open.
        send_text(s.client, record(change_cipher_spec, 1));
        CHECK(read_exactly(s.server, 6) == record(change_cipher_spec, 1));
        send_text(s.server, record(application_data, 7));
        CHECK(read_exactly(s.client, 12) == record(application_data, 7));

        // The client begins a record, in two pieces: its first byte closes the gate, the rest
        // belongs to the same record and changes nothing.
        const std::string answer = record(application_data, 50);
        send_text(s.client, answer.substr(0, 3));
        CHECK(read_exactly(s.server, 3) == answer.substr(0, 3));  // the relay has seen it
        send_text(s.server, record(application_data, 60));        // the server's answer: held
        wait_held(s.relay, 65);
        send_text(s.client, answer.substr(3));
        CHECK(read_exactly(s.server, answer.size() - 3) == answer.substr(3));
        CHECK(nothing_to_read(s.client));
        CHECK(s.relay.stats().records_c2s == 2);

        CHECK(s.relay.release() == 2);
        CHECK(read_exactly(s.client, 65) == record(application_data, 60));
        CHECK(s.relay.stats().flights == 2);
    }

    TEST_CASE(
        "flight relay: the server's FIN is held with the bytes before it; pass forwards all") {
        Sockets s;
        s.relay.hold();
        send_text(s.server, record(application_data, 5));
        ::shutdown(s.server, SHUT_WR);
        wait_held(s.relay, 10);
        CHECK(nothing_to_read(s.client));  // neither the bytes nor the end
        s.relay.pass();
        CHECK(read_exactly(s.client, 10) == record(application_data, 5));
        char c;
        CHECK(::recv(s.client, &c, 1, 0) == 0);  // then the FIN
        CHECK_FALSE(s.relay.stats().holding);
    }

}  // TEST_SUITE
