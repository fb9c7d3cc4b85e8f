// capi.cpp: the stable C ABI (anytls.h) over the C++ core — the only place with extern "C"
// definitions (docs/DESIGN.md, "The C ABI" and "Errors are values").
//
// Every exported function is noexcept and runs its body inside guarded(), which turns any
// exception into ANYTLS_E_NO_MEMORY / ANYTLS_E_INTERNAL plus a message: exceptions never cross
// the ABI. Internal error codes (negative errno or errc::*, base/errors.hpp) are mapped to the
// pinned public enum by public_code(), from the one table of base/error_kind.hpp; the message of
// every failure goes to the calling thread's last-error string.
//
// Handle lifetimes. A client handle owns a ClientCore shared with its stream handles, because
// stream handles may outlive the client (anytls_client_close closes them, the caller still
// frees them). ClientCore::life is a shared_mutex: every call that reaches the reactor holds
// it shared; anytls_client_close first closes every open stream of the client (waking readers
// blocked in other threads), then takes it exclusively, closes the streams opened meanwhile,
// and destroys the Client. A stream handle whose client is closed answers ANYTLS_E_CLOSED
// without touching the (gone) reactor.

// The public header first: its version macros are captured, then removed, because the build
// configuration header (anytls_build_config.h) defines the same names; the static_asserts
// below keep the header and the project version in step.
#include "anytls/anytls.h"

namespace {
constexpr int kHeaderMajor = ANYTLS_VERSION_MAJOR;
constexpr int kHeaderMinor = ANYTLS_VERSION_MINOR;
constexpr int kHeaderPatch = ANYTLS_VERSION_PATCH;
constexpr const char* kHeaderVersion = ANYTLS_VERSION_STRING;
}  // namespace
#undef ANYTLS_VERSION_MAJOR
#undef ANYTLS_VERSION_MINOR
#undef ANYTLS_VERSION_PATCH
#undef ANYTLS_VERSION_STRING

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "anytls_build_config.h"
#include "base/error_kind.hpp"
#include "base/errors.hpp"
#include "base/result.hpp"
#include "client/client.hpp"
#include "client/fd_stream_errors.hpp"
#include "config/pool_settings.hpp"
#include "io/reactor_thread.hpp"
#include "io/run_blocking.hpp"
#include "log/log.hpp"
#include "server/load_server_config.hpp"
#include "server/server.hpp"

static_assert(kHeaderMajor == ANYTLS_VERSION_MAJOR && kHeaderMinor == ANYTLS_VERSION_MINOR &&
                  kHeaderPatch == ANYTLS_VERSION_PATCH,
              "capi/include/anytls/anytls.h: ANYTLS_VERSION_* differ from the project version in "
              "meson.build");
static_assert(
    std::string_view(kHeaderVersion) == std::string_view(ANYTLS_VERSION_STRING),
    "capi/include/anytls/anytls.h: ANYTLS_VERSION_STRING differs from the project version");

using namespace anytls;

// ---- handles -------------------------------------------------------------------------------

namespace {

struct ClientCore {
    std::unique_ptr<client::Client> client;
    std::vector<std::string> proxy_names;  // fixed at open: the configuration's [[proxies]]
    std::shared_mutex life;                // shared: a call in progress; exclusive: closing
    bool closed = false;                   // written under `life` held exclusively
};

}  // namespace

struct anytls_client {
    std::shared_ptr<ClientCore> core;
};

struct anytls_stream {
    std::unique_ptr<client::Stream> stream;
    std::shared_ptr<ClientCore> core;
};

// A pending open keeps the client's core alive: anytls_client_close ends the open (its pool
// shuts down), and the handle is still freed by anytls_open_free.
struct anytls_open {
    std::unique_ptr<client::PendingOpen> pending;
    std::shared_ptr<ClientCore> core;
};

struct anytls_server {
    std::unique_ptr<io::ReactorThread> thread;
    std::unique_ptr<server::Server> server;
    std::uint16_t port = 0;
};

