// ClientSession and ClientStream: the client side of one AnyTLS connection (docs/DESIGN.md,
// "The protocol" and "Opening a stream").
//
// A session is one TLS connection. open_session() connects, handshakes and sends the auth
// preamble as ONE TLS write, outside the session's write numbering (mihomo
// transport/anytls/client.go CreateOutboundTLSConnection writes it straight to the TLS conn
// before session.NewClientSession). From then on every session write goes through
// write_connection(), which numbers writes from 1 and applies the shared padding scheme
// (proto::WritePadder; sing-anytls session.go writeConn).
//
// Like the reference client, a session carries ONE stream at a time (plus, beyond the
// reference, streams that only drain the server's last bytes: see ClientStream::linger). The
// first stream sends Settings + SYN + PSH(target address) as one write (the reference buffers
// Settings and SYN until the address PSH: session.go Run / OpenStream `buffering`). A later
// stream on the same session sends SYN and then the address PSH as two writes, without
// Settings, which is again what the reference does (buffering is off after the first stream),
// so write numbering and padding match it. Once the padding scheme's numbered writes are over,
// SYN, address and the stream's first data leave as one write (the SYN is corked briefly for
// that). An open never waits for the SYNACK: the stream is handed out at once and a watcher
// coroutine checks the SYNACK behind it.
//
// A reader coroutine decodes frames and dispatches them (handle_frame). PSH data goes into the
// stream's bounded StreamBuffer; when it is full the reader waits, which stops the session
// reading (backpressure).
//
// Lifetime: the reader coroutine holds a shared_ptr to the session, so the session lives until
// close() is called or the connection fails — dropping the last handle does NOT close it.
// The pool (or the test) must call close(). Reactor thread only, for everything here.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "io/async_mutex.hpp"
#include "io/cancellation.hpp"
#include "io/clock.hpp"
#include "io/reactor.hpp"
#include "io/task.hpp"
#include "proto/frame_decoder.hpp"
#include "proto/write_padding.hpp"
#include "session/broadcast.hpp"
#include "session/client_config.hpp"
#include "session/padding_state.hpp"
#include "io/signal.hpp"
#include "io/stream_buffer.hpp"
#include "tls/tls_connection.hpp"

namespace anytls::session {

enum class SessionState { idle, busy, closed };

class ClientSession;

// How much a stream writes before its SYNACK and keeps for a replay on a fresh session
// (docs/DESIGN.md, "Opening a stream"); past this, writes wait for the SYNACK.
inline constexpr std::size_t kReplayLimit = 64 * 1024;

// The per-stream state shared between the session's reader, the open's watcher and the
// ClientStream handle.
struct ClientStreamState {
    ClientStreamState(io::Reactor& reactor, std::uint32_t stream_id, std::size_t limit)
        : id(stream_id), buffer(reactor, limit), event(reactor), resolved_event(reactor) {}

    enum class SynAck { waiting, connected, refused };

