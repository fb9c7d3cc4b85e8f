// The C ABI's stream and pending-open functions (anytls.h, "Streams" and "Pending opens";
// docs/C-API.md).
//
// Every exported function is noexcept and runs inside guarded() (abi_errors.hpp); a failure of
// a call on a stream or pending-open handle is recorded on that handle too, and a failed open
// on the client's.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <type_traits>

#include "abi_errors.hpp"
#include "anytls/anytls.h"
#include "handles.hpp"
#include "base/error_kind.hpp"
#include "base/errors.hpp"
#include "client/client.hpp"
#include "client/fd_stream_errors.hpp"

using namespace anytls;
using namespace anytls::capi;

namespace {

io::Duration milliseconds(int timeout_ms) {
    return timeout_ms < 0 ? io::Duration::zero()
                          : io::Duration(std::chrono::milliseconds(timeout_ms));
}

int check_io_timeout(int timeout_ms, const char* what) {
    if (timeout_ms == 0 || timeout_ms < ANYTLS_NO_TIMEOUT) {
        return invalid(std::string(what) +
                       ": timeout_ms must be > 0 or ANYTLS_NO_TIMEOUT (-1), got " +
                       std::to_string(timeout_ms));
    }
    return 0;
}

// Every open's check of its client and proxy, under `life` held shared: 0 or the error.
int check_open_target(const ClientCore& core, const char* proxy) {
    if (core.closed) return fail(ANYTLS_E_CLOSED, "the client is closed");
    if (!known_proxy(core, proxy)) return unknown_proxy(core, proxy);
    return 0;
}

// The part shared by anytls_stream_open and anytls_stream_open_fd; `life` is held shared.
int open_stream_locked(ClientCore& core, const char* proxy, const char* host, std::uint16_t port,
                       int timeout_ms, std::unique_ptr<client::Stream>* out,
                       bool wait_connected = false) {
    if (int rc = check_open_target(core, proxy)) return rc;
    auto opened = core.client->open_stream(proxy, host, port, std::chrono::milliseconds(timeout_ms),
                                           wait_connected);
    if (!opened) return fail(opened.error());
    *out = std::move(opened).value();
    return ANYTLS_OK;
}

int check_open_arguments(anytls_client* client, const char* proxy, const char* host, int timeout_ms,
                         const char* what) {
    if (int rc = check_client_proxy(client, proxy, what)) return rc;
    if (!host || !*host) return invalid(std::string(what) + ": the target host is NULL or empty");
    if (timeout_ms <= 0) {
        return invalid(std::string(what) + ": timeout_ms must be > 0, got " +
                       std::to_string(timeout_ms));
    }
    return 0;
}

}  // namespace

