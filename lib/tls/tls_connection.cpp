// TlsConnection: the wolfSSL <-> reactor bridge (see tls_connection.hpp).
#include "tls/tls_connection.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/errors.hpp"
#include "tls/certificate_pin.hpp"
#include "tls/client_hello_shape.hpp"
#include "io/timer.hpp"
#include "log/log.hpp"
#include "tls/wolfssl.hpp"

namespace anytls::tls {

namespace {

// Room for several full TLS records (16 KiB + overhead each) per socket receive. Allocated
// without zero-filling: an idle session's pages stay untouched (not resident) until bytes
// land in them, which keeps the memory of a pool of idle sessions small.
constexpr std::size_t kInputBufferSize = 64 * 1024;
// Plaintext handed to wolfSSL_write at once: about 16 records, then flushed to the socket.
constexpr std::size_t kWriteChunk = 256 * 1024;

bool is_ip_literal(const std::string& host) {
    unsigned char buf[16];
    return ::inet_pton(AF_INET, host.c_str(), buf) == 1 ||
           ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// RFC 8446 section 6 alert names (wolfSSL has its own table only with OPENSSL_EXTRA).
const char* alert_name(int code) {
    switch (code) {
        case 0:
            return "close_notify";
        case 10:
            return "unexpected_message";
        case 20:
            return "bad_record_mac";
        case 22:
            return "record_overflow";
        case 40:
            return "handshake_failure";
        case 42:
            return "bad_certificate";
        case 43:
            return "unsupported_certificate";
        case 44:
            return "certificate_revoked";
        case 45:
            return "certificate_expired";
        case 46:
            return "certificate_unknown";
        case 47:
            return "illegal_parameter";
        case 48:
            return "unknown_ca";
        case 50:
            return "decode_error";
        case 51:
            return "decrypt_error";
        case 70:
            return "protocol_version";
        case 71:
            return "insufficient_security";
        case 80:
            return "internal_error";
        case 90:
            return "user_canceled";
        case 109:
            return "missing_extension";
        case 110:
            return "unsupported_extension";
        case 112:
            return "unrecognized_name";
        case 116:
            return "certificate_required";
        case 120:
            return "no_application_protocol";
        default:
            return "unknown alert";
    }
}

std::string seconds_text(io::Duration d) {
    double s = std::chrono::duration<double>(d).count();
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%g", s);
    return buf;
}

}  // namespace

TlsConnection::TlsConnection(io::Reactor& reactor, io::Socket socket,
                             std::shared_ptr<TlsContext> context, WOLFSSL* ssl)
    : reactor_(&reactor),
      socket_(std::move(socket)),
      context_(std::move(context)),
      ssl_(ssl),
      input_(kInputBufferSize),
      write_mutex_(reactor) {
    if (!ssl_) return;  // plaintext()
    wolfSSL_SSLSetIORecv(ssl_, &TlsConnection::receive_callback);
    wolfSSL_SSLSetIOSend(ssl_, &TlsConnection::send_callback);
    wolfSSL_SetIOReadCtx(ssl_, this);
    wolfSSL_SetIOWriteCtx(ssl_, this);
}

TlsConnection::~TlsConnection() {
    if (ssl_) wolfSSL_free(ssl_);
}

std::unique_ptr<TlsConnection> TlsConnection::plaintext(io::Reactor& reactor, io::Socket socket) {
    return std::unique_ptr<TlsConnection>(
        new TlsConnection(reactor, std::move(socket), nullptr, nullptr));
}

int TlsConnection::receive_callback(WOLFSSL*, char* buffer, int size, void* ctx) {
    auto* self = static_cast<TlsConnection*>(ctx);
    std::size_t available = self->input_end_ - self->input_begin_;
    if (available > 0) {
        std::size_t n = std::min<std::size_t>(available, static_cast<std::size_t>(size));
        std::memcpy(buffer, self->input_.data() + self->input_begin_, n);
        self->input_begin_ += n;
        return static_cast<int>(n);
    }
    if (self->aborted_ || self->socket_error_ != 0) return WOLFSSL_CBIO_ERR_CONN_RST;
    if (self->peer_eof_) return WOLFSSL_CBIO_ERR_CONN_CLOSE;
    return WOLFSSL_CBIO_ERR_WANT_READ;
}

int TlsConnection::send_callback(WOLFSSL*, char* buffer, int size, void* ctx) {
    auto* self = static_cast<TlsConnection*>(ctx);
    if (self->aborted_) return WOLFSSL_CBIO_ERR_CONN_RST;
    auto* p = reinterpret_cast<const std::byte*>(buffer);
    self->output_pending_.insert(self->output_pending_.end(), p, p + size);
    return size;
}

Error TlsConnection::error_from_wolfssl(int code, bool in_handshake) const {
    if (socket_error_ != 0) {
        return make_error(socket_error_, std::string(in_handshake ? "TLS handshake: " : "TLS: ") +
                                             std::strerror(-socket_error_));
    }
    if (peer_eof_) {
        return make_error(errc::closed,
                          in_handshake
                              ? "TLS handshake: the peer closed the connection"
                              : "TLS: the peer closed the connection without close_notify");
    }
    std::string reason = wolfssl_error_text(code);
    switch (code) {
        case DOMAIN_NAME_MISMATCH:
            return make_error(errc::tls_hostname_mismatch,
                              "TLS: certificate hostname mismatch (" + reason + ")");
        case ASN_NO_SIGNER_E:
        // A self-signed leaf that no trusted CA vouches for: Debian's wolfSSL 5.5.4-2+deb12u3
        // (a security update) reports it so, earlier builds as ASN_NO_SIGNER_E.
        case ASN_SELF_SIGNED_E:
            return make_error(errc::tls_unknown_ca,
                              "TLS: certificate signed by an unknown CA (" + reason + ")");
        case ASN_AFTER_DATE_E:
            return make_error(errc::tls_cert_expired, "TLS: certificate expired (" + reason + ")");
        case ASN_BEFORE_DATE_E:
            return make_error(errc::tls_cert_not_yet_valid,
                              "TLS: certificate not yet valid (" + reason + ")");
        default:
            break;
    }
    if (code == FATAL_ERROR) {
        WOLFSSL_ALERT_HISTORY history{};
        if (wolfSSL_get_alert_history(ssl_, &history) == WOLFSSL_SUCCESS &&
            history.last_rx.code > 0) {
            return make_error(
                in_handshake ? errc::tls_handshake_failed : errc::tls_protocol,
                std::string("TLS: the peer sent alert '") + alert_name(history.last_rx.code) + "'");
        }
    }
    return make_error(
        in_handshake ? errc::tls_handshake_failed : errc::tls_protocol,
        std::string(in_handshake ? "TLS handshake failed: " : "TLS error: ") + reason);
}

io::Task<Result<void>> TlsConnection::fill_input(io::Duration timeout) {
    if (input_begin_ == input_end_) {
        input_begin_ = input_end_ = 0;
    } else if (input_end_ == kInputBufferSize) {
        std::memmove(input_.data(), input_.data() + input_begin_, input_end_ - input_begin_);
        input_end_ -= input_begin_;
        input_begin_ = 0;
    }
    auto got = co_await io::recv(*reactor_, socket_.fd(), input_.data() + input_end_,
                                 kInputBufferSize - input_end_, timeout, cancel_);
    if (aborted_) co_return make_error(-ECANCELED, "TLS: connection aborted");
    if (!got) {
        if (got.error().code != -ETIMEDOUT) socket_error_ = got.error().code;
        co_return std::move(got).error();
    }
    if (*got == 0) peer_eof_ = true;
    input_end_ += *got;
    co_return Result<void>{};
}

io::Task<Result<void>> TlsConnection::flush(io::Duration timeout) {
    while (!output_pending_.empty()) {
        output_sending_.swap(output_pending_);
        auto sent =
            co_await io::send_all(*reactor_, socket_.fd(), output_sending_, timeout, cancel_);
        output_sending_.clear();
        if (!sent) {
            if (sent.error().code != -ETIMEDOUT) socket_error_ = sent.error().code;
            co_return std::move(sent).error();
        }
    }
    co_return Result<void>{};
}

io::Task<Result<void>> TlsConnection::handshake(bool client, io::Duration timeout) {
    io::Deadline deadline =
        timeout > io::Duration::zero() ? io::Deadline::after(timeout) : io::Deadline::never();
    for (;;) {
        int rc = client ? wolfSSL_connect(ssl_) : wolfSSL_accept(ssl_);
        int err = rc == WOLFSSL_SUCCESS ? 0 : wolfSSL_get_error(ssl_, rc);
        // Whatever wolfSSL produced goes out before we wait for the peer.
        if (auto sent = co_await flush(deadline.remaining()); !sent) {
            if (sent.error().code == -ECANCELED)
                co_return make_error(-ECANCELED, "TLS handshake cancelled");
            if (sent.error().code == -ETIMEDOUT) {
                co_return make_error(
                    -ETIMEDOUT, "TLS handshake timed out after " + seconds_text(timeout) + "s");
            }
            co_return std::move(sent).error();
        }
        if (rc == WOLFSSL_SUCCESS) co_return Result<void>{};
        if (err == WOLFSSL_ERROR_WANT_WRITE) continue;
        if (err != WOLFSSL_ERROR_WANT_READ) co_return error_from_wolfssl(err, true);
        if (peer_eof_) co_return error_from_wolfssl(err, true);
        if (deadline.expired()) {
            co_return make_error(-ETIMEDOUT,
                                 "TLS handshake timed out after " + seconds_text(timeout) + "s");
        }
        auto filled = co_await fill_input(deadline.remaining());
        if (!filled) {
            if (filled.error().code == -ECANCELED)
                co_return make_error(-ECANCELED, "TLS handshake cancelled");
            if (filled.error().code == -ETIMEDOUT) {
                co_return make_error(
                    -ETIMEDOUT, "TLS handshake timed out after " + seconds_text(timeout) + "s");
            }
            if (filled.error().code == -ECONNRESET) {
                co_return make_error(-ECONNRESET, "TLS handshake: connection reset by peer");
            }
            co_return std::move(filled).error();
        }
    }
}

namespace {
// After SNI on the client: the order of the calls is the order of the ClientHello's extensions.
void offer_alpn(WOLFSSL* ssl, const std::vector<std::string>& alpn) {
    if (alpn.empty()) return;
    std::string list;
    for (const auto& p : alpn) list += (list.empty() ? "" : ",") + p;
    wolfSSL_UseALPN(ssl, list.data(), static_cast<unsigned>(list.size()),
                    WOLFSSL_ALPN_CONTINUE_ON_MISMATCH);
}
}  // namespace

Result<std::unique_ptr<TlsConnection>> TlsConnection::make(
    io::Reactor& reactor, io::Socket socket, const std::shared_ptr<TlsContext>& context) {
    WOLFSSL* ssl = wolfSSL_new(context->native());
    if (!ssl) return make_error(-ENOMEM, "wolfSSL_new failed");
    return std::unique_ptr<TlsConnection>(
        new TlsConnection(reactor, std::move(socket), context, ssl));
}

io::Task<Result<std::unique_ptr<TlsConnection>>> TlsConnection::connect(
    io::Reactor& reactor, io::Socket socket, std::shared_ptr<TlsContext> context,
    ClientHandshakeOptions options) {
    auto made = make(reactor, std::move(socket), context);
    if (!made) co_return std::move(made).error();
    std::unique_ptr<TlsConnection> conn = std::move(made).value();
    WOLFSSL* ssl = conn->ssl_;
    const std::string& name = options.server_name;
    if (!name.empty() && !is_ip_literal(name)) {
        // No SNI for IP literals (RFC 6066 section 3), as the references do.
        wolfSSL_UseSNI(ssl, WOLFSSL_SNI_HOST_NAME, name.data(),
                       static_cast<unsigned short>(name.size()));
    }
    if (context->verifies_peer()) {
        if (name.empty())
            co_return make_error(errc::invalid_argument,
                                 "TLS: certificate verification needs a server name");
        wolfSSL_check_domain_name(ssl, name.c_str());
    }
    offer_alpn(ssl, options.alpn);
    if (auto shaped = shape_client_hello(ssl); !shaped) co_return std::move(shaped).error();
    conn->cancel_ = options.cancel;
    auto done = co_await conn->handshake(true, options.timeout);
    conn->cancel_ = nullptr;
    if (!done) co_return std::move(done).error();
    if (const auto& pin = context->pinned_sha256()) {
        if (auto pinned = check_pinned_certificate(ssl, *pin); !pinned)
            co_return std::move(pinned).error();
    }
    co_return std::move(conn);
}

io::Task<Result<std::unique_ptr<TlsConnection>>> TlsConnection::accept(
    io::Reactor& reactor, io::Socket socket, std::shared_ptr<TlsContext> context,
    ServerHandshakeOptions options) {
    auto made = make(reactor, std::move(socket), context);
    if (!made) co_return std::move(made).error();
    std::unique_ptr<TlsConnection> conn = std::move(made).value();
    offer_alpn(conn->ssl_, options.alpn);
    conn->cancel_ = options.cancel;
    auto done = co_await conn->handshake(false, options.timeout);
    if (!done) co_return std::move(done).error();
    co_return std::move(conn);
}

io::Task<Result<std::size_t>> TlsConnection::read(std::span<std::byte> buffer,
                                                  io::Duration timeout) {
    if (!ssl_) {  // plaintext(): the socket's bytes as they come
        if (aborted_) co_return make_error(-ECANCELED, "connection aborted");
        auto got = co_await io::recv(*reactor_, socket_.fd(), buffer.data(), buffer.size(), timeout,
                                     cancel_);
        if (aborted_) co_return make_error(-ECANCELED, "connection aborted");
        co_return got;
    }
    for (;;) {
        if (aborted_) co_return make_error(-ECANCELED, "TLS: connection aborted");
        int n = wolfSSL_read(ssl_, buffer.data(),
                             static_cast<int>(std::min<std::size_t>(buffer.size(), 1 << 30)));
        int err = n > 0 ? 0 : wolfSSL_get_error(ssl_, n);
        // Reading can make wolfSSL answer (a key update, an alert): send it unless a writer
        // is already flushing, in which case its flush loop carries it.
        if (!output_pending_.empty() && write_mutex_.try_lock()) {
            auto sent = co_await flush(timeout);
            write_mutex_.unlock();
            if (!sent && n <= 0) co_return std::move(sent).error();
        }
        if (n > 0) co_return static_cast<std::size_t>(n);
        if (err == WOLFSSL_ERROR_ZERO_RETURN) co_return std::size_t{0};  // close_notify
        if (err == WOLFSSL_ERROR_WANT_WRITE) continue;
        if (err != WOLFSSL_ERROR_WANT_READ) co_return error_from_wolfssl(err, false);
        if (peer_eof_ || socket_error_ != 0) co_return error_from_wolfssl(err, false);
        auto filled = co_await fill_input(timeout);
        if (!filled) co_return std::move(filled).error();
    }
}

io::Task<Result<void>> TlsConnection::write(std::span<const std::byte> data, io::Duration timeout) {
    auto guard = co_await write_mutex_.scoped();
    if (!ssl_) {  // plaintext()
        if (aborted_) co_return make_error(-ECANCELED, "connection aborted");
        auto sent = co_await io::send_all(*reactor_, socket_.fd(), data, timeout, cancel_);
        co_return sent;
    }
    while (!data.empty()) {
        if (aborted_) co_return make_error(-ECANCELED, "TLS: connection aborted");
        if (socket_error_ != 0) co_return error_from_wolfssl(0, false);
        std::size_t chunk = std::min(data.size(), kWriteChunk);
        int n = wolfSSL_write(ssl_, data.data(), static_cast<int>(chunk));
        if (n <= 0) {
            int err = wolfSSL_get_error(ssl_, n);
            if (err != WOLFSSL_ERROR_WANT_WRITE) co_return error_from_wolfssl(err, false);
            // WANT_WRITE: flush, then retry with the same buffer and length (wolfSSL's rule).
        } else {
            data = data.subspan(static_cast<std::size_t>(n));
        }
        auto sent = co_await flush(timeout);
        if (!sent) co_return std::move(sent).error();
    }
    co_return Result<void>{};
}

io::Task<Result<void>> TlsConnection::close(io::Duration timeout) {
    if (aborted_) co_return Result<void>{};
    auto guard = co_await write_mutex_.scoped();
    if (!ssl_) {  // plaintext()
        socket_.shutdown(SHUT_WR);
        co_return Result<void>{};
    }
    wolfSSL_shutdown(ssl_);  // queues close_notify; we do not wait for the peer's
    auto sent = co_await flush(timeout);
    socket_.shutdown(SHUT_WR);
    co_return sent;
}

void TlsConnection::abort() {
    aborted_ = true;
    socket_.shutdown(SHUT_RDWR);
}

std::string TlsConnection::protocol_version() const {
    return ssl_ ? wolfSSL_get_version(ssl_) : "none";
}

std::string TlsConnection::cipher_suite() const {
    const char* name = ssl_ ? wolfSSL_get_cipher_name(ssl_) : nullptr;
    return name ? name : "";
}

std::string TlsConnection::alpn() const {
    char* name = nullptr;
    unsigned short size = 0;
    if (!ssl_ || wolfSSL_ALPN_GetProtocol(ssl_, &name, &size) != WOLFSSL_SUCCESS || !name)
        return {};
    return std::string(name, size);
}

}  // namespace anytls::tls
