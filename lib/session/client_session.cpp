#include "session/client_session.hpp"

#include <algorithm>
#include <cerrno>
#include <memory>
#include <span>

#include "base/errors.hpp"
#include "base/page_buffer.hpp"
#include "io/tcp.hpp"
#include "io/timer.hpp"
#include "log/log.hpp"
#include "proto/auth_preamble.hpp"
#include "proto/frame.hpp"
#include "proto/settings.hpp"
#include "proto/socks_address.hpp"

namespace anytls::session {

namespace {

// How much stream data one session write carries at most: 16 full PSH frames. Larger
// stream writes become several session writes, so one huge write() is never copied whole.
constexpr std::size_t max_data_per_write = 16 * proto::max_frame_data;

std::span<const std::byte> as_byte_span(const std::vector<std::uint8_t>& bytes) {
    return std::as_bytes(std::span<const std::uint8_t>(bytes));
}

io::Deadline deadline_after(io::Duration timeout) {
    return timeout > io::Duration::zero() ? io::Deadline::after(timeout) : io::Deadline::never();
}

}  // namespace

Result<std::shared_ptr<tls::TlsContext>> make_client_tls_context(const ClientConfig& config) {
    tls::ClientContextOptions options;
    options.skip_verify = config.skip_verify;
    options.ca_file = config.ca_file;
    options.ca_pem = config.ca_pem;
    return tls::TlsContext::make_client(options);
}

// ---------------------------------------------------------------------------------------
// ClientStream

ClientStream::ClientStream(std::shared_ptr<ClientSession> session, std::shared_ptr<ClientStreamState> state)
    : session_(std::move(session)), state_(std::move(state)) {}

ClientStream::~ClientStream() {
    if (session_ && state_ && !state_->locally_closed) {
        // close() is asynchronous (it writes a FIN); a dropped handle still ends its stream
        // so the session can be reused.
        session_->reactor_->spawn(ClientSession::close_stream_detached(session_, state_));
    }
}

std::uint32_t ClientStream::id() const { return state_ ? state_->id : 0; }
std::size_t ClientStream::buffered() const { return state_ ? state_->buffer.buffered() : 0; }

io::Task<Result<std::size_t>> ClientStream::read(std::span<std::byte> buffer, io::Duration timeout) {
    if (!state_ || state_->locally_closed) co_return make_error(errc::closed, "stream closed");
    auto result = co_await state_->buffer.read(buffer, timeout);
    co_return result;
}

io::Task<Result<void>> ClientStream::write(std::span<const std::byte> data, io::Duration timeout) {
    if (!state_ || state_->locally_closed) co_return make_error(errc::closed, "stream closed");
    while (!data.empty()) {
        // A refused target or a failed session reports its own error, not a generic one.
        if (state_->buffer.failed()) co_return *state_->buffer.error();
        if (session_->closed()) co_return session_->close_reason().value_or(make_error(errc::closed));
        const std::size_t n = std::min(data.size(), max_data_per_write);
        auto chunk = data.first(n);
        std::vector<std::uint8_t> frames;
        frames.reserve(proto::data_frames_size(n));
        proto::append_data_frames(
            frames, state_->id,
            std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(chunk.data()), chunk.size()));
        auto written = co_await session_->write_connection(std::move(frames), timeout);
        if (!written) co_return written;
        data = data.subspan(n);
    }
    co_return Result<void>{};
}

io::Task<Result<void>> ClientStream::close() {
    if (!state_ || state_->locally_closed) co_return Result<void>{};
    auto result = co_await session_->close_stream(state_);
    co_return result;
}

void ClientStream::linger() {
    if (state_ && session_) session_->linger(state_);
}

// ---------------------------------------------------------------------------------------
// ClientSession

ClientSession::ClientSession(io::Reactor& reactor, ClientConfig config, std::shared_ptr<PaddingState> padding,
                             std::unique_ptr<tls::TlsConnection> connection, std::uint64_t seq)
    : reactor_(&reactor),
      config_(std::move(config)),
      padding_(std::move(padding)),
      connection_(std::move(connection)),
      write_mutex_(reactor),
      seq_(seq),
      created_at_(reactor.now()),
      last_used_(created_at_),
      heart_signal_(reactor) {}

