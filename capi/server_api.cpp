// The C ABI's embedded server (anytls.h, "Embedded server"; docs/C-API.md).
//
// Every exported function is noexcept and runs inside guarded() (abi_errors.hpp).
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
#include "log_route.hpp"
#include "server/load_server_config.hpp"
#include "server/server_group.hpp"

using namespace anytls;
using namespace anytls::capi;

extern "C" {

// -- server

ANYTLS_API int anytls_server_start(const char* toml, anytls_server** out) noexcept {
    if (out) *out = nullptr;
    return guarded([&]() -> int {
        if (!out) return invalid("anytls_server_start: out is NULL");
        if (!toml) return invalid("anytls_server_start: the TOML text is NULL");
        // The loader of `anytls server` (docs/C-API.md, "Embedded server"). The server logs at
        // its log-level, on a logger of its own, unless anytls_set_log chose a level.
        server::ServerConfigOptions options;
        options.default_listen = "127.0.0.1:0";
        auto parsed = server::load_server_config(toml, options);
        if (!parsed) return fail(parsed.error());
        auto handle = std::make_unique<anytls_server>();
        handle->logger = std::make_unique<log::Logger>(config::to_log_threshold(parsed->log_level));
        server::ServerGroupOptions group_options;
        group_options.logger = handle->logger.get();
        auto started = server::ServerGroup::start(std::move(parsed->config), group_options);
        if (!started) return fail(started.error());
        handle->server = std::move(started).value();
        handle->port = handle->server->local_address().port();
        if (!handle->server->metrics_address().empty()) {
            auto served = inbound::ServerMetricsEndpoint::start(
                *handle->server, handle->server->metrics_address(), handle->logger.get());
            if (!served) return fail(served.error());
            handle->metrics = std::move(served).value();
        }
        *out = handle.release();
        return ANYTLS_OK;
    });
}

ANYTLS_API int anytls_server_port(anytls_server* server, uint16_t* port) noexcept {
    return guarded(errors_of(server), [&]() -> int {
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
        // Every thread's coroutines are cancelled and joined (docs/DESIGN.md, "Shutdown"),
        // then the threads end; the logger goes last.
        handle->metrics.reset();
        handle->server.reset();
        return ANYTLS_OK;
    });
}

ANYTLS_API size_t anytls_server_last_error(const anytls_server* server, int* code, char* buf,
                                           size_t len) noexcept {
    return copy_last_error(server, code, buf, len);
}

}  // extern "C"
