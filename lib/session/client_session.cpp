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

// How long a SYN past the padding scheme's numbered writes waits for the stream's first data
// to join it in one TLS write. A caller that writes at once (a SOCKS client after the reply,
// a C caller after anytls_stream_open) lands well inside it; one whose server speaks first
// pays it once.
constexpr io::Duration kOpenCork = std::chrono::milliseconds(1);

// How long after its creation a session that the server closes without a frame is taken as
// refused for its password (see remote_failure).
constexpr io::Duration kAuthVerdictWindow = std::chrono::seconds(10);

std::span<const std::byte> as_byte_span(const std::vector<std::uint8_t>& bytes) {
    return std::as_bytes(std::span<const std::uint8_t>(bytes));
}

io::Deadline deadline_after(io::Duration timeout) {
    return timeout > io::Duration::zero() ? io::Deadline::after(timeout) : io::Deadline::never();
}

}  // namespace

namespace {

Result<void> prepare_password_hash(ClientConfig& config) {
    if (config.password_hash) return {};
    auto hash = proto::hash_password(config.password);
    if (!hash) return std::move(hash).error();
    config.password_hash = hash.value();
    return {};
}

}  // namespace

Result<void> prepare_client_config(ClientConfig& config) {
    if (!config.tls_context) {
        tls::ClientContextOptions options;
        options.skip_verify = config.skip_verify;
        options.ca_file = config.ca_file;
        options.ca_pem = config.ca_pem;
        options.pinned_sha256 = config.pinned_sha256;
        auto made = tls::TlsContext::make_client(options);
        if (!made) return std::move(made).error();
        config.tls_context = std::move(made).value();
    }
    return prepare_password_hash(config);
}

// ---------------------------------------------------------------------------------------
// ClientStream

ClientStream::ClientStream(std::shared_ptr<ClientSession> session,
                           std::shared_ptr<ClientStreamState> state)
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

io::Task<Result<std::size_t>> ClientStream::read(std::span<std::byte> buffer,
                                                 io::Duration timeout) {
    if (!state_ || state_->locally_closed) co_return make_error(errc::closed, "stream closed");
    auto result = co_await state_->buffer.read(buffer, timeout);
    if (result && *result == 0 && ended_before_synack()) {
        // A v2 server acknowledges every stream it connects before anything else of it, so an
        // end with no SYNACK is a refusal (its stream limit, say), not the target's clean end.
        co_return make_error(errc::closed, "the server ended the stream before its SYNACK");
    }
    co_return result;
}

std::size_t ClientStream::lingering_on_session() const {
    return session_ ? session_->lingering() : 0;
}

bool ClientStream::ended_before_synack() const {
    return state_ && session_ && state_->buffer.finished() && session_->known_v2() &&
           state_->synack == ClientStreamState::SynAck::waiting && !state_->data_seen;
}

io::Task<Result<void>> ClientStream::write(std::span<const std::byte> data, io::Duration timeout) {
    if (!state_ || state_->locally_closed) co_return make_error(errc::closed, "stream closed");
    if (!state_->acknowledged && !state_->unacked_overflow && !data.empty()) {
        // Kept until the SYNACK, so that a session that dies first can hand the stream over
        // to a fresh one with everything it was given (docs/DESIGN.md, "When a stream is
        // replayed"). Taken before the first send: a write that fails half way is replayed whole.
        if (state_->unacked.size() + data.size() > kReplayLimit) {
            state_->unacked_overflow = true;
        } else {
            const auto* bytes = reinterpret_cast<const std::uint8_t*>(data.data());
            state_->unacked.insert(state_->unacked.end(), bytes, bytes + data.size());
        }
    }
    // `timeout` bounds the whole call, not each frame batch: a peer that drains slowly but
    // steadily must not stretch a write past its caller's deadline (docs/C-API.md,
    // anytls_stream_write).
    const io::Deadline deadline = deadline_after(timeout);
    while (!data.empty()) {
        // A refused target or a failed session reports its own error, not a generic one.
        if (state_->buffer.failed()) co_return *state_->buffer.error();
        if (deadline.expired()) co_return make_error(-ETIMEDOUT, "stream write timed out");
        if (session_->closed())
            co_return session_->close_reason().value_or(make_error(errc::closed));
        const std::size_t n = std::min(data.size(), max_data_per_write);
        auto chunk = data.first(n);
        std::vector<std::uint8_t> frames;
        frames.reserve(proto::data_frames_size(n));
        proto::append_data_frames(
            frames, state_->id,
            std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(chunk.data()),
                                          chunk.size()));
        auto written = co_await session_->write_connection(std::move(frames), deadline.remaining());
        if (!written) co_return written;
        data = data.subspan(n);
    }
    co_return Result<void>{};
}