namespace {

// ---- errors --------------------------------------------------------------------------------

thread_local std::string t_last_error;

// Stores the message and returns the code; never throws (a message that cannot be stored is
// replaced by the code's own text, which needs no allocation beyond what assign may do).
int fail(int code, std::string_view message) noexcept {
    try {
        t_last_error.assign(message.data(), message.size());
    } catch (...) {
        t_last_error.clear();
    }
    return code;
}

// The public code of an internal one, through the one table of error kinds
// (base/error_kind.hpp). A cancelled wait is CLOSED here: blocking calls are cancelled only by
// a closing client; anytls_open_result reports a caller's own cancel as CANCELLED.
int public_code(int internal) {
    switch (error_kind(internal)) {
        case ErrorKind::ok:
            return ANYTLS_OK;
        case ErrorKind::invalid_argument:
            return ANYTLS_E_INVALID_ARGUMENT;
        case ErrorKind::config:
            return ANYTLS_E_CONFIG;
        case ErrorKind::closed:
        case ErrorKind::cancelled:
            return ANYTLS_E_CLOSED;
        case ErrorKind::timeout:
            return ANYTLS_E_TIMEOUT;
        case ErrorKind::unreachable:
            return ANYTLS_E_CONNECT;
        case ErrorKind::tls:
            return ANYTLS_E_TLS;
        case ErrorKind::tls_verify:
            return ANYTLS_E_TLS_VERIFY;
        case ErrorKind::auth:
            return ANYTLS_E_AUTH;
        case ErrorKind::alert:  // the server's Alert: it saw a violation
        case ErrorKind::protocol:
            return ANYTLS_E_PROTOCOL;
        case ErrorKind::target_refused:
            return ANYTLS_E_TARGET_REFUSED;
        case ErrorKind::no_memory:
            return ANYTLS_E_NO_MEMORY;
        case ErrorKind::io:
            return ANYTLS_E_IO;
        case ErrorKind::internal:
            break;
    }
    return ANYTLS_E_INTERNAL;  // an errc the table does not know: a bug
}

int fail(const Error& error) noexcept {
    try {
        return fail(public_code(error.code), error.text());
    } catch (...) {
        return fail(public_code(error.code), std::string_view{});
    }
}

// Runs body; exceptions become codes. Every exported function goes through here.
template <typename Body>
int guarded(Body&& body) noexcept {
    try {
        return body();
    } catch (const std::bad_alloc&) {
        return fail(ANYTLS_E_NO_MEMORY, "out of memory");
    } catch (const std::exception& e) {
        std::string message;
        try {
            message = std::string("internal error: ") + e.what();
        } catch (...) {}
        return fail(ANYTLS_E_INTERNAL, message);
    } catch (...) {
        return fail(ANYTLS_E_INTERNAL, "internal error: unknown exception");
    }
}

int invalid(std::string_view message) { return fail(ANYTLS_E_INVALID_ARGUMENT, message); }

// ---- logging -------------------------------------------------------------------------------

// Where log lines go once anytls_set_log has been called. Leaked on purpose: reactor threads
// of clients the program never closed may still log during static destruction.
struct LogRoute {
    std::recursive_mutex mutex;  // serializes the callback; recursive so a misbehaving
                                 // callback that calls anytls_set_log does not deadlock
    anytls_log_fn fn = nullptr;
    void* user = nullptr;
    int level = ANYTLS_LOG_INFO;
    bool installed = false;
    std::atomic<int> user_level{-1};  // -1: anytls_set_log never called
};

LogRoute& log_route() {
    static LogRoute* route = new LogRoute;
    return *route;
}

void route_line(log::Level level, std::string_view message) {
    LogRoute& route = log_route();
    std::lock_guard lock(route.mutex);
    if (static_cast<int>(level) > route.level) return;
    if (route.fn) {
        std::string text(message);
        try {
            route.fn(static_cast<int>(level), text.c_str(), route.user);
        } catch (...) {
            // A C++ callback must not throw into the library; drop it.
        }
    } else {
        std::string line = fmt::format("[{}] {}\n", log::level_name(level), message);
        std::fwrite(line.data(), 1, line.size(), stderr);
    }
}

// A client's configuration sets the process-wide level (log-level); an explicit
// anytls_set_log level takes precedence.
void reapply_user_log_level() {
    int level = log_route().user_level.load();
    if (level >= 0) log::set_level(static_cast<log::Level>(level));
}

// ---- helpers -------------------------------------------------------------------------------

bool known_proxy(const ClientCore& core, std::string_view proxy) {
    for (const auto& name : core.proxy_names)
        if (name == proxy) return true;
    return false;
}

int unknown_proxy(const ClientCore& core, std::string_view proxy) {
    std::string names;
    for (const auto& name : core.proxy_names)
        names += (names.empty() ? "\"" : ", \"") + name + "\"";
    return fail(ANYTLS_E_UNKNOWN_PROXY,
                "unknown proxy \"" + std::string(proxy) +
                    "\" (configured: " + (names.empty() ? std::string("none") : names) + ")");
}

// The checks every per-proxy call begins with; 0 when the call may proceed.
int check_client_proxy(anytls_client* client, const char* proxy, const char* what) {
    if (!client || !client->core) return invalid(std::string(what) + ": the client is NULL");
    if (!proxy) return invalid(std::string(what) + ": the proxy name is NULL");
    return 0;
}

int open_client(Result<std::unique_ptr<client::Client>> made, anytls_client** out) {
    reapply_user_log_level();
    if (!made) return fail(made.error());
    auto core = std::make_shared<ClientCore>();
    core->client = std::move(made).value();
    core->proxy_names = core->client->proxy_names();
    auto* handle = new anytls_client{std::move(core)};
    *out = handle;
    return ANYTLS_OK;
}

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

// Struct versioning: a field is read or written only when it lies inside the caller's size.
#define ANYTLS_FIELD_FITS(ptr, field)                                          \
    (offsetof(std::remove_cv_t<std::remove_pointer_t<decltype(ptr)>>, field) + \
         sizeof((ptr)->field) <=                                               \
     (ptr)->size)

constexpr std::int64_t kMaxMilliseconds = std::numeric_limits<std::int64_t>::max() / 1'000'000;

std::int64_t to_ms(config::Duration d) {
    const auto ns = d.count();
    if (ns <= 0) return ns / 1'000'000;
    return ns / 1'000'000 + (ns % 1'000'000 != 0 ? 1 : 0);  // rounded up: non-zero stays non-zero
}

// What every per-proxy pool call does first: the handle and proxy name checked, the client kept
// alive for the call (`life` held shared), the proxy known. `body` runs under that lock with the
// Client.
template <class Body>
int with_pool(anytls_client* client, const char* proxy, const char* function, Body body) {
    if (int rc = check_client_proxy(client, proxy, function)) return rc;
    ClientCore& core = *client->core;
    std::shared_lock life(core.life);
    if (core.closed) return fail(ANYTLS_E_CLOSED, "the client is closed");
    if (!known_proxy(core, proxy)) return unknown_proxy(core, proxy);
    return body(*core.client);
}

// A size-prefixed struct argument: not NULL, and its `size` covers at least its first field.
int check_sized(const char* function, const char* name, const char* type, const void* ptr,
                std::size_t size, std::size_t first_field_end) {
    if (!ptr) return invalid(std::string(function) + ": " + name + " is NULL");
    if (size < first_field_end) {
        return invalid(std::string(function) + ": " + name + "->size (" + std::to_string(size) +
                       ") holds no field; set it to sizeof(" + type + ")");
    }
    return ANYTLS_OK;
}

}  // namespace

