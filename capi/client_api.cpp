// The C ABI's client and pool functions (anytls.h, "Client" and "Pool"; docs/C-API.md).
//
// Every exported function is noexcept and runs inside guarded() (abi_errors.hpp); a failure of
// a call on a client handle is recorded on the handle too.
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
#include "client/client.hpp"
#include "config/pool_settings.hpp"
#include "log_route.hpp"

using namespace anytls;
using namespace anytls::capi;

namespace {

int open_client(Result<std::unique_ptr<client::Client>> made, anytls_client** out) {
    if (!made) return fail(made.error());
    auto core = std::make_shared<ClientCore>();
    core->client = std::move(made).value();
    core->proxy_names = core->client->proxy_names();
    auto* handle = new anytls_client{std::move(core), {}};
    *out = handle;
    return ANYTLS_OK;
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

extern "C" {

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

ANYTLS_API int anytls_client_set_log(anytls_client* client, anytls_log_fn fn, void* user,
                                     int level) noexcept {
    return guarded(errors_of(client), [&]() -> int {
        if (!client || !client->core) return invalid("anytls_client_set_log: the client is NULL");
        if (int rc = check_log_level("anytls_client_set_log", level)) return rc;
        ClientCore& core = *client->core;
        std::unique_lock life(core.life);  // one set_log at a time, and not during a close
        if (core.closed) return fail(ANYTLS_E_CLOSED, "the client is closed");
        set_logger_log(core.client->logger(), core.log_route, fn, user, level);
        return ANYTLS_OK;
    });
}

ANYTLS_API size_t anytls_client_last_error(const anytls_client* client, int* code, char* buf,
                                           size_t len) noexcept {
    return copy_last_error(client, code, buf, len);
}

// -- pool

ANYTLS_API int anytls_pool_config_get(anytls_client* client, const char* proxy,
                                      anytls_pool_config* cfg) noexcept {
    return guarded(errors_of(client), [&]() -> int {
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
    return guarded(errors_of(client), [&]() -> int {
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
    return guarded(errors_of(client), [&]() -> int {
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
    return guarded(errors_of(client), [&]() -> int {
        return with_pool(client, proxy, "anytls_pool_reset", [&](client::Client& c) -> int {
            auto reset = c.reset(proxy);
            if (!reset) return fail(reset.error());
            return ANYTLS_OK;
        });
    });
}

}  // extern "C"
