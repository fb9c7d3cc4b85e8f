// UdpStream: the client side of UDP-over-TCP v2 (sing uot; format in proto/udp_over_tcp.hpp)
// on one AnyTLS stream.
//
// open_udp_stream() opens a stream to `sp.v2.udp-over-tcp.arpa:0` on an idle session (the
// target sing's uot.RequestDestination(2) gives and sing-box's anytls outbound dials) with the
// request header (isConnect + destination) as early data: SYN, address and header leave in
// one session write. That matters for interop: a server that routes the stream first reads
// the header and only then dials and acknowledges (sing-box does), so a client that waited
// for the SYNACK before sending the header would wait until the synack timeout. Datagrams
// then travel as uot packets:
//   - connect mode: every datagram goes to the destination; replies come from it;
//   - per-packet mode: each datagram carries its own destination and each reply its source.
//
// Reactor thread only. The stream holds its session; close() (or dropping the UdpStream)
// sends FIN and makes the session reusable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "io/clock.hpp"
#include "io/task.hpp"
#include "proto/socks_address.hpp"
#include "proto/udp_over_tcp.hpp"
#include "session/client_session.hpp"

namespace anytls::session {

struct UdpDatagram {
    std::vector<std::uint8_t> payload;
    proto::SocksAddress
        source;  // connect mode: the request's destination (as sing's Conn.ReadFrom)
};

class UdpStream {
public:
    // Sends the request header on an already opened stream to the magic target (for a server
    // that acknowledges before reading it; open_udp_stream sends it with the SYN instead).
    static io::Task<Result<UdpStream>> start(ClientStream stream, proto::UdpOverTcpRequest request,
                                             io::Duration timeout);

    UdpStream(UdpStream&&) noexcept = default;
    UdpStream& operator=(UdpStream&&) = delete;
    UdpStream(const UdpStream&) = delete;
    UdpStream& operator=(const UdpStream&) = delete;

    // Connect mode: one datagram to the destination. Per-packet mode: errc::invalid_argument.
    io::Task<Result<void>> send(std::span<const std::byte> payload, io::Duration timeout);
    // One datagram to `destination` (per-packet mode); in connect mode the address is ignored,
    // as sing's uot Conn.WriteTo does. errc::invalid_argument for a payload over 65535 bytes.
    io::Task<Result<void>> send_to(std::span<const std::byte> payload,
                                   const proto::SocksAddress& destination, io::Duration timeout);
    // The next datagram. -ETIMEDOUT when none arrived within `timeout` (zero: no limit; the
    // stream stays usable, a partly received packet is kept); errc::closed when the server
    // ended the stream; errc::protocol for a malformed packet; the session's error otherwise.
    io::Task<Result<UdpDatagram>> receive(io::Duration timeout);
    // FIN.
    io::Task<Result<void>> close();

    const proto::UdpOverTcpRequest& request() const { return request_; }
    bool connect_mode() const { return request_.is_connect; }
    ClientStream& stream() { return stream_; }

private:
    friend io::Task<Result<UdpStream>> open_udp_stream(std::shared_ptr<ClientSession>, std::string,
                                                       std::uint16_t, bool, io::Duration);
    UdpStream(ClientStream stream, proto::UdpOverTcpRequest request)
        : stream_(std::move(stream)), request_(std::move(request)), decoder_(request_.is_connect) {}

    ClientStream stream_;
    proto::UdpOverTcpRequest request_;
    proto::UdpOverTcpPacketDecoder decoder_;
    std::vector<std::byte> read_buffer_;
};

// Opens a UDP-over-TCP stream on `session` (which must be idle) to host:port. `host` may be an
// IP literal or a name (the server resolves it). `timeout` covers the session write (SYN,
// address and request header together) and the stream's SYNACK.
io::Task<Result<UdpStream>> open_udp_stream(std::shared_ptr<ClientSession> session,
                                            std::string host, std::uint16_t port, bool connect_mode,
                                            io::Duration timeout);

}  // namespace anytls::session