    std::uint32_t id;
    io::StreamBuffer buffer;
    SynAck synack = SynAck::waiting;
    bool data_seen = false;  // a PSH arrived (proves the server connected, for v1 peers)
    bool locally_closed = false;
    // The open's outcome is known: connected, refused, or the session failed first.
    bool resolved = false;
    std::optional<Error> open_error;  // set when resolved without connecting
    // The server answered the open (SYNACK either way, or a v1 server's data): from here on
    // nothing is kept for a replay.
    bool acknowledged = false;
    // Early data and stream data written before the server answered, kept for a replay (at
    // most kReplayLimit; more marks the stream as not replayable). Freed once acknowledged.
    std::vector<std::uint8_t> unacked;
    bool unacked_overflow = false;
    // The session's count of received frames when the SYN left, and whether the open is
    // hedged: any frame after that proves the path alive (no hedge, and no replay). The answer
    // expected is the HeartResponse to the HeartRequest sent with the SYN, or on a session's
    // first stream the ServerSettings that answers its Settings.
    std::uint64_t frames_at_syn = 0;
    bool probed = false;
    io::TimePoint opened_at{};
    io::Signal event;  // SYNACK, data, FIN, HeartResponse or session failure: wakes the watcher
    Broadcast resolved_event;  // the open resolved: wakes wait_connected()
    // Called once when the open resolves (the pool records the open latency with it).
    std::function<void(const ClientStreamState&)> on_resolved;
};

// One stream. Move-only. Dropping it without close() sends the FIN in the background.
class ClientStream {
public:
    ClientStream(std::shared_ptr<ClientSession> session, std::shared_ptr<ClientStreamState> state);
    ClientStream(ClientStream&&) noexcept = default;
    ClientStream& operator=(ClientStream&&) = delete;  // would drop the old stream's FIN
    ClientStream(const ClientStream&) = delete;
    ClientStream& operator=(const ClientStream&) = delete;
    ~ClientStream();

    // Bytes read (> 0), 0 for a clean end (the server's FIN), or an error: -ETIMEDOUT (the
    // stream stays usable), errc::target_refused (SYNACK text), errc::closed / -ECONNRESET /
    // errc::protocol (the session failed). timeout zero: no limit.
    io::Task<Result<std::size_t>> read(std::span<std::byte> buffer, io::Duration timeout);
    // Writes all of data as PSH frames of at most 65535 bytes. timeout applies per TLS send.
    // Before the open resolves the data is also kept for a replay (see replayable()).
    io::Task<Result<void>> write(std::span<const std::byte> data, io::Duration timeout);
    // Waits until the open resolves: ok once the server connected the target (v2 SYNACK, or
    // data / a quiet first stream from a v1 server); errc::target_refused with the server's
    // text; the session's error if it failed first; -ETIMEDOUT after `timeout` (zero: none).
    io::Task<Result<void>> wait_connected(io::Duration timeout);
    bool resolved() const { return !state_ || state_->resolved; }
    // How many of `wanted` bytes write() may take now without exceeding the replay bound:
    // all of them once the open resolved; 0 means wait_connected() first.
    std::size_t writable_before_synack(std::size_t wanted) const;
    // The session died before anything of this stream was heard back, so none of its bytes
    // can have reached the target through it: it may be replayed on a fresh session with
    // replay_bytes() (docs/DESIGN.md, "When a stream is replayed").
    bool replayable() const;
    const std::vector<std::uint8_t>& replay_bytes() const { return state_->unacked; }
    // A v2 server ended the stream without a SYNACK: it refused it before reaching the target
    // (read() reports that as errc::closed, not as a clean end).
    bool ended_before_synack() const;
    void set_on_resolved(std::function<void(const ClientStreamState&)> callback);
    // Sends FIN; the stream ends and the session becomes idle (reusable) if it is healthy.
    io::Task<Result<void>> close();
    // The caller will write no more and only drains what the server still sends (its own
    // client half-closed): the session becomes idle and may carry the next stream while this
    // one keeps receiving its frames until close(). AnyTLS has no half-close, so without this
    // a draining stream would keep its session busy.
    void linger();

    std::uint32_t id() const;
    // How many other streams still drain on this stream's session (see linger()).
    std::size_t lingering_on_session() const;
    // Received bytes waiting for read() (bounded by the session's stream buffer limit + 65535).
    std::size_t buffered() const;
    ClientSession* session() const { return session_.get(); }

private:
    std::shared_ptr<ClientSession> session_;
    std::shared_ptr<ClientStreamState> state_;
};

class ClientSession : public std::enable_shared_from_this<ClientSession> {
public:
    ~ClientSession();
    ClientSession(const ClientSession&) = delete;
    ClientSession& operator=(const ClientSession&) = delete;

