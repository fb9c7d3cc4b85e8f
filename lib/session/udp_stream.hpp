// UdpStream: the client side of UDP-over-TCP v2 (sing uot; format in proto/udp_over_tcp.hpp)
// on one AnyTLS stream.
//
// open_udp_stream() opens a stream to `sp.v2.udp-over-tcp.arpa:0` on an idle session (the
// target sing's uot.RequestDestination(2) gives and sing-box's anytls outbound dials), then
// sends the request header (isConnect + destination) as the stream's next PSH — like sing's
// uot.Client.DialConn (not the lazy DialEarlyConn, which holds the header back until the first
// datagram). Datagrams then travel as uot packets:
//   - connect mode: every datagram goes to the destination; replies come from it;
//   - per-packet mode: each datagram carries its own destination and each reply its source.
//
// Interop note: open_stream waits for the server's SYNACK before the header can go out. Our
// server answers at once; a server that acknowledges only after reading the header (sing-box
// routes the stream, reads the header, then dials) would leave open_udp_stream waiting for
// the SYNACK until the session's synack_timeout. Sending the header with the SYN needs an
// early-data parameter on ClientSession::open_stream (not there yet).
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
    proto::SocksAddress source;  // connect mode: the request's destination (as sing's Conn.ReadFrom)
};

class UdpStream {
public:
    // Sends the request header on an already opened stream to the magic target.
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
    io::Task<Result<void>> send_to(std::span<const std::byte> payload, const proto::SocksAddress& destination,
                                   io::Duration timeout);
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
    UdpStream(ClientStream stream, proto::UdpOverTcpRequest request)
        : stream_(std::move(stream)), request_(std::move(request)), decoder_(request_.is_connect) {}

    ClientStream stream_;
    proto::UdpOverTcpRequest request_;
    proto::UdpOverTcpPacketDecoder decoder_;
    std::vector<std::byte> read_buffer_;
};

// Opens a UDP-over-TCP stream on `session` (which must be idle) to host:port. `host` may be an
// IP literal or a name (the server resolves it). `timeout` covers the stream's SYNACK and the
// header write.
io::Task<Result<UdpStream>> open_udp_stream(std::shared_ptr<ClientSession> session, std::string host,
                                            std::uint16_t port, bool connect_mode, io::Duration timeout);

}  // namespace anytls::session