ClientSession::~ClientSession() = default;

void ClientSession::fail(Error error) {
    if (state_ == SessionState::closed) return;
    log::debug("[AnyTLS] Session #{} closed: {}", seq_, error.text());
    state_ = SessionState::closed;
    close_reason_ = error;
    if (stream_) {
        stream_->buffer.fail(error);
        stream_->event.notify();
    }
    for (auto& stream : lingering_) stream->buffer.fail(error);
    lingering_.clear();
    heart_signal_.notify();
    connection_->abort();
}

void ClientSession::close() { fail(make_error(errc::closed, "session closed")); }

io::Task<Result<void>> ClientSession::write_connection(std::vector<std::uint8_t> bytes, io::Duration timeout) {
    auto lock = write_mutex_.scoped();
    auto guard = co_await lock;
    if (closed()) co_return close_reason_.value_or(make_error(errc::closed));
    // The scheme is read on every write, as writeConn does (padding.Load()), so a scheme
    // pushed by the server mid-session applies to this session's following writes too.
    auto scheme = padding_->current();
    auto plan = padder_.next(*scheme, bytes, padding_->random());
    Result<void> written;
    if (!plan) {
        written = co_await connection_->write(as_byte_span(bytes), timeout);
    } else {
        // Each piece is its own TLS write (its own record), as writeConn issues one
        // conn.Write per size: that is what shapes the record lengths on the wire.
        for (std::size_t i = 0; i < plan->write_count() && written.ok(); ++i) {
            written = co_await connection_->write(std::as_bytes(plan->write(i)), timeout);
        }
    }
    if (!written) {
        fail(written.error());
        co_return written;
    }
    co_return Result<void>{};
}