    // Opens the next stream to host:port. Requires state() == idle. Returns as soon as the
    // SYN and the address are queued, without waiting for the SYNACK (docs/DESIGN.md,
    // "Opening a stream"): a watcher checks it meanwhile (a refusal fails the stream with
    // errc::target_refused; no SYNACK within synack_timeout closes the session), and
    // ClientStream::wait_connected() waits for it. `early_data` leaves as the stream's first
    // data, with the SYN and the address: for protocols whose server answers only after
    // reading a request header (UDP-over-TCP to a server that routes before it acknowledges),
    // and for a replay. `hedge` > 0 (v2 peers only): a HeartRequest goes out with the SYN (on
    // the session's first stream the Settings' answer serves), and a session that answers
    // nothing within `hedge` is closed as dead. `assume_v2`: the caller knows the server
    // speaks v2 (another session of the same proxy said so), so a session that has not said
    // it yet is treated as v2: silence is death, not a v1 server.
    io::Task<Result<ClientStream>> open_stream(std::string host, std::uint16_t port,
                                               io::Duration timeout,
                                               std::vector<std::uint8_t> early_data = {},
                                               io::Duration hedge = io::Duration::zero(),
                                               bool assume_v2 = false);

    // Sends HeartRequest and waits for HeartResponse; only for v2 peers (known once the first
    // stream's ServerSettings arrived). Errors: errc::invalid_argument (not a v2 peer),
    // -ETIMEDOUT, or the session's error.
    io::Task<Result<void>> ping(io::Duration timeout);

    // Closes the connection at once; the current stream fails with errc::closed.
    void close();

    SessionState state() const { return state_; }
    // closed(), peer_version() and rtt() may be read from any thread (a pool that decides on
    // another reactor than this session's, docs/DESIGN.md "Threads"); close_reason() too once
    // closed() is true, as it is set before and never changes after.
    bool closed() const { return closed_.load(std::memory_order_acquire); }
    std::uint64_t seq() const { return seq_; }
    io::TimePoint created_at() const { return created_at_; }
    io::TimePoint last_used() const { return last_used_; }
    // The peer's protocol version from ServerSettings; 0 while unknown (or a v1 peer).
    int peer_version() const { return peer_version_.load(std::memory_order_relaxed); }
    // The peer is v2, by its own ServerSettings or by the caller's word (open_stream's
    // assume_v2).
    bool known_v2() const { return peer_version() >= 2 || assumed_v2_; }
    // Frames received so far, of any kind.
    std::uint64_t frames_received() const { return frames_received_; }
    std::uint32_t last_stream_id() const { return last_stream_id_; }
    // Streams that linger() let go of the session and that still drain.
    // Any thread (a pool on another reactor asks it).
    std::size_t lingering() const { return lingering_count_.load(std::memory_order_relaxed); }
    // The padding-md5 this session sent in its Settings (empty before the first stream).
    const std::string& sent_padding_md5() const { return sent_padding_md5_; }
    // Why the session closed (empty while open).
    const std::optional<Error>& close_reason() const { return close_reason_; }
    std::uint64_t heart_responses() const { return heart_responses_; }
    // Round-trip time: the TCP connect's at first, then each heartbeat's (zero: unknown).
    io::Duration rtt() const { return io::Duration(rtt_.load(std::memory_order_relaxed)); }

private:
    friend class ClientStream;
    friend io::Task<Result<std::shared_ptr<ClientSession>>> open_session(
        io::Reactor&, ClientConfig, std::shared_ptr<PaddingState>, std::uint64_t,
        io::CancellationSource*);
    friend io::Task<Result<std::shared_ptr<ClientSession>>> open_session_over(
        io::Reactor&, ClientConfig, std::shared_ptr<PaddingState>,
        std::unique_ptr<tls::TlsConnection>, std::uint64_t);
    ClientSession(io::Reactor& reactor, ClientConfig config, std::shared_ptr<PaddingState> padding,
                  std::unique_ptr<tls::TlsConnection> connection, std::uint64_t seq);

