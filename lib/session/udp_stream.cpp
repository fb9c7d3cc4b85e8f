// UDP-over-TCP v2 on a client stream (see udp_stream.hpp).
#include "session/udp_stream.hpp"

#include "base/errors.hpp"
#include "io/timer.hpp"

namespace anytls::session {

namespace {

// The port sing's uot.RequestDestination leaves at zero.
constexpr std::uint16_t udp_over_tcp_port = 0;

}  // namespace

io::Task<Result<UdpStream>> UdpStream::start(ClientStream stream, proto::UdpOverTcpRequest request,
                                             io::Duration timeout) {
    std::vector<std::uint8_t> header;
    auto encoded = proto::append_udp_over_tcp_request(header, request);
    if (!encoded) co_return std::move(encoded).error();
    auto written =
        co_await stream.write(std::as_bytes(std::span<const std::uint8_t>(header)), timeout);
    if (!written) co_return std::move(written).error();
    co_return UdpStream(std::move(stream), std::move(request));
}

io::Task<Result<void>> UdpStream::send(std::span<const std::byte> payload, io::Duration timeout) {
    if (!request_.is_connect) {
        co_return make_error(errc::invalid_argument,
                             "per-packet UDP-over-TCP needs a destination per datagram");
    }
    auto sent = co_await send_to(payload, request_.destination, timeout);
    co_return sent;
}

io::Task<Result<void>> UdpStream::send_to(std::span<const std::byte> payload,
                                          const proto::SocksAddress& destination,
                                          io::Duration timeout) {
    std::vector<std::uint8_t> packet;
    auto bytes = std::span<const std::uint8_t>(
        reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size());
    auto encoded =
        proto::append_udp_over_tcp_packet(packet, request_.is_connect, &destination, bytes);
    if (!encoded) co_return encoded;
    // One packet per stream write: it leaves in one piece (or in 65535-byte PSH frames).
    auto written =
        co_await stream_.write(std::as_bytes(std::span<const std::uint8_t>(packet)), timeout);
    co_return written;
}

io::Task<Result<UdpDatagram>> UdpStream::receive(io::Duration timeout) {
    const io::Deadline deadline =
        timeout > io::Duration::zero() ? io::Deadline::after(timeout) : io::Deadline::never();
    if (read_buffer_.empty()) read_buffer_.resize(64 * 1024);
    while (true) {
        auto packet = decoder_.next();
        if (!packet) co_return std::move(packet).error();
        if (*packet) {
            const auto& view = **packet;
            UdpDatagram datagram;
            datagram.payload.assign(view.payload.begin(), view.payload.end());
            datagram.source = view.address ? *view.address : request_.destination;
            co_return datagram;
        }
        if (deadline.expired()) co_return make_error(-ETIMEDOUT, "no datagram in time");
        auto n = co_await stream_.read(read_buffer_, deadline.remaining());
        if (!n) co_return std::move(n).error();
        if (*n == 0) co_return make_error(errc::closed, "the server ended the UDP-over-TCP stream");
        decoder_.feed(std::span<const std::uint8_t>(
            reinterpret_cast<const std::uint8_t*>(read_buffer_.data()), *n));
    }
}

io::Task<Result<void>> UdpStream::close() {
    auto closed = co_await stream_.close();
    co_return closed;
}

io::Task<Result<UdpStream>> open_udp_stream(std::shared_ptr<ClientSession> session,
                                            std::string host, std::uint16_t port, bool connect_mode,
                                            io::Duration timeout) {
    auto destination = proto::SocksAddress::from_host(host, port);
    if (!destination) co_return std::move(destination).error();
    const io::Deadline deadline =
        timeout > io::Duration::zero() ? io::Deadline::after(timeout) : io::Deadline::never();
    proto::UdpOverTcpRequest request;
    request.is_connect = connect_mode;
    request.destination = std::move(destination).value();
    std::vector<std::uint8_t> header;
    auto encoded = proto::append_udp_over_tcp_request(header, request);
    if (!encoded) co_return std::move(encoded).error();
    auto stream =
        co_await session->open_stream(std::string(proto::udp_over_tcp_host), udp_over_tcp_port,
                                      deadline.remaining(), std::move(header));
    if (!stream) co_return std::move(stream).error();
    co_return UdpStream(std::move(stream).value(), std::move(request));
}

}  // namespace anytls::session
