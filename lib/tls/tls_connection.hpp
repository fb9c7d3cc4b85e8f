// TlsConnection: one TLS connection over a TCP socket, driven by the reactor.
//
// The bridge (docs/DESIGN.md, "The TLS bridge"; seastar's tls): wolfSSL never sees the socket. Its
// I/O callbacks only copy memory — the receive callback takes ciphertext from `input_`, which the
// reading coroutine fills from the socket; the send callback appends ciphertext to
// `output_pending_`, which the single writer moves to the socket. A buffer the kernel is reading
// from (`output_sending_`) is never touched by a callback, and `input_` never moves while a receive
// into it is in flight.
//
// Concurrency: at most one reader and one writer at a time, which may run concurrently
// (a session reads frames while streams write). Writers are serialized by a mutex; the
// reader flushes what wolfSSL produced while reading (key updates, alerts) through the same
// path. Reactor thread only.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/page_buffer.hpp"
#include "base/result.hpp"
#include "io/async_mutex.hpp"
#include "io/cancellation.hpp"
#include "io/clock.hpp"
#include "io/reactor.hpp"
#include "io/cancellation.hpp"
#include "io/tcp.hpp"
#include "io/task.hpp"
#include "tls/tls_context.hpp"

struct WOLFSSL;

namespace anytls::tls {

struct ClientHandshakeOptions {
    std::string server_name;        // SNI (omitted for IP literals) and the name verified
    std::vector<std::string> alpn;  // optional
    io::Duration timeout = std::chrono::seconds(10);
    // Cancelling it ends the handshake at once with -ECANCELED (a pool shutting down).
    io::CancellationSource* cancel = nullptr;
};

struct ServerHandshakeOptions {
    std::vector<std::string> alpn;  // optional: protocols the server accepts
    io::Duration timeout = std::chrono::seconds(10);
    // Kept for the connection's whole life: cancelling it ends the handshake, and every later
    // socket wait of the connection, with -ECANCELED (the server's scope as it shuts down).
    io::CancellationSource* cancel = nullptr;
};

class TlsConnection {
public:
    // Runs the client handshake on `socket`. Errors name what failed: errc::tls_hostname_mismatch,
    // tls_unknown_ca, tls_cert_expired, -ETIMEDOUT ("TLS handshake timed out"), errc::closed
    // or -ECONNRESET (peer went away), tls_handshake_failed otherwise.
    static io::Task<Result<std::unique_ptr<TlsConnection>>> connect(
        io::Reactor& reactor, io::Socket socket, std::shared_ptr<TlsContext> context,
        ClientHandshakeOptions options);
    static io::Task<Result<std::unique_ptr<TlsConnection>>> accept(
        io::Reactor& reactor, io::Socket socket, std::shared_ptr<TlsContext> context,
        ServerHandshakeOptions options);

    // No TLS at all: read and write move the bytes over `socket` as they are. Only for
    // running the AnyTLS layer in memory (the session fuzzer, tools/fuzz/session_fuzz.cpp,
    // joins a client and a server session over socket pairs with it); nothing in the library
    // makes one.
    static std::unique_ptr<TlsConnection> plaintext(io::Reactor& reactor, io::Socket socket);

    ~TlsConnection();
    TlsConnection(const TlsConnection&) = delete;
    TlsConnection& operator=(const TlsConnection&) = delete;

    // Reads decrypted bytes: n > 0, or 0 when the peer closed cleanly (close_notify). A TCP
    // end without close_notify is errc::closed; a reset is -ECONNRESET. timeout zero: none.
    io::Task<Result<std::size_t>> read(std::span<std::byte> buffer, io::Duration timeout = {});
    // Writes all of data (encrypted into records of up to 16 KiB). timeout applies to each
    // socket send, so a stalled peer is detected.
    io::Task<Result<void>> write(std::span<const std::byte> data, io::Duration timeout = {});
    // Sends close_notify and a TCP FIN. Does not wait for the peer's close_notify.
    io::Task<Result<void>> close(io::Duration timeout = std::chrono::seconds(2));
    // Wakes a pending read (it returns an error) and stops further I/O; for teardown.
    void abort();

    io::Socket& socket() { return socket_; }
    std::string protocol_version() const;  // "TLSv1.3"
    std::string cipher_suite() const;
    std::string alpn() const;  // negotiated protocol, or empty

private:
    // A connection over `socket` with its own WOLFSSL (connect and accept).
    static Result<std::unique_ptr<TlsConnection>> make(io::Reactor& reactor, io::Socket socket,
                                                       const std::shared_ptr<TlsContext>& context);
    TlsConnection(io::Reactor& reactor, io::Socket socket, std::shared_ptr<TlsContext> context,
                  WOLFSSL* ssl);
    io::Task<Result<void>> handshake(bool client, io::Duration timeout);
    io::Task<Result<void>> fill_input(io::Duration timeout);
    io::Task<Result<void>> flush(io::Duration timeout);
    Error error_from_wolfssl(int code, bool in_handshake) const;

    static int receive_callback(WOLFSSL*, char* buffer, int size, void* self);
    static int send_callback(WOLFSSL*, char* buffer, int size, void* self);

    io::Reactor* reactor_;
    io::Socket socket_;
    std::shared_ptr<TlsContext> context_;
    WOLFSSL* ssl_;  // null for plaintext()

    // Ciphertext from the socket, consumed by wolfSSL: [input_begin_, input_end_).
    PageBuffer input_;  // kInputBufferSize bytes
    std::size_t input_begin_ = 0;
    std::size_t input_end_ = 0;
    bool peer_eof_ = false;
    int socket_error_ = 0;

    // Ciphertext from wolfSSL waiting to go out, and the buffer being sent.
    std::vector<std::byte> output_pending_;
    std::vector<std::byte> output_sending_;
    io::AsyncMutex write_mutex_;
    bool aborted_ = false;
    // Passed to every socket wait: a client's only while connect() runs, a server's for the
    // connection's life (ServerHandshakeOptions::cancel).
    io::CancellationSource* cancel_ = nullptr;
};

}  // namespace anytls::tls