io::Task<Result<void>> ClientStream::wait_connected(io::Duration timeout) {
    if (!state_) co_return make_error(errc::closed, "stream closed");
    const io::Deadline deadline = deadline_after(timeout);
    auto state = state_;  // the handle may move while this waits
    while (!state->resolved) {
        bool woken = co_await state->resolved_event.wait(deadline.remaining());
        if (!woken && !state->resolved)
            co_return make_error(-ETIMEDOUT, "no SYNACK from the server in time");
    }
    if (state->open_error) co_return *state->open_error;
    co_return Result<void>{};
}

std::size_t ClientStream::writable_before_synack(std::size_t wanted) const {
    if (!state_ || state_->acknowledged || state_->unacked_overflow || session_->closed())
        return wanted;
    const std::size_t room = kReplayLimit - std::min(kReplayLimit, state_->unacked.size());
    return std::min(wanted, room);
}

bool ClientStream::replayable() const {
    if (!state_ || !session_ || state_->locally_closed || state_->unacked_overflow) return false;
    // A v2 server writes the SYNACK before it forwards anything, so one that ended the stream
    // without it never connected the target: the stream may go to another session.
    if (ended_before_synack()) return true;
    if (!session_->closed()) return false;
    // Anything heard back for this stream, or an answer to the heartbeat that went with its
    // SYN, means the server may have read the SYN and passed bytes on: never replay then.
    if (state_->synack != ClientStreamState::SynAck::waiting || state_->data_seen) return false;
    if (state_->buffer.finished()) return false;
    if (session_->frames_received() > state_->frames_at_syn) return false;
    // A v1 server sends no SYNACK, so nothing would have told us the target got data.
    if (!session_->known_v2() && !state_->unacked.empty()) return false;
    return true;
}

