// The AnyTLS server (see server.hpp; docs/DESIGN.md, "The server"): the accept loop, one
// coroutine per connection through the TLS handshake and the auth preamble (a failure goes to
// fallback_relay), then one reader per session that decodes frames and answers Settings, SYN,
// PSH, FIN and HeartRequest. Each stream dials its target and is relayed by io::relay
// (StreamRelay below); streams to the UDP-over-TCP host go to udp_relay instead.
// Reactor thread only; the state of a server is its ServerCore, which its tasks hold.
#include "server/server.hpp"

#include <algorithm>
#include <cerrno>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "base/errors.hpp"
#include "base/host_port.hpp"
#include "base/page_buffer.hpp"
#include "io/cancellation.hpp"
#include "io/relay.hpp"
#include "io/task_scope.hpp"
#include "io/timer.hpp"
#include "log/log.hpp"
#include "proto/auth_preamble.hpp"
#include "proto/frame.hpp"
#include "proto/frame_decoder.hpp"
#include "proto/settings.hpp"
#include "proto/socks_address.hpp"
#include "server/fallback_relay.hpp"
#include "server/udp_relay.hpp"
#include "io/stream_buffer.hpp"
#include "tls/tls_connection.hpp"

namespace anytls::server {

namespace detail {

struct ServerSession;

struct ServerCore {
    ServerCore(io::Reactor& r, ServerConfig c) : reactor(&r), config(std::move(c)), scope(r) {}

    io::Reactor* reactor;
    ServerConfig config;
    std::shared_ptr<tls::TlsContext> context;
    proto::PaddingScheme scheme;
    std::vector<proto::PasswordHash> password_hashes;
    io::TcpListener listener;
    io::SocketAddress bound;
    HostPort fallback;  // config.fallback, parsed
    // Every coroutine of the server runs here, and every wait of theirs gets its cancellation:
    // stop() cancels it, shutdown() joins it (docs/DESIGN.md, "Shutdown"). The tasks hold the
    // core, so the scope outlives them.
    io::TaskScope scope;
    bool started = false;
    bool stopped = false;
    // Connections open now, handshaking ones included, over every server sharing it.
    std::shared_ptr<ConnectionBudget> budget;
    std::size_t connections_here = 0;  // this server's share of budget->live
    // Set for the accepting server of a ServerGroup: where accepted sockets go.
    Server::Dispatch dispatch;
    std::set<ServerSession*> sessions;
    ServerStats stats;
};

// One stream of a session: the client's data waits in `buffer` until the pump sends it to
// the target socket.
struct ServerStream {
    ServerStream(io::Reactor& r, std::uint32_t stream_id, std::size_t limit)
        : id(stream_id), buffer(r, limit) {}
    std::uint32_t id;
    io::StreamBuffer buffer;
    io::Socket target;
    bool finished = false;  // FIN sent or received; removed from the session
};

struct ServerSession : std::enable_shared_from_this<ServerSession> {
    ServerSession(std::shared_ptr<ServerCore> c, std::unique_ptr<tls::TlsConnection> conn)
        : core(std::move(c)),
          reactor(core->reactor),
          connection(std::move(conn)),
          write_mutex(*reactor) {}

    std::shared_ptr<ServerCore> core;
    io::Reactor* reactor;
    std::unique_ptr<tls::TlsConnection> connection;
    io::AsyncMutex write_mutex;
    std::map<std::uint32_t, std::shared_ptr<ServerStream>> streams;
    // The user's entry in core->stats.traffic_by_user (map nodes stay put).
    UserTraffic* traffic = nullptr;
    bool settings_received = false;
    int peer_version = 0;
    bool closed = false;

    io::Task<Result<void>> write_bytes(std::vector<std::uint8_t> bytes) {
        auto lock = write_mutex.scoped();
        auto guard = co_await lock;
        if (closed) co_return make_error(errc::closed, "session closed");
        auto written = co_await connection->write(
            std::as_bytes(std::span<const std::uint8_t>(bytes)), core->config.write_timeout);
        if (!written)
            fail(written.error());
        else
            traffic->bytes_out += bytes.size();
        co_return written;
    }