io::Task<Result<ClientStream>> ClientSession::open_stream(std::string host, std::uint16_t port,
                                                          io::Duration timeout,
                                                          std::vector<std::uint8_t> early_data) {
    if (closed()) co_return close_reason_.value_or(make_error(errc::closed));
    if (state_ != SessionState::idle) co_return make_error(errc::invalid_argument, "session already carries a stream");
    auto address = proto::SocksAddress::from_host(host, port);
    if (!address) co_return std::move(address).error();

    auto self = shared_from_this();  // keeps the session alive across the awaits below
    auto stream = std::make_shared<ClientStreamState>(*reactor_, ++last_stream_id_, config_.stream_buffer_limit);
    stream_ = stream;
    state_ = SessionState::busy;
    last_used_ = reactor_->now();

    std::vector<std::uint8_t> address_frame;
    {
        auto encoded = proto::encode_socks_address(address.value());
        if (!encoded) co_return std::move(encoded).error();
        auto appended = proto::append_frame(address_frame, proto::Command::psh, stream->id, encoded.value());
        if (!appended) co_return appended.error();
        proto::append_data_frames(address_frame, stream->id, early_data);
    }

    Result<void> written;
    if (!settings_sent_) {
        // First stream: Settings + SYN + PSH(address) in one session write (write 1).
        auto scheme = padding_->current();
        auto body = proto::client_settings(config_.client_name, scheme->md5_hex());
        if (!body) co_return std::move(body).error();
        std::vector<std::uint8_t> bytes;
        auto appended = proto::append_frame(bytes, proto::Command::settings, proto::control_stream_id, body.value());
        if (!appended) co_return appended.error();
        proto::append_frame_header(bytes, proto::Command::syn, stream->id, 0);
        bytes.insert(bytes.end(), address_frame.begin(), address_frame.end());
        settings_sent_ = true;
        sent_padding_md5_ = scheme->md5_hex();
        written = co_await write_connection(std::move(bytes), config_.control_write_timeout);
    } else if (padder_.padding_over()) {
        // Past the padding scheme's last numbered write, write boundaries are no longer part
        // of what the peer (or an observer) sees of the scheme: SYN and the address leave as
        // one TLS write, which saves a send and often a wake-up of the server.
        std::vector<std::uint8_t> bytes;
        proto::append_frame_header(bytes, proto::Command::syn, stream->id, 0);
        bytes.insert(bytes.end(), address_frame.begin(), address_frame.end());
        written = co_await write_connection(std::move(bytes), config_.control_write_timeout);
    } else {
        // Reused session within the padding scheme: SYN, then the address, as two writes (the
        // reference's OpenStream writeControlFrame(SYN), then the proxy's Write(SocksAddr) ->
        // writeDataFrame), so that write numbering and padding match it.
        std::vector<std::uint8_t> syn;
        proto::append_frame_header(syn, proto::Command::syn, stream->id, 0);
        written = co_await write_connection(std::move(syn), config_.control_write_timeout);
        if (written) written = co_await write_connection(std::move(address_frame), config_.control_write_timeout);
    }
    if (!written) co_return written.error();

    // Wait for the SYNACK. A v2 server sends ServerSettings in answer to Settings, before the
    // SYNACK (both follow from frames it reads in order), so once peer_version_ >= 2 a SYNACK
    // is certain to come. A v1 server sends neither; there data or a FIN proves the stream
    // open, and a quiet v1 server costs one synack_timeout on the session's first stream only
    // (after that the session remembers it is v1).
    io::Duration limit = config_.synack_timeout;
    if (timeout > io::Duration::zero() && (limit == io::Duration::zero() || timeout < limit)) limit = timeout;
    const io::Deadline deadline = deadline_after(limit);
    while (true) {
        if (stream->synack == ClientStreamState::SynAck::refused) {
            // A refusing SYNACK after the stream's FIN finds the buffer ended (fail() keeps no
            // error then): the refusal still stands (found by the session fuzzer).
            Error error = stream->buffer.error() ? *stream->buffer.error()
                                                 : make_error(errc::target_refused, "the server refused the stream");
            auto closed_stream = co_await close_stream(stream);  // FIN; the session stays usable
            (void)closed_stream;
            co_return error;
        }
        if (stream->buffer.failed()) co_return *stream->buffer.error();  // the session failed
        if (stream->synack == ClientStreamState::SynAck::connected) break;
        if (peer_version_ < 2 && (stream->data_seen || stream->buffer.finished() || peer_is_v1_)) break;
        if (peer_version_ >= 2 && stream->buffer.finished()) {
            auto closed_stream = co_await close_stream(stream);
            (void)closed_stream;
            co_return make_error(errc::closed, "server closed the stream before its SYNACK");
        }
        bool woken = co_await stream->event.wait(deadline.remaining());
        if (!woken && stream->synack == ClientStreamState::SynAck::waiting && !stream->buffer.ended() &&
            !stream->data_seen) {
            if (peer_version_ >= 2) {
                // The reference closes the whole session when the SYNACK is late.
                auto error = make_error(-ETIMEDOUT, "no SYNACK from the server in time");
                fail(error);
                co_return error;
            }
            peer_is_v1_ = true;
            break;
        }
    }
    co_return ClientStream(self, stream);
}

io::Task<Result<void>> ClientSession::close_stream(std::shared_ptr<ClientStreamState> stream) {
    if (stream->locally_closed) co_return Result<void>{};
    stream->locally_closed = true;
    stream->buffer.close_consumer();
    if (stream_ == stream) stream_.reset();
    std::erase(lingering_, stream);
    if (closed()) co_return Result<void>{};
    // FIN is sent even after the server's own FIN: the reference's Stream.Close always calls
    // streamClosed, which writes it; the receiver ignores a FIN for an unknown stream.
    std::vector<std::uint8_t> fin;
    proto::append_frame_header(fin, proto::Command::fin, stream->id, 0);
    auto written = co_await write_connection(std::move(fin), config_.control_write_timeout);
    if (!written) co_return written;
    if (!closed() && !stream_) {
        state_ = SessionState::idle;
        last_used_ = reactor_->now();
    }
    co_return Result<void>{};
}