// ---- exported functions --------------------------------------------------------------------

extern "C" {

ANYTLS_API const char* anytls_version(void) noexcept { return ANYTLS_VERSION_STRING; }

ANYTLS_API int anytls_abi_version(void) noexcept { return ANYTLS_ABI_VERSION; }

ANYTLS_API unsigned anytls_version_number(void) noexcept { return ANYTLS_VERSION_NUMBER; }

ANYTLS_API const char* anytls_strerror(int code) noexcept {
    switch (code) {
        case ANYTLS_OK:
            return "success";
        case ANYTLS_E_INVALID_ARGUMENT:
            return "invalid argument";
        case ANYTLS_E_CONFIG:
            return "invalid configuration";
        case ANYTLS_E_UNKNOWN_PROXY:
            return "unknown proxy";
        case ANYTLS_E_CLOSED:
            return "closed";
        case ANYTLS_E_TIMEOUT:
            return "timed out";
        case ANYTLS_E_CONNECT:
            return "cannot connect to the proxy server";
        case ANYTLS_E_TLS:
            return "TLS error";
        case ANYTLS_E_TLS_VERIFY:
            return "TLS certificate verification failed";
        case ANYTLS_E_AUTH:
            return "authentication failed";
        case ANYTLS_E_TARGET_REFUSED:
            return "target refused by the server";
        case ANYTLS_E_PROTOCOL:
            return "AnyTLS protocol error";
        case ANYTLS_E_IO:
            return "I/O error";
        case ANYTLS_E_NO_MEMORY:
            return "out of memory";
        case ANYTLS_E_INTERNAL:
            return "internal error";
        case ANYTLS_E_IN_PROGRESS:
            return "in progress";
        case ANYTLS_E_CANCELLED:
            return "cancelled";
        default:
            return "unknown error code";
    }
}

ANYTLS_API const char* anytls_last_error(void) noexcept { return t_last_error.c_str(); }

ANYTLS_API int anytls_set_log(anytls_log_fn fn, void* user, int level) noexcept {
    return guarded([&]() -> int {
        if (level < ANYTLS_LOG_ERROR || level > ANYTLS_LOG_TRACE) {
            return invalid(
                "anytls_set_log: level must be ANYTLS_LOG_ERROR (0) .. ANYTLS_LOG_TRACE (4), got " +
                std::to_string(level));
        }
        LogRoute& route = log_route();
        {
            // Waits for a callback in progress: once we return, the old (fn, user) is unused.
            std::lock_guard lock(route.mutex);
            route.fn = fn;
            route.user = user;
            route.level = level;
            route.user_level.store(level);
            if (!route.installed) {
                log::set_sink(&route_line);
                route.installed = true;
            }
        }
        log::set_level(static_cast<log::Level>(level));
        return ANYTLS_OK;
    });
}

// -- client

ANYTLS_API int anytls_client_open(const char* toml, anytls_client** out) noexcept {
    if (out) *out = nullptr;
    return guarded([&]() -> int {
        if (!out) return invalid("anytls_client_open: out is NULL");
        if (!toml) return invalid("anytls_client_open: the TOML text is NULL");
        return open_client(client::Client::from_toml(toml), out);
    });
}

ANYTLS_API int anytls_client_open_file(const char* path, anytls_client** out) noexcept {
    if (out) *out = nullptr;
    return guarded([&]() -> int {
        if (!out) return invalid("anytls_client_open_file: out is NULL");
        if (!path || !*path) return invalid("anytls_client_open_file: the path is NULL or empty");
        return open_client(client::Client::from_file(path), out);
    });
}

ANYTLS_API int anytls_client_close(anytls_client* client) noexcept {
    if (!client) return ANYTLS_OK;
    std::unique_ptr<anytls_client> handle(client);
    return guarded([&]() -> int {
        std::shared_ptr<ClientCore> core = std::move(handle->core);
        if (!core) return ANYTLS_OK;
        // 1. Wake calls blocked on streams in other threads: they return ANYTLS_E_CLOSED and
        //    release `life`.
        core->client->close_streams();
        // 2. Wait for every call in progress, close the streams opened meanwhile, then destroy
        //    the Client (its sessions, then its reactor thread).
        std::unique_lock life(core->life);
        core->client->close_streams();
        core->closed = true;
        core->client.reset();
        return ANYTLS_OK;
    });
}

// -- pool

ANYTLS_API int anytls_pool_config_get(anytls_client* client, const char* proxy,
                                      anytls_pool_config* cfg) noexcept {
    return guarded([&]() -> int {
        if (int rc = check_sized("anytls_pool_config_get", "cfg", "anytls_pool_config", cfg,
                                 cfg ? cfg->size : 0,
                                 offsetof(anytls_pool_config, ensure_idle_session) +
                                     sizeof(cfg->ensure_idle_session)))
            return rc;
        return with_pool(client, proxy, "anytls_pool_config_get", [&](client::Client& c) -> int {
            auto got = c.pool_settings(proxy);
            if (!got) return fail(got.error());
            const config::PoolSettings& s = got.value();
            if (ANYTLS_FIELD_FITS(cfg, ensure_idle_session))
                cfg->ensure_idle_session = s.ensure_idle_session;
            if (ANYTLS_FIELD_FITS(cfg, ensure_idle_session_create_rate))
                cfg->ensure_idle_session_create_rate = s.ensure_idle_session_create_rate;
            if (ANYTLS_FIELD_FITS(cfg, min_idle_session))
                cfg->min_idle_session = s.min_idle_session;
            if (ANYTLS_FIELD_FITS(cfg, min_idle_session_for_age))
                cfg->min_idle_session_for_age = s.min_idle_session_for_age;
            if (ANYTLS_FIELD_FITS(cfg, max_connection_lifetime_ms))
                cfg->max_connection_lifetime_ms = to_ms(s.max_connection_lifetime);
            if (ANYTLS_FIELD_FITS(cfg, connection_lifetime_jitter_ms))
                cfg->connection_lifetime_jitter_ms = to_ms(s.connection_lifetime_jitter);
            if (ANYTLS_FIELD_FITS(cfg, idle_session_timeout_ms))
                cfg->idle_session_timeout_ms = to_ms(s.idle_session_timeout);
            if (ANYTLS_FIELD_FITS(cfg, idle_session_check_interval_ms))
                cfg->idle_session_check_interval_ms = to_ms(s.idle_session_check_interval);
            if (ANYTLS_FIELD_FITS(cfg, heartbeat_interval_ms))
                cfg->heartbeat_interval_ms = to_ms(s.heartbeat_interval);
            if (ANYTLS_FIELD_FITS(cfg, heartbeat_timeout_ms))
                cfg->heartbeat_timeout_ms = to_ms(s.heartbeat_timeout);
            if (ANYTLS_FIELD_FITS(cfg, tcp_keepalive_ms))
                cfg->tcp_keepalive_ms = to_ms(s.tcp_keepalive);
            if (ANYTLS_FIELD_FITS(cfg, session_reuse)) cfg->session_reuse = s.session_reuse ? 1 : 0;
            if (ANYTLS_FIELD_FITS(cfg, creation_backoff_max_ms))
                cfg->creation_backoff_max_ms = to_ms(s.creation_backoff_max);
            return ANYTLS_OK;
        });
    });
}

ANYTLS_API int anytls_pool_config_set(anytls_client* client, const char* proxy,
                                      const anytls_pool_config* cfg) noexcept {
    return guarded([&]() -> int {
        if (int rc = check_sized("anytls_pool_config_set", "cfg", "anytls_pool_config", cfg,
                                 cfg ? cfg->size : 0,
                                 offsetof(anytls_pool_config, ensure_idle_session) +
                                     sizeof(cfg->ensure_idle_session)))
            return rc;
        return with_pool(client, proxy, "anytls_pool_config_set", [&](client::Client& c) -> int {
            auto got = c.pool_settings(proxy);
            if (!got) return fail(got.error());
            config::PoolSettings s = got.value();
            const std::string where = "proxy \"" + std::string(proxy) + "\": ";

            // Values that do not even fit the internal types are refused here, naming the key;
            // the rest is validate()'s job (through set_pool_settings).
            auto count = [&](const char* key, std::int64_t value, int* field) -> int {
                if (value < INT_MIN || value > INT_MAX) {
                    return fail(ANYTLS_E_CONFIG, where + key + ": expected a count between 0 and " +
                                                     std::to_string(config::kMaxSessionCount) +
                                                     ", got " + std::to_string(value));
                }
                *field = static_cast<int>(value);
                return 0;
            };
            auto duration = [&](const char* key, std::int64_t ms, config::Duration* field) -> int {
                if (ms > kMaxMilliseconds || ms < -kMaxMilliseconds) {
                    return fail(ANYTLS_E_CONFIG,
                                where + key + ": " + std::to_string(ms) + " ms is out of range");
                }
                *field = std::chrono::milliseconds(ms);
                return 0;
            };
            int rc = 0;
#define ANYTLS_SET_COUNT(field, key) \
    if (rc == 0 && ANYTLS_FIELD_FITS(cfg, field)) rc = count(key, cfg->field, &s.field)
#define ANYTLS_SET_DURATION(field, internal, key) \
    if (rc == 0 && ANYTLS_FIELD_FITS(cfg, field)) rc = duration(key, cfg->field, &s.internal)
            ANYTLS_SET_COUNT(ensure_idle_session, "ensure-idle-session");
            ANYTLS_SET_COUNT(ensure_idle_session_create_rate, "ensure-idle-session-create-rate");
            ANYTLS_SET_COUNT(min_idle_session, "min-idle-session");
            ANYTLS_SET_COUNT(min_idle_session_for_age, "min-idle-session-for-age");
            ANYTLS_SET_DURATION(max_connection_lifetime_ms, max_connection_lifetime,
                                "max-connection-lifetime");
            ANYTLS_SET_DURATION(connection_lifetime_jitter_ms, connection_lifetime_jitter,
                                "connection-lifetime-jitter");
            ANYTLS_SET_DURATION(idle_session_timeout_ms, idle_session_timeout,
                                "idle-session-timeout");
            ANYTLS_SET_DURATION(idle_session_check_interval_ms, idle_session_check_interval,
                                "idle-session-check-interval");
            ANYTLS_SET_DURATION(heartbeat_interval_ms, heartbeat_interval, "heartbeat-interval");
            ANYTLS_SET_DURATION(heartbeat_timeout_ms, heartbeat_timeout, "heartbeat-timeout");
            ANYTLS_SET_DURATION(tcp_keepalive_ms, tcp_keepalive, "tcp-keepalive");
            ANYTLS_SET_DURATION(creation_backoff_max_ms, creation_backoff_max,
                                "creation-backoff-max");
#undef ANYTLS_SET_COUNT
#undef ANYTLS_SET_DURATION
            if (rc != 0) return rc;
            if (ANYTLS_FIELD_FITS(cfg, session_reuse)) {
                if (cfg->session_reuse != 0 && cfg->session_reuse != 1) {
                    return fail(ANYTLS_E_CONFIG, where + "session-reuse: expected 0 or 1, got " +
                                                     std::to_string(cfg->session_reuse));
                }
                s.session_reuse = cfg->session_reuse == 1;
            }
            auto set = c.set_pool_settings(proxy, s);
            if (!set) return fail(set.error());
            return ANYTLS_OK;
        });
    });
}

ANYTLS_API int anytls_pool_get_stats(anytls_client* client, const char* proxy,
                                     anytls_pool_stats* stats) noexcept {
    return guarded([&]() -> int {
        if (int rc = check_sized("anytls_pool_get_stats", "stats", "anytls_pool_stats", stats,
                                 stats ? stats->size : 0,
                                 offsetof(anytls_pool_stats, idle) + sizeof(stats->idle)))
            return rc;
        return with_pool(client, proxy, "anytls_pool_get_stats", [&](client::Client& c) -> int {
            auto got = c.stats(proxy);
            if (!got) return fail(got.error());
            const client::PoolStats& p = got.value();
#define ANYTLS_COPY_STAT(field) \
    if (ANYTLS_FIELD_FITS(stats, field)) stats->field = static_cast<std::uint64_t>(p.field)
            ANYTLS_COPY_STAT(idle);
            ANYTLS_COPY_STAT(busy);
            ANYTLS_COPY_STAT(creating);
            ANYTLS_COPY_STAT(created_total);
            ANYTLS_COPY_STAT(creation_failures);
            ANYTLS_COPY_STAT(closed_idle);
            ANYTLS_COPY_STAT(closed_age);
            ANYTLS_COPY_STAT(closed_heartbeat);
            ANYTLS_COPY_STAT(closed_error);
            ANYTLS_COPY_STAT(closed_reset);
            ANYTLS_COPY_STAT(closed_no_reuse);
            ANYTLS_COPY_STAT(streams_opened);
            ANYTLS_COPY_STAT(warm_opens);
            ANYTLS_COPY_STAT(cold_opens);
            ANYTLS_COPY_STAT(retried_opens);
#undef ANYTLS_COPY_STAT
            return ANYTLS_OK;
        });
    });
}

ANYTLS_API int anytls_pool_reset(anytls_client* client, const char* proxy) noexcept {
    return guarded([&]() -> int {
        return with_pool(client, proxy, "anytls_pool_reset", [&](client::Client& c) -> int {
            auto reset = c.reset(proxy);
            if (!reset) return fail(reset.error());
            return ANYTLS_OK;
        });
    });
}

// -- streams

namespace {

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

ANYTLS_API int anytls_stream_open_ex(anytls_client* client, const char* proxy, const char* host,
                                     uint16_t port, int timeout_ms, unsigned flags,
                                     anytls_stream** out) noexcept {
    if (out) *out = nullptr;
    return guarded([&]() -> int {
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
    return guarded([&]() -> int {
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
    return guarded([&]() -> int {
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
    return guarded([&]() -> int {
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
    return guarded([&]() -> int {
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

// -- server

ANYTLS_API int anytls_server_start(const char* toml, anytls_server** out) noexcept {
    if (out) *out = nullptr;
    return guarded([&]() -> int {
        if (!out) return invalid("anytls_server_start: out is NULL");
        if (!toml) return invalid("anytls_server_start: the TOML text is NULL");
        // The loader of `anytls server` (docs/C-API.md, "Embedded server"); log-level is left to
        // anytls_set_log, which the whole process shares.
        server::ServerConfigOptions options;
        options.default_listen = "127.0.0.1:0";
        auto parsed = server::load_server_config(toml, options);
        if (!parsed) return fail(parsed.error());
        auto handle = std::make_unique<anytls_server>();
        try {
            handle->thread = std::make_unique<io::ReactorThread>();
        } catch (const std::runtime_error& e) {
            return fail(ANYTLS_E_IO, std::string("cannot start the server's reactor: ") + e.what());
        }
        anytls_server* h = handle.get();
        server::ServerConfig config = std::move(parsed->config);
        auto started = h->thread->call([h, &config]() -> Result<void> {
            auto made = server::Server::create(h->thread->reactor(), std::move(config));
            if (!made) return std::move(made).error();
            auto s = std::move(made).value();
            auto listening = s->start();
            if (!listening) return std::move(listening).error();
            h->port = s->local_address().port();
            h->server = std::move(s);
            return {};
        });
        if (!started) return fail(started.error());
        *out = handle.release();
        return ANYTLS_OK;
    });
}

ANYTLS_API int anytls_server_port(anytls_server* server, uint16_t* port) noexcept {
    return guarded([&]() -> int {
        if (!server) return invalid("anytls_server_port: the server is NULL");
        if (!port) return invalid("anytls_server_port: port is NULL");
        *port = server->port;
        return ANYTLS_OK;
    });
}

ANYTLS_API int anytls_server_stop(anytls_server* server) noexcept {
    if (!server) return ANYTLS_OK;
    std::unique_ptr<anytls_server> handle(server);
    return guarded([&]() -> int {
        if (!handle->thread) return ANYTLS_OK;
        io::ReactorThread& thread = *handle->thread;
        anytls_server* h = handle.get();
        // The server's coroutines are cancelled and joined (docs/DESIGN.md, "Shutdown").
        if (h->server) io::run_blocking(thread, h->server->shutdown());
        thread.call([h] { h->server.reset(); });
        handle->thread.reset();
        return ANYTLS_OK;
    });
}

// ---- pending opens ---------------------------------------------------------------------------

ANYTLS_API int anytls_open_start(anytls_client* client, const char* proxy, const char* host,
                                 uint16_t port, int timeout_ms, anytls_open** out) noexcept {
    if (out) *out = nullptr;
    return guarded([&]() -> int {
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
    return guarded([&]() -> int {
        if (!open || !open->pending)
            return invalid("anytls_open_notify_fd: the pending open is NULL");
        return open->pending->notify_fd();
    });
}

ANYTLS_API int anytls_open_result(anytls_open* open, int* fd_out) noexcept {
    if (fd_out) *fd_out = -1;
    return guarded([&]() -> int {
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
    return guarded([&]() -> int {
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

}  // extern "C"