    // As write_bytes, for bytes the caller keeps alive until this completes (it awaits at once).
    io::Task<Result<void>> write_span(std::span<const std::uint8_t> bytes) {
        auto lock = write_mutex.scoped();
        auto guard = co_await lock;
        if (closed) co_return make_error(errc::closed, "session closed");
        auto written = co_await connection->write(std::as_bytes(bytes), core->config.write_timeout);
        if (!written)
            fail(written.error());
        else
            traffic->bytes_out += bytes.size();
        co_return written;
    }

    io::Task<Result<void>> write_frame(proto::Command command, std::uint32_t id,
                                       std::string_view text) {
        std::vector<std::uint8_t> bytes;
        if (proto::command_carries_data(command)) {
            // Texts we send (errors, schemes) are cut to what one frame carries.
            auto appended =
                proto::append_frame(bytes, command, id, text.substr(0, proto::max_frame_data));
            if (!appended) co_return appended;
        } else {
            proto::append_frame_header(bytes, command, id, 0);
        }
        auto written = co_await write_bytes(std::move(bytes));
        co_return written;
    }

    void fail(const Error& error) {
        if (closed) return;
        closed = true;
        log::debug("[AnyTLS] server session closed: {}", error.text());
        for (auto& [id, stream] : streams) {
            stream->finished = true;
            stream->buffer.fail(error);
            if (stream->target.valid()) stream->target.shutdown();
        }
        streams.clear();
        connection->abort();
    }

    // Ends a stream from the server's side: FIN to the client (not after its own FIN).
    io::Task<void> finish_stream(std::shared_ptr<ServerStream> stream) {
        stream->buffer.close_consumer();
        if (stream->target.valid()) stream->target.shutdown();
        if (stream->finished) co_return;
        stream->finished = true;
        streams.erase(stream->id);
        if (closed) co_return;
        auto written = co_await write_frame(proto::Command::fin, stream->id, {});
        (void)written;
    }

    io::Task<Result<void>> handle_frame(proto::FrameView frame);
};

// The relay of one stream (io::relay, docs/DESIGN.md, "Relays"): a is the client's side (its
// bytes from the stream's buffer; the target's bytes back as PSH frames), b the target socket.
// Either end ends the stream: the client's FIN closes the target (AnyTLS has no half-close),
// the target's end or failure sends a FIN to the client.
struct StreamRelay {
    // The client's side as an endpoint. The target's bytes are received straight behind a
    // frame header (at most one frame's data per receive, io::RelayDirectionOptions::headroom),
    // so on their way to the client only TLS copies them.
    struct ClientSide {
        ServerSession* session;
        ServerStream* stream;
        io::Task<Result<std::size_t>> read(std::span<std::byte> buffer, io::Duration timeout) {
            auto n = co_await stream->buffer.read(buffer, timeout);
            co_return n;
        }
        io::Task<Result<void>> write_in_place(std::span<std::byte> frame, io::Duration) {
            if (stream->finished || session->closed)
                co_return make_error(errc::closed, "stream closed");
            const auto size = static_cast<std::uint16_t>(frame.size() - proto::frame_header_size);
            const auto header = proto::frame_header(proto::Command::psh, stream->id, size);
            auto* bytes = reinterpret_cast<std::uint8_t*>(frame.data());
            std::copy(header.begin(), header.end(), bytes);
            const std::span<const std::uint8_t> psh(bytes, frame.size());
            auto written = co_await session->write_span(psh);
            co_return written;
        }
    };

    StreamRelay(std::shared_ptr<ServerSession> s, std::shared_ptr<ServerStream> st)
        : session(std::move(s)),
          stream(std::move(st)),
          client{session.get(), stream.get()},
          target{session->reactor, stream->target.fd(), &session->core->scope.cancellation()} {}

    std::shared_ptr<ServerSession> session;
    std::shared_ptr<ServerStream> stream;
    ClientSide client;
    io::SocketEndpoint target;

    ClientSide& a() { return client; }
    io::SocketEndpoint& b() { return target; }

