// UdpRelay: the server side of UDP-over-TCP v2 (sing uot; format in proto/udp_over_tcp.hpp).
//
// server.cpp hands over a stream whose target was `sp.v2.udp-over-tcp.arpa` (after sending
// its SYNACK, see below). The relay then
//   1. reads the request header (isConnect + destination) within `header_timeout`;
//   2. opens one UDP socket: connect mode resolves the destination once and connect()s to it
//      (the kernel then drops datagrams from anyone else); per-packet mode binds a dual-stack
//      [::]:0 socket and sends each datagram to its own address (names resolved on a helper
//      thread, remembered for the relay's life in a cache of at most 256 names);
//   3. relays both ways — client packets become datagrams; datagrams become packets (with
//      their source address in per-packet mode, as sing's server.go loopOutput does);
//   4. ends after `idle_timeout` without a datagram in either direction, on the client's FIN,
//      or on a session failure, sending FIN unless the client already did.
// A datagram the target side cannot take (no route, unresolvable name, ICMP refusal) is
// dropped and logged, as UDP would; the stream goes on. A malformed packet ends the stream.
//
// Why the SYNACK goes out before the header: a client may wait for the SYNACK before it
// sends the header (sing's uot.Client.DialConn on a stream that waits), or send it with the
// SYN (our open_udp_stream), or with its first datagram (sing's lazy client, uot/lazy.go).
// Answering at once suits all three. A connect-mode destination that cannot be resolved therefore
// ends the stream with FIN, not with SYNACK error text.
//
// Memory per relay: one 64 KiB read buffer, the packet decoder (one read plus one incomplete
// packet: at most ~128 KiB), one 64 KiB datagram buffer, and the frames of one datagram being
// written. Client data waiting beyond that stays in the stream's bounded StreamBuffer, and
// datagrams waiting beyond one stay in the kernel's socket buffer (and are dropped by it when
// full), so a slow client can never make the relay buffer without bound.
//
// Reactor thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "base/result.hpp"
#include "io/clock.hpp"
#include "io/reactor.hpp"
#include "io/task.hpp"

namespace anytls::server {

struct UdpRelayOptions {
    io::Duration header_timeout = std::chrono::seconds(10);  // request header complete
    io::Duration idle_timeout = std::chrono::seconds(60);    // no datagram either way
    io::Duration write_timeout = std::chrono::seconds(30);   // per datagram send / stream write
};

// What the relay needs from the AnyTLS stream it runs on (server.cpp implements it).
class UdpRelayStream {
public:
    virtual ~UdpRelayStream() = default;
    // The client's bytes: > 0 read, 0 on the client's FIN, -ETIMEDOUT after `timeout`
    // (zero: none), another error when the stream or session failed.
    virtual io::Task<Result<std::size_t>> read(std::span<std::byte> buffer,
                                               io::Duration timeout) = 0;
    // Sends bytes to the client (as PSH frames).
    virtual io::Task<Result<void>> write(std::vector<std::uint8_t> bytes) = 0;
    // Ends the stream from the server's side: FIN unless it already ended. Idempotent.
    virtual io::Task<void> finish() = 0;
};

struct UdpRelayStats {
    std::uint64_t datagrams_sent = 0;      // client -> target
    std::uint64_t datagrams_received = 0;  // target -> client
    std::uint64_t datagrams_dropped = 0;   // could not be sent to the target
};

// Runs the relay until it ends. `initial` is stream data already read past the SOCKS address
// (the start of the header, possibly packets too). `stats`, if given, must outlive the call.
io::Task<void> run_udp_relay(io::Reactor* reactor, std::shared_ptr<UdpRelayStream> stream,
                             std::vector<std::uint8_t> initial, UdpRelayOptions options,
                             std::shared_ptr<UdpRelayStats> stats = nullptr);

}  // namespace anytls::server