    static io::Task<void> read_loop(std::shared_ptr<ClientSession> self);
    static io::Task<void> watch_open(std::shared_ptr<ClientSession> self,
                                     std::shared_ptr<ClientStreamState> stream, io::Duration hedge);
    static io::Task<void> flush_corked(std::shared_ptr<ClientSession> self);
    void resolve(ClientStreamState& stream, std::optional<Error> error);
    io::Task<Result<void>> handle_frame(proto::FrameView frame);
    // One session write: numbered, padded while the scheme says so, serialized.
    io::Task<Result<void>> write_connection(std::vector<std::uint8_t> bytes, io::Duration timeout);
    io::Task<Result<void>> close_stream(std::shared_ptr<ClientStreamState> stream);
    void linger(const std::shared_ptr<ClientStreamState>& stream);
    static io::Task<void> close_stream_detached(std::shared_ptr<ClientSession> self,
                                                std::shared_ptr<ClientStreamState> stream);
    void fail(Error error);
    // What a failure the server caused means: errc::auth_failed for a young session closed
    // before any frame (the protocol's only sign of a wrong password), else `error`.
    Error remote_failure(Error error) const;

    io::Reactor* reactor_;
    ClientConfig config_;
    std::shared_ptr<PaddingState> padding_;
    std::unique_ptr<tls::TlsConnection> connection_;
    io::AsyncMutex write_mutex_;
    proto::WritePadder padder_;

    SessionState state_ = SessionState::idle;
    std::uint64_t seq_;
    io::TimePoint created_at_;
    io::TimePoint last_used_;
    std::atomic<int> peer_version_{0};
    std::atomic<bool> closed_{false};              // state_ == closed, for other threads
    std::atomic<std::size_t> lingering_count_{0};  // lingering_.size(), for other threads
    std::uint32_t last_stream_id_ = 0;
    bool settings_sent_ = false;
    bool peer_is_v1_ = false;  // the first stream's SYNACK wait ended with no ServerSettings
    std::string sent_padding_md5_;
    std::optional<Error> close_reason_;
    std::shared_ptr<ClientStreamState> stream_;  // the current stream, if any
    // Streams that linger() let go of the session: they still receive until they close.
    std::vector<std::shared_ptr<ClientStreamState>> lingering_;
    std::uint64_t heart_responses_ = 0;
    std::uint64_t frames_received_ = 0;
    bool reader_stalled_ = false;  // the reader waits for room in a stream's full buffer
    bool assumed_v2_ = false;
    io::Signal heart_signal_;
    std::atomic<io::Duration::rep> rtt_{0};
    // A SYN and address held back for a moment past the padding scheme's numbered writes, so
    // that the stream's first data leaves in the same TLS write (docs/DESIGN.md, "Opening a
    // stream"); every session write sends these bytes first.
    std::vector<std::uint8_t> corked_;
    io::CancellationSource cork_timer_;
};

// Connects to config.server_host:server_port, runs the TLS handshake and sends the auth
// preamble. `seq` is the session's sequence number (the pool numbers them from 1).
// Cancelling `cancel` ends the connect, a name lookup's wait or the handshake at once.
io::Task<Result<std::shared_ptr<ClientSession>>> open_session(
    io::Reactor& reactor, ClientConfig config, std::shared_ptr<PaddingState> padding,
    std::uint64_t seq = 0, io::CancellationSource* cancel = nullptr);

// The same over a connection that is already established (the TLS handshake done, or
// tls::TlsConnection::plaintext() for the session fuzzer): sends the auth preamble and starts
// the session's reader.
io::Task<Result<std::shared_ptr<ClientSession>>> open_session_over(
    io::Reactor& reactor, ClientConfig config, std::shared_ptr<PaddingState> padding,
    std::unique_ptr<tls::TlsConnection> connection, std::uint64_t seq = 0);

}  // namespace anytls::session