    io::RelayDirectionOptions options(io::RelayDirection direction) const {
        io::RelayDirectionOptions options;
        options.reactor = session->reactor;
        options.write_timeout = session->core->config.write_timeout;
        if (direction == io::RelayDirection::b_to_a) {
            options.max_read = proto::max_frame_data;
            options.headroom = proto::frame_header_size;
        }
        return options;
    }
    // The client's FIN (or a failed target write) closes the target, which also wakes the
    // other direction, which then ends without a FIN since the stream is finished. The
    // target's end or failure: FIN to the client.
    io::Task<void> direction_ended(io::RelayDirection, io::RelayEnd) {
        co_await session->finish_stream(stream);
    }
    io::Task<void> both_ended() { co_return; }
};

// A stream to sp.v2.udp-over-tcp.arpa as seen by the UDP relay (udp_relay.hpp).
struct UdpOverTcpStream final : UdpRelayStream {
    UdpOverTcpStream(std::shared_ptr<ServerSession> s, std::shared_ptr<ServerStream> st)
        : session(std::move(s)), stream(std::move(st)) {}
    std::shared_ptr<ServerSession> session;
    std::shared_ptr<ServerStream> stream;

    io::Task<Result<std::size_t>> read(std::span<std::byte> buffer, io::Duration timeout) override {
        auto n = co_await stream->buffer.read(buffer, timeout);
        co_return n;
    }
    io::Task<Result<void>> write(std::vector<std::uint8_t> bytes) override {
        if (stream->finished || session->closed)
            co_return make_error(errc::closed, "stream closed");
        std::vector<std::uint8_t> frames;
        proto::append_data_frames(frames, stream->id, bytes);
        auto written = co_await session->write_bytes(std::move(frames));
        co_return written;
    }
    io::Task<void> finish() override { co_await session->finish_stream(stream); }
};

// UDP-over-TCP: SYNACK at once (see udp_relay.hpp for why), then the relay owns the stream.
io::Task<void> handle_udp_over_tcp(std::shared_ptr<ServerSession> session,
                                   std::shared_ptr<ServerStream> stream,
                                   std::vector<std::uint8_t> rest) {
    if (session->peer_version >= 2) {
        auto sent = co_await session->write_frame(proto::Command::synack, stream->id, {});
        if (!sent) co_return;
    }
    UdpRelayOptions options;
    options.header_timeout = session->core->config.connect_timeout;
    options.write_timeout = session->core->config.write_timeout;
    co_await run_udp_relay(session->reactor, std::make_shared<UdpOverTcpStream>(session, stream),
                           std::move(rest), options);
}

io::Task<void> handle_stream(std::shared_ptr<ServerSession> session,
                             std::shared_ptr<ServerStream> stream) {
    auto& core = *session->core;
    const bool v2 = session->peer_version >= 2;
    const auto deadline = io::Deadline::after(core.config.connect_timeout);

    // The first PSH(s) carry the SOCKS address; whatever follows it is already stream data.
    std::vector<std::uint8_t> head;
    std::vector<std::byte> chunk(4096);
    proto::SocksAddressDecode decoded;
    while (true) {
        auto n = co_await stream->buffer.read(chunk, deadline.remaining());
        if (!n || *n == 0) {
            co_await session->finish_stream(stream);
            co_return;
        }
        auto bytes = reinterpret_cast<const std::uint8_t*>(chunk.data());
        head.insert(head.end(), bytes, bytes + *n);
        auto result = proto::decode_socks_address(head);
        if (!result) {
            log::debug("[AnyTLS] stream {}: bad target address: {}", stream->id,
                       result.error().text());
            ++core.stats.streams_refused;
            co_await session->finish_stream(stream);
            co_return;
        }
        if (result->status == proto::SocksAddressDecode::Status::done) {
            decoded = std::move(result).value();
            break;
        }
    }
    const auto& target = decoded.address;
    if (core.config.allow_target && !core.config.allow_target(target)) {
        log::debug("[AnyTLS] stream {}: target {} not allowed", stream->id, target.to_string());
        ++core.stats.streams_refused;
        if (v2 && !stream->finished && !session->closed) {
            auto sent = co_await session->write_frame(proto::Command::synack, stream->id,
                                                      "target not allowed");
            (void)sent;
        }
        co_await session->finish_stream(stream);
        co_return;
    }
    if (target.type == proto::SocksAddress::Type::domain &&
        target.domain == proto::udp_over_tcp_host) {
        head.erase(head.begin(), head.begin() + static_cast<std::ptrdiff_t>(decoded.consumed));
        co_await handle_udp_over_tcp(session, stream, std::move(head));
        co_return;
    }

    if (v2 && core.config.synack == SynAckMode::immediate) {
        auto sent = co_await session->write_frame(proto::Command::synack, stream->id, {});
        if (!sent) co_return;
    }
    auto socket = co_await io::tcp_connect(*session->reactor, target.host(), target.port,
                                           core.config.connect_timeout, &core.scope.cancellation());
    if (!socket) {
        log::debug("[AnyTLS] stream {}: connect to {} failed: {}", stream->id, target.to_string(),
                   socket.error().text());
        ++core.stats.streams_refused;
        if (v2 && core.config.synack == SynAckMode::after_connect && !stream->finished &&
            !session->closed) {
            // The reference sends the dial error's text (stream.HandshakeFailure(err)).
            auto sent = co_await session->write_frame(proto::Command::synack, stream->id,
                                                      socket.error().text());
            (void)sent;
        }
        co_await session->finish_stream(stream);
        co_return;
    }
    if (stream->finished || session->closed) co_return;  // the client gave up while we dialed
    stream->target = std::move(socket).value();
    (void)stream->target.set_nodelay(true);
    if (v2 && core.config.synack == SynAckMode::after_connect) {
        auto sent = co_await session->write_frame(proto::Command::synack, stream->id, {});
        if (!sent) co_return;
    }
    if (decoded.consumed < head.size()) {
        auto rest = std::as_bytes(std::span<const std::uint8_t>(head).subspan(decoded.consumed));
        auto sent = co_await io::send_all(*session->reactor, stream->target.fd(), rest,
                                          core.config.write_timeout, &core.scope.cancellation());
        if (!sent) {
            co_await session->finish_stream(stream);
            co_return;
        }
    }
    co_await io::relay(session->core->scope, std::make_shared<StreamRelay>(session, stream));
}

io::Task<Result<void>> ServerSession::handle_frame(proto::FrameView frame) {
    using proto::Command;
    auto text = [&] {
        return std::string(reinterpret_cast<const char*>(frame.data.data()), frame.data.size());
    };
    switch (frame.command) {
        case Command::settings: {
            settings_received = true;
            auto settings = proto::parse_settings(text());
            auto md5 = settings.find("padding-md5");
            if (md5 == settings.end() || md5->second != core->scheme.md5_hex()) {
                ++core->stats.padding_updates_sent;
                auto sent =
                    co_await write_frame(Command::update_padding_scheme, 0, core->scheme.raw());
                if (!sent) co_return sent;
            }
            auto version = proto::settings_version(settings);
            if (version && *version >= 2) {
                peer_version = static_cast<std::uint8_t>(*version);
                auto sent =
                    co_await write_frame(Command::server_settings, 0, proto::server_settings());
                if (!sent) co_return sent;
            }
            break;
        }
        case Command::syn: {
            if (!settings_received) {
                // sing-anytls session.go recvLoop: Alert, then the session ends.
                ++core->stats.alerts_sent;
                auto sent =
                    co_await write_frame(Command::alert, 0, "client did not send its settings");
                (void)sent;
                co_return make_error(errc::protocol, "SYN before Settings");
            }
            if (streams.count(frame.stream_id)) break;
            if (streams.size() >= core->config.max_streams_per_session) {
                log::debug("[AnyTLS] stream limit reached; refusing stream {}", frame.stream_id);
                ++core->stats.streams_refused;
                auto sent = co_await write_frame(Command::fin, frame.stream_id, {});
                if (!sent) co_return sent;
                break;
            }
            auto stream = std::make_shared<ServerStream>(*reactor, frame.stream_id,
                                                         core->config.stream_buffer_limit);
            streams.emplace(frame.stream_id, stream);
            ++core->stats.streams_opened;
            core->scope.spawn(handle_stream(shared_from_this(), stream));
            break;
        }
        case Command::psh: {
            auto found = streams.find(frame.stream_id);
            if (found == streams.end() || frame.data.empty()) break;
            auto stream = found->second;
            bool room = co_await stream->buffer.wait_for_room();  // backpressure: stop reading
            if (room) stream->buffer.push(frame.data);
            break;
        }
        case Command::fin: {
            auto found = streams.find(frame.stream_id);
            if (found == streams.end()) break;  // unknown stream: ignored, not echoed
            auto stream = found->second;
            streams.erase(found);
            stream->finished = true;
            stream->buffer.finish();
            break;
        }
        case Command::heart_request: {
            auto sent = co_await write_frame(Command::heart_response, frame.stream_id, {});
            if (!sent) co_return sent;
            break;
        }
        default:
            break;  // Waste, HeartResponse, client-bound frames, unknown commands: ignored
    }
    co_return Result<void>{};
}

io::Task<void> run_session(std::shared_ptr<ServerCore> core,
                           std::unique_ptr<tls::TlsConnection> connection, std::string peer);

// Counts a connection in the shared budget for its lifetime. The check is exact across
// threads: each connection sees the count it added, so at most max-sessions are admitted.
struct ConnectionCount {
    ServerCore* core;
    bool admitted;
    explicit ConnectionCount(ServerCore* c)
        : core(c), admitted(c->budget->live.fetch_add(1) < c->config.max_sessions) {
        ++core->connections_here;
        if (!admitted) ++core->stats.connections_over_limit;
    }
    ~ConnectionCount() {
        --core->connections_here;
        core->budget->live.fetch_sub(1);
    }
    ConnectionCount(const ConnectionCount&) = delete;
    ConnectionCount& operator=(const ConnectionCount&) = delete;
};

io::Task<void> run_connection(std::shared_ptr<ServerCore> core, io::Socket socket) {
    ConnectionCount counted(core.get());
    ++core->stats.connections_accepted;
    if (!counted.admitted) {
        log::debug("[AnyTLS] session limit ({}) reached; closing a new connection",
                   core->config.max_sessions);
        co_return;
    }
    std::string peer;
    if (auto address = socket.peer_address()) peer = address->to_string();

    tls::ServerHandshakeOptions options;
    options.alpn = core->config.alpn;
    options.timeout = core->config.handshake_timeout;
    options.cancel = &core->scope.cancellation();
    const auto handshake_started = core->reactor->now();
    auto accepted = co_await tls::TlsConnection::accept(*core->reactor, std::move(socket),
                                                        core->context, options);
    if (!accepted) {
        ++core->stats.handshake_failures;
        log::debug("[AnyTLS] TLS handshake with {} failed: {}", peer, accepted.error().text());
        co_return;
    }
    core->stats.record_handshake(
        std::chrono::duration<double>(core->reactor->now() - handshake_started).count());
    co_await run_session(core, std::move(accepted).value(), std::move(peer));
}

// Everything after the TLS handshake: the auth preamble, then the frames.
io::Task<void> run_session(std::shared_ptr<ServerCore> core,
                           std::unique_ptr<tls::TlsConnection> connection, std::string peer) {
    // Auth preamble, parsed from reads of any size within auth_timeout.
    proto::AuthPreambleParser parser;
    const auto deadline = io::Deadline::after(core->config.auth_timeout);
    const bool keep_raw = !core->config.fallback.empty();
    std::vector<std::uint8_t> raw;  // what a fallback service must see first
    std::vector<std::uint8_t> initial_frames;
    PageBuffer pages(64 * 1024);  // the session's frame reads, for its whole life
    const std::span<std::byte> buffer = pages.span();
    bool authenticated_shape = false;
    while (true) {
        auto n = co_await connection->read(buffer, deadline.remaining());
        if (!n || *n == 0) break;
        std::span<const std::uint8_t> input(reinterpret_cast<const std::uint8_t*>(buffer.data()),
                                            *n);
        if (keep_raw) raw.insert(raw.end(), input.begin(), input.end());
        auto progress = parser.feed(input);
        if (!progress) break;
        // A hash that matches nobody fails at once rather than after the padding arrives:
        // the reference decides on its first read, so a fallback service sees no delay.
        if (parser.has_password_hash() &&
            !proto::find_password_hash(parser.password_hash(), core->password_hashes))
            break;
        if (progress->status == proto::AuthPreambleParser::Status::done) {
            initial_frames.assign(progress->rest.begin(), progress->rest.end());
            authenticated_shape = true;
            break;
        }
    }
    std::optional<std::size_t> user;
    if (parser.has_password_hash())
        user = proto::find_password_hash(parser.password_hash(), core->password_hashes);
    if (!authenticated_shape || !user) {
        ++core->stats.auth_failures;
        log::info("[AnyTLS] authentication failed from {}", peer);  // never the password or hash
        if (keep_raw && !core->stopped) {
            FallbackOptions options;
            options.target = core->fallback;
            options.connect_timeout = core->config.connect_timeout;
            options.write_timeout = core->config.write_timeout;
            options.cancel = &core->scope.cancellation();
            options.connected = &core->stats.fallbacks;
            co_await run_fallback(core->reactor, core->scope, std::move(connection), std::move(raw),
                                  options);
        }
        co_return;
    }
    log::debug("[AnyTLS] user {} authenticated from {}", core->config.users[*user].name, peer);
    ++core->stats.sessions_authenticated;

    auto session = std::make_shared<ServerSession>(core, std::move(connection));
    session->traffic = &core->stats.traffic_by_user[core->config.users[*user].name];
    session->traffic->bytes_in += parser.consumed() + initial_frames.size();
    core->sessions.insert(session.get());
    proto::FrameDecoder decoder;
    decoder.split_stream_data(true);  // PSH data goes to the stream buffer uncopied
    std::span<const std::uint8_t> input(initial_frames);
    bool first = true;
    while (!session->closed && !core->stopped) {
        if (!first) {
            auto n = co_await session->connection->read(buffer, io::Duration::zero());
            if (!n) {
                session->fail(n.error());
                break;
            }
            if (*n == 0) {
                session->fail(make_error(errc::closed, "client closed the session"));
                break;
            }
            session->traffic->bytes_in += *n;
            input = std::span<const std::uint8_t>(
                reinterpret_cast<const std::uint8_t*>(buffer.data()), *n);
        }
        first = false;
        while (!session->closed) {
            auto frame = decoder.next(input);
            if (!frame) break;
            auto handled = co_await session->handle_frame(*frame);
            if (!handled) {
                session->fail(handled.error());
                break;
            }
        }
    }
    session->fail(make_error(errc::closed, "session ended"));
    core->sessions.erase(session.get());
}

// Server::serve: a connection whose transport is already established, counted like an
// accepted one.
io::Task<void> serve_established(std::shared_ptr<ServerCore> core,
                                 std::unique_ptr<tls::TlsConnection> connection) {
    ConnectionCount counted(core.get());
    ++core->stats.connections_accepted;
    if (!counted.admitted) co_return;
    co_await run_session(core, std::move(connection), "an established connection");
}

io::Task<void> accept_loop(std::shared_ptr<ServerCore> core) {
    while (!core->stopped) {
        auto accept = core->listener.accept(*core->reactor, &core->scope.cancellation());
        auto socket = co_await accept;
        if (!socket) {
            if (core->stopped || socket.code() == -ECANCELED) break;
            log::warn("[AnyTLS] accept failed: {}", socket.error().text());
            // EMFILE and friends: wait a little instead of spinning.
            auto pause = io::sleep_for(*core->reactor, std::chrono::milliseconds(100),
                                       &core->scope.cancellation());
            co_await pause;
            continue;
        }
        if (core->dispatch)
            core->dispatch(std::move(socket).value());
        else
            core->scope.spawn(run_connection(core, std::move(socket).value()));
    }
    core->listener.close();
}

}  // namespace detail

namespace {

// Who may come in and the scheme they get: what reload() replaces, checked.
struct Admission {
    proto::PaddingScheme scheme;
    std::vector<proto::PasswordHash> password_hashes;
};

Result<Admission> prepare_admission(const ServerConfig& config) {
    if (config.users.empty()) return make_error(errc::config, "server: no users configured");
    Admission admission;
    auto scheme = proto::PaddingScheme::parse(config.padding_scheme);
    if (!scheme)
        return make_error(errc::config, "server: invalid padding scheme: " + scheme.error().text());
    admission.scheme = std::move(scheme).value();
    for (const auto& user : config.users) {
        auto hash = proto::hash_password(user.password);
        if (!hash) return std::move(hash).error();
        admission.password_hashes.push_back(hash.value());
    }
    return admission;
}

// What a Server derives from its config, each part checked: create() and check() share it.
struct PreparedConfig {
    Admission admission;
    HostPort fallback;
    std::shared_ptr<tls::TlsContext> context;
};

Result<PreparedConfig> prepare(const ServerConfig& config) {
    PreparedConfig prepared;
    auto admission = prepare_admission(config);
    if (!admission) return std::move(admission).error();
    prepared.admission = std::move(admission).value();
    if (!config.fallback.empty()) {
        auto parsed = parse_host_port(config.fallback);
        if (!parsed) return make_error(errc::config, "server: fallback: " + parsed.error().text());
        prepared.fallback = std::move(parsed).value();
    }
    tls::ServerContextOptions options;
    options.certificate_file = config.certificate_file;
    options.private_key_file = config.private_key_file;
    options.certificate_pem = config.certificate_pem;
    options.private_key_pem = config.private_key_pem;
    auto context = tls::TlsContext::make_server(options);
    if (!context) return std::move(context).error();
    prepared.context = std::move(context).value();
    return prepared;
}

}  // namespace

Result<void> Server::check(const ServerConfig& config) {
    auto prepared = prepare(config);
    if (!prepared) return std::move(prepared).error();
    return {};
}

Result<void> Server::reload(const ServerConfig& fresh) {
    auto admission = prepare_admission(fresh);
    if (!admission) return std::move(admission).error();
    // Nothing reads these across a suspension: an authentication looks its user up and logs
    // the name in one step, and write_frame copies the scheme's text before its first await.
    core_->config.users = fresh.users;
    core_->config.padding_scheme = fresh.padding_scheme;
    core_->password_hashes = std::move(admission->password_hashes);
    core_->scheme = std::move(admission->scheme);
    return {};
}

Result<std::unique_ptr<Server>> Server::create(io::Reactor& reactor, ServerConfig config,
                                               std::shared_ptr<ConnectionBudget> budget) {
    auto prepared = prepare(config);
    if (!prepared) return std::move(prepared).error();
    auto core = std::make_shared<detail::ServerCore>(reactor, std::move(config));
    core->budget = budget ? std::move(budget) : std::make_shared<ConnectionBudget>();
    core->scheme = std::move(prepared->admission.scheme);
    core->fallback = std::move(prepared->fallback);
    core->password_hashes = std::move(prepared->admission.password_hashes);
    core->context = std::move(prepared->context);
    return std::unique_ptr<Server>(new Server(std::move(core)));
}

Server::~Server() { stop(); }

Result<void> Server::start(Dispatch dispatch) {
    if (core_->started) return make_error(errc::invalid_argument, "server already started");
    auto address = io::SocketAddress::parse_host_port(core_->config.listen);
    if (!address) return std::move(address).error();
    auto listener = io::TcpListener::listen(address.value());
    if (!listener) return std::move(listener).error();
    core_->listener = std::move(listener).value();
    core_->bound = core_->listener.address();
    core_->started = true;
    core_->dispatch = std::move(dispatch);
    core_->scope.spawn(detail::accept_loop(core_));
    log::info("[AnyTLS] server listening on {}", core_->bound.to_string());
    return {};
}

io::SocketAddress Server::local_address() const { return core_->bound; }

void Server::stop() {
    if (!core_ || core_->stopped) return;
    core_->stopped = true;
    core_->scope.cancel();
    std::vector<detail::ServerSession*> sessions(core_->sessions.begin(), core_->sessions.end());
    for (auto* session : sessions) session->fail(make_error(errc::closed, "server stopping"));
}

io::Task<void> Server::shutdown() {
    stop();
    co_await core_->scope.join();
}

void Server::adopt(io::Socket socket) {
    if (core_->stopped) return;  // the socket closes here
    core_->scope.spawn(detail::run_connection(core_, std::move(socket)));
}

ServerThreadState Server::state() const {
    ServerThreadState state;
    state.sessions = core_->sessions.size();
    state.handshaking = core_->connections_here - std::min(core_->connections_here, state.sessions);
    state.connections_accepted = core_->stats.connections_accepted;
    return state;
}

void Server::serve(std::unique_ptr<tls::TlsConnection> connection) {
    if (core_->stopped) return;
    core_->scope.spawn(detail::serve_established(core_, std::move(connection)));
}

std::size_t Server::session_count() const { return core_->sessions.size(); }

std::size_t Server::buffered_bytes() const {
    std::size_t total = 0;
    for (const auto* session : core_->sessions)
        for (const auto& [id, stream] : session->streams) total += stream->buffer.buffered();
    return total;
}
const ServerStats& Server::stats() const { return core_->stats; }

}  // namespace anytls::server