extern "C" {

ANYTLS_API int anytls_stream_open_ex(anytls_client* client, const char* proxy, const char* host,
                                     uint16_t port, int timeout_ms, unsigned flags,
                                     anytls_stream** out) noexcept {
    if (out) *out = nullptr;
    return guarded(errors_of(client), [&]() -> int {
        if (!out) return invalid("anytls_stream_open: out is NULL");
        if (int rc = check_open_arguments(client, proxy, host, timeout_ms, "anytls_stream_open"))
            return rc;
        if (flags & ~static_cast<unsigned>(ANYTLS_OPEN_WAIT_CONNECTED)) {
            return invalid("anytls_stream_open_ex: unknown flags " + std::to_string(flags));
        }
        std::shared_ptr<ClientCore> core = client->core;
        std::shared_lock life(core->life);
        std::unique_ptr<client::Stream> stream;
        if (int rc = open_stream_locked(*core, proxy, host, port, timeout_ms, &stream,
                                        (flags & ANYTLS_OPEN_WAIT_CONNECTED) != 0))
            return rc;
        auto handle = std::make_unique<anytls_stream>();
        handle->stream = std::move(stream);
        handle->core = core;
        *out = handle.release();
        return ANYTLS_OK;
    });
}

ANYTLS_API int anytls_stream_open(anytls_client* client, const char* proxy, const char* host,
                                  uint16_t port, int timeout_ms, anytls_stream** out) noexcept {
    return anytls_stream_open_ex(client, proxy, host, port, timeout_ms, 0, out);
}

ANYTLS_API int anytls_stream_fd_error(int fd) noexcept {
    return guarded([&]() -> int {
        if (fd < 0) return invalid("anytls_stream_fd_error: fd is negative");
        auto error = client::fd_stream_error(fd);
        if (!error) return ANYTLS_OK;
        return fail(*error);
    });
}

ANYTLS_API int anytls_stream_open_fd(anytls_client* client, const char* proxy, const char* host,
                                     uint16_t port, int timeout_ms, int* fd_out) noexcept {
    if (fd_out) *fd_out = -1;
    return guarded(errors_of(client), [&]() -> int {
        if (!fd_out) return invalid("anytls_stream_open_fd: fd_out is NULL");
        if (int rc = check_open_arguments(client, proxy, host, timeout_ms, "anytls_stream_open_fd"))
            return rc;
        ClientCore& core = *client->core;
        std::shared_lock life(core.life);
        std::unique_ptr<client::Stream> stream;
        if (int rc = open_stream_locked(core, proxy, host, port, timeout_ms, &stream)) return rc;
        auto fd = stream->into_fd();
        if (!fd) return fail(fd.error());  // the Stream closes as it goes
        *fd_out = fd.value();
        return ANYTLS_OK;
    });
}

ANYTLS_API int anytls_stream_read(anytls_stream* stream, void* buf, size_t len, int timeout_ms,
                                  size_t* n_read) noexcept {
    if (n_read) *n_read = 0;
    return guarded(errors_of(stream), [&]() -> int {
        if (!stream || !stream->stream) return invalid("anytls_stream_read: the stream is NULL");
        if (!buf) return invalid("anytls_stream_read: buf is NULL");
        if (!n_read) return invalid("anytls_stream_read: n_read is NULL");
        if (len == 0) return invalid("anytls_stream_read: len is 0");
        if (int rc = check_io_timeout(timeout_ms, "anytls_stream_read")) return rc;
        ClientCore& core = *stream->core;
        std::shared_lock life(core.life);
        if (core.closed) return fail(ANYTLS_E_CLOSED, "the client of this stream is closed");
        auto n = stream->stream->read(std::span<std::byte>(static_cast<std::byte*>(buf), len),
                                      milliseconds(timeout_ms));
        if (!n) return fail(n.error());
        *n_read = n.value();
        return ANYTLS_OK;
    });
}

ANYTLS_API int anytls_stream_write(anytls_stream* stream, const void* buf, size_t len,
                                   int timeout_ms) noexcept {
    return guarded(errors_of(stream), [&]() -> int {
        if (!stream || !stream->stream) return invalid("anytls_stream_write: the stream is NULL");
        if (!buf && len > 0) return invalid("anytls_stream_write: buf is NULL");
        if (int rc = check_io_timeout(timeout_ms, "anytls_stream_write")) return rc;
        if (len == 0) return ANYTLS_OK;
        ClientCore& core = *stream->core;
        std::shared_lock life(core.life);
        if (core.closed) return fail(ANYTLS_E_CLOSED, "the client of this stream is closed");
        auto written = stream->stream->write(
            std::span<const std::byte>(static_cast<const std::byte*>(buf), len),
            milliseconds(timeout_ms));
        if (!written) return fail(written.error());
        return ANYTLS_OK;
    });
}

ANYTLS_API int anytls_stream_close(anytls_stream* stream) noexcept {
    if (!stream) return ANYTLS_OK;
    std::unique_ptr<anytls_stream> handle(stream);
    return guarded([&]() -> int {
        if (!handle->core || !handle->stream) return ANYTLS_OK;
        ClientCore& core = *handle->core;
        int rc = ANYTLS_OK;
        {
            // `life` first: if the client closed already, its close closed this stream
            // (client::Client::close_streams); otherwise the reactor lives until we are done.
            std::shared_lock life(core.life);
            if (!core.closed) {
                auto closed = handle->stream->close();
                if (!closed && closed.code() != errc::closed) rc = fail(closed.error());
            }
            handle->stream.reset();  // under `life`: the destructor may still reach the reactor
        }
        return rc;
    });
}

ANYTLS_API int anytls_stream_shutdown(anytls_stream* stream) noexcept {
    return guarded(errors_of(stream), [&]() -> int {
        if (!stream || !stream->stream)
            return invalid("anytls_stream_shutdown: the stream is NULL");
        ClientCore& core = *stream->core;
        std::shared_lock life(core.life);
        if (core.closed) return ANYTLS_OK;  // the client's close ended it already
        (void)stream->stream->close();      // client::Stream: wakes calls in flight at once
        return ANYTLS_OK;
    });
}

ANYTLS_API int anytls_stream_into_fd(anytls_stream* stream, int* fd_out) noexcept {
    if (fd_out) *fd_out = -1;
    if (!fd_out)
        return guarded([&]() -> int { return invalid("anytls_stream_into_fd: fd_out is NULL"); });
    if (!stream)
        return guarded([&]() -> int { return invalid("anytls_stream_into_fd: stream is NULL"); });
    std::unique_ptr<anytls_stream> handle(stream);
    return guarded([&]() -> int {
        if (!handle->core || !handle->stream) return fail(ANYTLS_E_CLOSED, "the stream is closed");
        ClientCore& core = *handle->core;
        std::shared_lock life(core.life);
        if (core.closed) {
            handle->stream.reset();
            return fail(ANYTLS_E_CLOSED, "the client is closed");
        }
        auto fd = handle->stream->into_fd();
        handle->stream.reset();  // under `life`: the destructor may still reach the reactor
        if (!fd) return fail(fd.error());
        *fd_out = fd.value();
        return ANYTLS_OK;
    });
}

// ---- pending opens ---------------------------------------------------------------------------

ANYTLS_API int anytls_open_start(anytls_client* client, const char* proxy, const char* host,
                                 uint16_t port, int timeout_ms, anytls_open** out) noexcept {
    if (out) *out = nullptr;
    return guarded(errors_of(client), [&]() -> int {
        if (!out) return invalid("anytls_open_start: out is NULL");
        if (int rc = check_open_arguments(client, proxy, host, timeout_ms, "anytls_open_start"))
            return rc;
        std::shared_ptr<ClientCore> core = client->core;
        std::shared_lock life(core->life);
        if (int rc = check_open_target(*core, proxy)) return rc;
        auto started =
            core->client->start_open(proxy, host, port, std::chrono::milliseconds(timeout_ms));
        if (!started) return fail(started.error());
        auto handle = std::make_unique<anytls_open>();
        handle->pending = std::move(started).value();
        handle->core = std::move(core);
        *out = handle.release();
        return ANYTLS_OK;
    });
}

ANYTLS_API int anytls_open_notify_fd(const anytls_open* open) noexcept {
    return guarded(errors_of(open), [&]() -> int {
        if (!open || !open->pending)
            return invalid("anytls_open_notify_fd: the pending open is NULL");
        return open->pending->notify_fd();
    });
}

ANYTLS_API int anytls_open_result(anytls_open* open, int* fd_out) noexcept {
    if (fd_out) *fd_out = -1;
    return guarded(errors_of(open), [&]() -> int {
        if (!open || !open->pending) return invalid("anytls_open_result: the pending open is NULL");
        if (!fd_out) return invalid("anytls_open_result: fd_out is NULL");
        auto outcome = open->pending->take_result();
        if (!outcome) return fail(ANYTLS_E_IN_PROGRESS, "the open has not ended yet");
        if (!*outcome) {
            const Error& error = outcome->error();
            if (error_kind(error.code) == ErrorKind::cancelled)
                return fail(ANYTLS_E_CANCELLED, error.text());
            if (error.code == errc::invalid_argument)
                return invalid("anytls_open_result: " + error.text());
            return fail(error);
        }
        *fd_out = outcome->value();
        return ANYTLS_OK;
    });
}

ANYTLS_API int anytls_open_cancel(anytls_open* open) noexcept {
    return guarded(errors_of(open), [&]() -> int {
        if (!open || !open->pending) return invalid("anytls_open_cancel: the pending open is NULL");
        open->pending->cancel();
        return ANYTLS_OK;
    });
}

ANYTLS_API void anytls_open_free(anytls_open* open) noexcept {
    (void)guarded([&]() -> int {
        delete open;  // ~PendingOpen cancels a running open and closes its fds
        return ANYTLS_OK;
    });
}

ANYTLS_API size_t anytls_stream_last_error(const anytls_stream* stream, int* code, char* buf,
                                           size_t len) noexcept {
    return copy_last_error(stream, code, buf, len);
}

ANYTLS_API size_t anytls_open_last_error(const anytls_open* open, int* code, char* buf,
                                         size_t len) noexcept {
    return copy_last_error(open, code, buf, len);
}

}  // extern "C"