void ClientStream::set_on_resolved(std::function<void(const ClientStreamState&)> callback) {
    if (!state_) return;
    if (state_->resolved) {
        if (callback) callback(*state_);
        return;
    }
    state_->on_resolved = std::move(callback);
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

ClientSession::ClientSession(io::Reactor& reactor, ClientConfig config,
                             std::shared_ptr<PaddingState> padding,
                             std::unique_ptr<tls::TlsConnection> connection, std::uint64_t seq)
    : reactor_(&reactor),
      config_(std::move(config)),
      padding_(std::move(padding)),
      connection_(std::move(connection)),
      write_mutex_(reactor),
      seq_(seq),
      created_at_(reactor.now()),
      last_used_(created_at_),
      heart_signal_(reactor),
      cork_timer_(reactor) {}

ClientSession::~ClientSession() = default;

void ClientSession::fail(Error error) {
    if (state_ == SessionState::closed) return;
    log::debug("[AnyTLS] Session #{} closed: {}", seq_, error.text());
    state_ = SessionState::closed;
    close_reason_ = error;
    closed_.store(true, std::memory_order_release);
    // A stream's -ETIMEDOUT means "nothing yet, try again" to its readers (the SOCKS relay's
    // read slices, a C caller's timeout); a session that died of a timeout must not read as
    // that, or they would retry a dead stream for ever. Same text, a code that ends them.
    Error stream_error = error;
    if (stream_error.code == -ETIMEDOUT) stream_error.code = -ECONNABORTED;
    if (stream_) {
        stream_->buffer.fail(stream_error);
        stream_->event.notify();
    }
    for (auto& stream : lingering_) {
        stream->buffer.fail(stream_error);
        stream->event.notify();  // a watcher of a stream that lingered before its SYNACK
    }
    lingering_.clear();
    lingering_count_.store(0, std::memory_order_relaxed);
    corked_.clear();
    cork_timer_.cancel();
    heart_signal_.notify();
    connection_->abort();
}

void ClientSession::close() { fail(make_error(errc::closed, "session closed")); }

Error ClientSession::remote_failure(Error error) const {
    // The protocol has no answer to a wrong password: the server just closes the connection
    // after the preamble. A young session that the server closes before sending a single
    // frame (a v2 server answers the first Settings at once) is most likely that.
    const bool young = reactor_->now() - created_at_ < kAuthVerdictWindow;
    const bool dropped = error.code == errc::closed || error.code == -ECONNRESET ||
                         error.code == -EPIPE || error.code == errc::tls_protocol;
    if (frames_received_ > 0 || !young || !dropped) return error;
    return make_error(errc::auth_failed,
                      "the server closed the session after authentication, before any answer: "
                      "wrong password? (" +
                          error.text() + ")");
}

io::Task<Result<void>> ClientSession::write_connection(std::vector<std::uint8_t> bytes,
                                                       io::Duration timeout) {
    auto lock = write_mutex_.scoped();
    auto guard = co_await lock;
    if (closed()) co_return close_reason_.value_or(make_error(errc::closed));
    if (!corked_.empty()) {
        // A corked SYN goes first, whatever this write carries (the stream's first data, or
        // a control frame that must not overtake it).
        bytes.insert(bytes.begin(), corked_.begin(), corked_.end());
        corked_.clear();
        cork_timer_.cancel();
    }
    if (bytes.empty()) co_return Result<void>{};
    // The scheme is read on every write, as writeConn does (padding.Load()), so a scheme
    // pushed by the server mid-session applies to this session's following writes too.
    auto scheme = padding_->current();
    auto plan = padder_.next(*scheme, bytes, padding_->random());
    Result<void> written;
    if (!plan) {
        written = co_await connection_->write(as_byte_span(bytes), timeout);
    } else {
        // Each piece is its own TLS write (its own record), as writeConn issues one
        // conn.Write per size: that is what shapes the record lengths on the wire. The
        // timeout covers all of them.
        const io::Deadline deadline = deadline_after(timeout);
        for (std::size_t i = 0; i < plan->write_count() && written.ok(); ++i) {
            written =
                co_await connection_->write(std::as_bytes(plan->write(i)), deadline.remaining());
        }
    }
    if (!written) {
        fail(remote_failure(written.error()));
        co_return Result<void>(close_reason_.value_or(written.error()));
    }
    co_return Result<void>{};
}

io::Task<Result<ClientStream>> ClientSession::open_stream(std::string host, std::uint16_t port,
                                                          io::Duration timeout,
                                                          std::vector<std::uint8_t> early_data,
                                                          io::Duration hedge, bool assume_v2) {
    (void)timeout;  // the writes below use the control write timeout; nothing else waits
    if (closed()) co_return close_reason_.value_or(make_error(errc::closed));
    if (state_ != SessionState::idle)
        co_return make_error(errc::invalid_argument, "session already carries a stream");
    auto address = proto::SocksAddress::from_host(host, port);
    if (!address) co_return std::move(address).error();

    auto self = shared_from_this();  // keeps the session alive across the awaits below
    auto stream = std::make_shared<ClientStreamState>(*reactor_, ++last_stream_id_,
                                                      config_.stream_buffer_limit);
    stream->opened_at = reactor_->now();
    stream->unacked = early_data;  // replayed with the SYN if the session dies first
    stream_ = stream;
    state_ = SessionState::busy;
    last_used_ = reactor_->now();

    std::vector<std::uint8_t> address_frame;
    {
        auto encoded = proto::encode_socks_address(address.value());
        if (!encoded) co_return std::move(encoded).error();
        auto appended =
            proto::append_frame(address_frame, proto::Command::psh, stream->id, encoded.value());
        if (!appended) co_return appended.error();
        proto::append_data_frames(address_frame, stream->id, early_data);
    }
    // The HeartRequest leads the SYN: a server that read the SYN has answered it first, so
    // silence from both means the path is dead, and an answer proves it alive even while the
    // SYNACK waits for a slow target (docs/DESIGN.md, "Dead warm sessions").
    // On a session's first stream the Settings go first and a v2 server answers them with
    // ServerSettings before it reads the SYN: that answer serves, and the write keeps the
    // reference's shape.
    if (assume_v2) assumed_v2_ = true;
    std::vector<std::uint8_t> syn;
    const bool probe = hedge > io::Duration::zero() && known_v2();
    if (probe && settings_sent_)
        proto::append_frame_header(syn, proto::Command::heart_request, proto::control_stream_id, 0);
    proto::append_frame_header(syn, proto::Command::syn, stream->id, 0);
    stream->probed = probe;
    stream->frames_at_syn = frames_received_;

    Result<void> written;
    if (!settings_sent_) {
        // First stream: Settings + SYN + PSH(address) in one session write (write 1).
        auto scheme = padding_->current();
        // The lines in the order a Go client would write them this time (settings.hpp).
        const auto rotation =
            proto::go_map_rotation(static_cast<std::uint32_t>(padding_->random()(8)));
        auto body = proto::client_settings(config_.client_name, scheme->md5_hex(), rotation);
        if (!body) co_return std::move(body).error();
        std::vector<std::uint8_t> bytes;
        auto appended = proto::append_frame(bytes, proto::Command::settings,
                                            proto::control_stream_id, body.value());
        if (!appended) co_return appended.error();
        bytes.insert(bytes.end(), syn.begin(), syn.end());
        bytes.insert(bytes.end(), address_frame.begin(), address_frame.end());
        settings_sent_ = true;
        sent_padding_md5_ = scheme->md5_hex();
        written = co_await write_connection(std::move(bytes), config_.control_write_timeout);
    } else if (padder_.padding_over()) {
        // Past the padding scheme's last numbered write, write boundaries are no longer part
        // of what the peer (or an observer) sees of the scheme: SYN, the address and the
        // stream's first data leave as one TLS write. With no early data the SYN waits a
        // moment for the caller's first write (flush_corked sends it otherwise).
        syn.insert(syn.end(), address_frame.begin(), address_frame.end());
        if (early_data.empty()) {
            // Appended: a stream that lingered before its first write may still have its own
            // SYN corked here.
            corked_.insert(corked_.end(), syn.begin(), syn.end());
            cork_timer_.reset();
            reactor_->spawn(flush_corked(self));
        } else {
            written = co_await write_connection(std::move(syn), config_.control_write_timeout);
        }
    } else {
        // Reused session within the padding scheme: SYN, then the address, as two writes (the
        // reference's OpenStream writeControlFrame(SYN), then the proxy's Write(SocksAddr) ->
        // writeDataFrame), so that write numbering and padding match it.
        written = co_await write_connection(std::move(syn), config_.control_write_timeout);
        if (written)
            written =
                co_await write_connection(std::move(address_frame), config_.control_write_timeout);
    }
    if (!written) co_return written.error();
    reactor_->spawn(watch_open(self, stream, probe ? hedge : io::Duration::zero()));
    co_return ClientStream(self, stream);
}

io::Task<void> ClientSession::flush_corked(std::shared_ptr<ClientSession> self) {
    int rc = co_await io::sleep_for(*self->reactor_, kOpenCork, &self->cork_timer_);
    if (rc == -ECANCELED || self->corked_.empty() || self->closed()) co_return;
    (void)co_await self->write_connection({}, self->config_.control_write_timeout);
}

void ClientSession::resolve(ClientStreamState& stream, std::optional<Error> error) {
    if (stream.resolved) return;
    stream.resolved = true;
    // Connected or refused, the server has read the SYN: nothing is replayed any more. A
    // session that failed first keeps the bytes for PooledStream's replay.
    if (!error || error->code == errc::target_refused) {
        stream.acknowledged = true;
        std::vector<std::uint8_t>().swap(stream.unacked);
    }
    stream.open_error = std::move(error);
    stream.resolved_event.notify_all();
    if (auto callback = std::move(stream.on_resolved)) callback(stream);
}

// Watches one open until its SYNACK decides it. A v2 server sends ServerSettings in answer
// to Settings, before the SYNACK (both follow from frames it reads in order), so once
// peer_version_ >= 2 a SYNACK is certain to come. A v1 server sends neither; there data or a
// FIN proves the stream open, and a quiet v1 server is taken as connected after one
// synack_timeout on the session's first stream (after that the session remembers it is v1).
io::Task<void> ClientSession::watch_open(std::shared_ptr<ClientSession> self,
                                         std::shared_ptr<ClientStreamState> stream,
                                         io::Duration hedge) {
    using SynAck = ClientStreamState::SynAck;
    const io::Duration limit = self->config_.synack_timeout;
    const io::Deadline synack_deadline = deadline_after(limit);
    io::Deadline hedge_deadline =
        hedge > io::Duration::zero() ? io::Deadline::after(hedge) : io::Deadline::never();
    while (!stream->resolved) {
        if (stream->synack == SynAck::refused) {
            // A refusing SYNACK after the stream's FIN finds the buffer ended (fail() keeps no
            // error then): the refusal still stands (found by the session fuzzer).
            Error error = stream->buffer.error()
                              ? *stream->buffer.error()
                              : make_error(errc::target_refused, "the server refused the stream");
            if (!stream->buffer.failed()) stream->buffer.fail(error);
            self->resolve(*stream, error);
            break;
        }
        if (stream->synack == SynAck::connected || stream->data_seen) {
            // Data proves the target connected whatever the version (a v2 server's SYNACK comes
            // first; a v1 server sends none).
            self->resolve(*stream, std::nullopt);
            break;
        }
        if (stream->buffer.failed()) {  // the session failed, or the stream was given up
            self->resolve(*stream, *stream->buffer.error());
            break;
        }
        if (stream->locally_closed) {
            self->resolve(*stream,
                          make_error(errc::closed, "the stream was closed before its SYNACK"));
            break;
        }
        if (!self->known_v2() &&
            (stream->data_seen || stream->buffer.finished() || self->peer_is_v1_)) {
            self->resolve(*stream, std::nullopt);
            break;
        }
        if (self->known_v2() && stream->buffer.finished()) {
            self->resolve(*stream,
                          make_error(errc::closed, "server closed the stream before its SYNACK"));
            break;
        }
        if (stream->probed && self->frames_received_ > stream->frames_at_syn) {
            hedge_deadline = io::Deadline::never();  // the session answered: it is alive
        }
        const bool hedging = !hedge_deadline.is_never();
        io::Duration wait = synack_deadline.remaining();
        if (hedging && (wait == io::Duration::zero() || hedge_deadline.remaining() < wait)) {
            wait = hedge_deadline.remaining();
        }
        bool woken = co_await stream->event.wait(wait);
        if (woken || stream->resolved) continue;
        if (hedging && hedge_deadline.expired() && self->reader_stalled_) {
            // The answer may sit unread behind a full stream buffer: silence proves nothing.
            hedge_deadline = io::Deadline::never();
            continue;
        }
        if (hedging && hedge_deadline.expired() &&
            self->frames_received_ == stream->frames_at_syn && stream->synack == SynAck::waiting &&
            !stream->data_seen) {
            auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(hedge).count();
            self->fail(make_error(
                -ETIMEDOUT, fmt::format("the session answered neither the SYN nor the heartbeat "
                                        "sent with it within {} ms: its path is dead",
                                        ms)));
            continue;
        }
        if (synack_deadline.expired() && stream->synack == SynAck::waiting &&
            !stream->buffer.ended() && !stream->data_seen) {
            if (self->known_v2()) {
                // The reference closes the whole session when the SYNACK is late. A session the
                // caller knows to be v2 is not taken for a v1 server for saying nothing.
                self->fail(make_error(-ETIMEDOUT, "no SYNACK from the server in time"));
                continue;
            }
            self->peer_is_v1_ = true;
        }
    }
}

io::Task<Result<void>> ClientSession::close_stream(std::shared_ptr<ClientStreamState> stream) {
    if (stream->locally_closed) co_return Result<void>{};
    stream->locally_closed = true;
    stream->event.notify();  // an open still watched ends with it
    stream->buffer.close_consumer();
    if (stream_ == stream) stream_.reset();
    std::erase(lingering_, stream);
    lingering_count_.store(lingering_.size(), std::memory_order_relaxed);
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
    lingering_count_.store(lingering_.size(), std::memory_order_relaxed);
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
    if (peer_version() < 2)
        co_return make_error(errc::invalid_argument, "heartbeat needs a v2 peer");
    auto self = shared_from_this();
    const std::uint64_t before = heart_responses_;
    const io::TimePoint sent_at = reactor_->now();
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
    rtt_.store((reactor_->now() - sent_at).count(), std::memory_order_relaxed);
    co_return Result<void>{};
}

io::Task<Result<void>> ClientSession::handle_frame(proto::FrameView frame) {
    using proto::Command;
    auto text = [&] {
        return std::string(reinterpret_cast<const char*>(frame.data.data()), frame.data.size());
    };
    // The stream the frame is for: the current one, or one still draining (linger()).
    std::shared_ptr<ClientStreamState> target;
    if (stream_ && stream_->id == frame.stream_id) target = stream_;
    for (auto& s : lingering_)
        if (s->id == frame.stream_id) target = s;
    if (target && target->locally_closed) target.reset();
    ++frames_received_;
    switch (frame.command) {
        case Command::psh: {
            if (!target || frame.data.empty()) break;
            auto stream = target;
            stream->data_seen = true;
            stream->event.notify();
            reader_stalled_ = true;
            bool room = co_await stream->buffer.wait_for_room();
            reader_stalled_ = false;
            if (room) stream->buffer.push(frame.data);
            break;
        }
        case Command::synack:
            // For the current stream or one that lingered before its SYNACK came.
            if (!target) break;
            if (frame.data.empty()) {
                if (target->synack == ClientStreamState::SynAck::waiting)
                    target->synack = ClientStreamState::SynAck::connected;
            } else {
                // The reference closes the stream with "remote: <text>"; we keep the text as
                // sent and classify it as the target's fault.
                target->synack = ClientStreamState::SynAck::refused;
                target->buffer.fail(make_error(errc::target_refused, text()));
            }
            target->event.notify();
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
            if (version) peer_version_.store(static_cast<std::uint8_t>(*version));
            if (stream_)
                stream_->event.notify();  // a first-stream open learns its session is alive
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
            co_return make_error(errc::server_alert, "alert from server: " + shown);
        }
        case Command::heart_request: {
            std::vector<std::uint8_t> response;
            proto::append_frame_header(response, Command::heart_response, frame.stream_id, 0);
            auto written =
                co_await write_connection(std::move(response), config_.control_write_timeout);
            if (!written) co_return written;
            break;
        }
        case Command::heart_response:
            ++heart_responses_;
            heart_signal_.notify();
            if (stream_) stream_->event.notify();  // a hedged open learns its session is alive
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
            self->fail(self->remote_failure(std::move(n).error()));
            break;
        }
        if (*n == 0) {
            self->fail(self->remote_failure(make_error(errc::closed, "server closed the session")));
            break;
        }
        std::span<const std::uint8_t> input(reinterpret_cast<const std::uint8_t*>(buffer.data()),
                                            *n);
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

io::Task<Result<std::shared_ptr<ClientSession>>> open_session(io::Reactor& reactor,
                                                              ClientConfig config,
                                                              std::shared_ptr<PaddingState> padding,
                                                              std::uint64_t seq,
                                                              io::CancellationSource* cancel) {
    if (!padding) padding = std::make_shared<PaddingState>();
    // A no-op for pooled sessions, whose outbound prepared its config once.
    if (auto prepared = prepare_client_config(config); !prepared)
        co_return std::move(prepared).error();
    auto context = config.tls_context;

    const io::TimePoint connect_started = reactor.now();
    auto socket = co_await io::tcp_connect(reactor, config.server_host, config.server_port,
                                           config.connect_timeout, cancel);
    if (!socket) co_return std::move(socket).error();
    // The TCP handshake is one round trip (plus a name lookup, if any): the first RTT sample.
    const io::Duration connect_rtt = reactor.now() - connect_started;
    // Keepalive probes keep NAT mappings alive and reveal a dead path on idle sessions
    // (docs/DESIGN.md, "Session health"); a failure to set it is not fatal.
    if (auto ka = socket->set_keepalive(config.tcp_keepalive); !ka) {
        log::debug("[AnyTLS] cannot set TCP keepalive: {}", ka.error().text());
    }
    tls::ClientHandshakeOptions options;
    options.server_name = config.sni.empty() ? config.server_host : config.sni;
    options.alpn = config.alpn;
    options.timeout = config.handshake_timeout;
    options.cancel = cancel;
    auto connection =
        co_await tls::TlsConnection::connect(reactor, std::move(socket).value(), context, options);
    if (!connection) co_return std::move(connection).error();

    auto session = co_await open_session_over(reactor, std::move(config), std::move(padding),
                                              std::move(connection).value(), seq);
    if (session) session.value()->rtt_.store(connect_rtt.count());
    co_return session;
}

io::Task<Result<std::shared_ptr<ClientSession>>> open_session_over(
    io::Reactor& reactor, ClientConfig config, std::shared_ptr<PaddingState> padding,
    std::unique_ptr<tls::TlsConnection> connection, std::uint64_t seq) {
    if (!padding) padding = std::make_shared<PaddingState>();
    if (auto hashed = prepare_password_hash(config); !hashed) co_return std::move(hashed).error();
    // The preamble is ONE TLS write, made before the session exists and so not numbered by
    // its padder (mihomo client.go CreateOutboundTLSConnection: conn.Write(b.Bytes())).
    auto scheme = padding->current();
    auto preamble = proto::build_auth_preamble(*config.password_hash,
                                               scheme->auth_padding_length(padding->random()));
    auto written = co_await connection->write(as_byte_span(preamble), config.control_write_timeout);
    if (!written) co_return written.error();

    std::shared_ptr<ClientSession> session(new ClientSession(
        reactor, std::move(config), std::move(padding), std::move(connection), seq));
    reactor.spawn(ClientSession::read_loop(session));
    co_return session;
}

}  // namespace anytls::session