void ClientSession::linger(const std::shared_ptr<ClientStreamState>& stream) {
    if (closed() || stream_ != stream || stream->locally_closed) return;
    lingering_.push_back(std::move(stream_));  // leaves stream_ empty
    state_ = SessionState::idle;
    last_used_ = reactor_->now();
}

io::Task<void> ClientSession::close_stream_detached(std::shared_ptr<ClientSession> self,
                                                    std::shared_ptr<ClientStreamState> stream) {
    auto closed = co_await self->close_stream(stream);
    (void)closed;
}

io::Task<Result<void>> ClientSession::ping(io::Duration timeout) {
    if (closed()) co_return close_reason_.value_or(make_error(errc::closed));
    if (peer_version_ < 2) co_return make_error(errc::invalid_argument, "heartbeat needs a v2 peer");
    auto self = shared_from_this();
    const std::uint64_t before = heart_responses_;
    std::vector<std::uint8_t> request;
    proto::append_frame_header(request, proto::Command::heart_request, proto::control_stream_id, 0);
    auto written = co_await write_connection(std::move(request), config_.control_write_timeout);
    if (!written) co_return written;
    const io::Deadline deadline = deadline_after(timeout);
    while (heart_responses_ == before && !closed()) {
        bool woken = co_await heart_signal_.wait(deadline.remaining());
        if (!woken && heart_responses_ == before && !closed()) {
            co_return make_error(-ETIMEDOUT, "no heartbeat response in time");
        }
    }
    if (heart_responses_ == before) co_return close_reason_.value_or(make_error(errc::closed));
    co_return Result<void>{};
}

io::Task<Result<void>> ClientSession::handle_frame(proto::FrameView frame) {
    using proto::Command;
    auto text = [&] { return std::string(reinterpret_cast<const char*>(frame.data.data()), frame.data.size()); };
    // The stream the frame is for: the current one, or one still draining (linger()).
    std::shared_ptr<ClientStreamState> target;
    if (stream_ && stream_->id == frame.stream_id) target = stream_;
    for (auto& s : lingering_)
        if (s->id == frame.stream_id) target = s;
    if (target && target->locally_closed) target.reset();
    const bool current = target && target == stream_;
    switch (frame.command) {
        case Command::psh: {
            if (!target || frame.data.empty()) break;
            auto stream = target;
            stream->data_seen = true;
            stream->event.notify();
            bool room = co_await stream->buffer.wait_for_room();
            if (room) stream->buffer.push(frame.data);
            break;
        }
        case Command::synack:
            if (!current) break;
            if (frame.data.empty()) {
                if (stream_->synack == ClientStreamState::SynAck::waiting)
                    stream_->synack = ClientStreamState::SynAck::connected;
            } else {
                // The reference closes the stream with "remote: <text>"; we keep the text as
                // sent and classify it as the target's fault.
                stream_->synack = ClientStreamState::SynAck::refused;
                stream_->buffer.fail(make_error(errc::target_refused, text()));
            }
            stream_->event.notify();
            break;
        case Command::fin:
            // End of the stream; not echoed. A FIN for another (old) id is ignored.
            if (target) {
                target->buffer.finish();
                target->event.notify();
            }
            break;
        case Command::server_settings: {
            auto version = proto::settings_version(proto::parse_settings(text()));
            // Go keeps byte(v).
            if (version) peer_version_ = static_cast<std::uint8_t>(*version);
            if (stream_) stream_->event.notify();
            break;
        }
        case Command::update_padding_scheme:
            padding_->update(text());
            break;
        case Command::alert: {
            // The text comes from the peer: cut it and mask control bytes before it reaches a
            // log line or an error message (a hostile server could forge log lines otherwise).
            std::string shown = text().substr(0, 256);
            for (auto& c : shown)
                if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
            if (frame.data.size() > shown.size()) shown += "...";
            log::error("[AnyTLS] Alert from server: {}", shown);
            co_return make_error(errc::protocol, "alert from server: " + shown);
        }
        case Command::heart_request: {
            std::vector<std::uint8_t> response;
            proto::append_frame_header(response, Command::heart_response, frame.stream_id, 0);
            auto written = co_await write_connection(std::move(response), config_.control_write_timeout);
            if (!written) co_return written;
            break;
        }
        case Command::heart_response:
            ++heart_responses_;
            heart_signal_.notify();
            break;
        default:
            break;  // Waste, frames only a server receives, unknown commands: ignored
    }
    co_return Result<void>{};
}

io::Task<void> ClientSession::read_loop(std::shared_ptr<ClientSession> self) {
    // Mapped pages: an idle session touches only the pages its few frames land in.
    constexpr std::size_t read_size = 64 * 1024;
    PageBuffer storage(read_size);
    std::span<std::byte> buffer = storage.span();
    proto::FrameDecoder decoder;
    decoder.split_stream_data(true);  // PSH data goes to the stream buffer uncopied
    while (!self->closed()) {
        auto n = co_await self->connection_->read(buffer, io::Duration::zero());
        if (!n) {
            self->fail(std::move(n).error());
            break;
        }
        if (*n == 0) {
            self->fail(make_error(errc::closed, "server closed the session"));
            break;
        }
        std::span<const std::uint8_t> input(reinterpret_cast<const std::uint8_t*>(buffer.data()), *n);
        while (!self->closed()) {
            auto frame = decoder.next(input);
            if (!frame) break;
            auto handled = co_await self->handle_frame(*frame);
            if (!handled) {
                self->fail(std::move(handled).error());
                break;
            }
        }
    }
}

io::Task<Result<std::shared_ptr<ClientSession>>> open_session(io::Reactor& reactor, ClientConfig config,
                                                              std::shared_ptr<PaddingState> padding,
                                                              std::uint64_t seq) {
    if (!padding) padding = std::make_shared<PaddingState>();
    auto context = config.tls_context;
    if (!context) {
        auto made = make_client_tls_context(config);
        if (!made) co_return std::move(made).error();
        context = std::move(made).value();
    }
    auto hash = proto::hash_password(config.password);
    if (!hash) co_return std::move(hash).error();

    auto socket = co_await io::tcp_connect(reactor, config.server_host, config.server_port, config.connect_timeout);
    if (!socket) co_return std::move(socket).error();
    // Keepalive probes keep NAT mappings alive and reveal a dead path on idle sessions
    // (DESIGN.md section 6, "Session health"); a failure to set it is not fatal.
    if (auto ka = socket->set_keepalive(config.tcp_keepalive); !ka) {
        log::debug("[AnyTLS] cannot set TCP keepalive: {}", ka.error().text());
    }
    tls::ClientHandshakeOptions options;
    options.server_name = config.sni.empty() ? config.server_host : config.sni;
    options.alpn = config.alpn;
    options.timeout = config.handshake_timeout;
    auto connection = co_await tls::TlsConnection::connect(reactor, std::move(socket).value(), context, options);
    if (!connection) co_return std::move(connection).error();

    auto session = co_await open_session_over(reactor, std::move(config), std::move(padding),
                                              std::move(connection).value(), seq);
    co_return session;
}

io::Task<Result<std::shared_ptr<ClientSession>>> open_session_over(io::Reactor& reactor, ClientConfig config,
                                                                   std::shared_ptr<PaddingState> padding,
                                                                   std::unique_ptr<tls::TlsConnection> connection,
                                                                   std::uint64_t seq) {
    if (!padding) padding = std::make_shared<PaddingState>();
    auto hash = proto::hash_password(config.password);
    if (!hash) co_return std::move(hash).error();
    // The preamble is ONE TLS write, made before the session exists and so not numbered by
    // its padder (mihomo client.go CreateOutboundTLSConnection: conn.Write(b.Bytes())).
    auto scheme = padding->current();
    auto preamble = proto::build_auth_preamble(hash.value(), scheme->auth_padding_length(padding->random()));
    auto written = co_await connection->write(as_byte_span(preamble), config.control_write_timeout);
    if (!written) co_return written.error();

    std::shared_ptr<ClientSession> session(
        new ClientSession(reactor, std::move(config), std::move(padding), std::move(connection), seq));
    reactor.spawn(ClientSession::read_loop(session));
    co_return session;
}

}  // namespace anytls::session
