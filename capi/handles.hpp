// The C ABI's handles and the checks every call on them begins with (docs/DESIGN.md,
// "The C ABI").
//
// Handle lifetimes. A client handle owns a ClientCore shared with its stream handles, because
// stream handles may outlive the client (anytls_client_close closes them, the caller still
// frees them). ClientCore::life is a shared_mutex: every call that reaches the reactor holds
// it shared; anytls_client_close first closes every open stream of the client (waking readers
// blocked in other threads), then takes it exclusively, closes the streams opened meanwhile,
// and destroys the Client. A stream handle whose client is closed answers ANYTLS_E_CLOSED
// without touching the (gone) reactor.
//
// Each handle keeps the last failure of the calls made on it (HandleError), which any thread
// reads with anytls_<handle>_last_error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "abi_errors.hpp"
#include "anytls/anytls.h"
#include "client/client.hpp"
#include "client/pending_open.hpp"
#include "io/reactor_thread.hpp"
#include "log/log.hpp"
#include "log_route.hpp"
#include "inbound/server_metrics_endpoint.hpp"
#include "server/server_group.hpp"

namespace anytls::capi {

struct ClientCore {
    std::unique_ptr<client::Client> client;
    std::vector<std::string> proxy_names;  // fixed at open: the configuration's [[proxies]]
    std::shared_mutex life;                // shared: a call in progress; exclusive: closing
    bool closed = false;                   // written under `life` held exclusively
    // anytls_client_set_log's callback; shared with the client's logger, which may still
    // write a line while the handle closes.
    std::shared_ptr<CallbackRoute> log_route;
};

bool known_proxy(const ClientCore& core, std::string_view proxy);
int unknown_proxy(const ClientCore& core, std::string_view proxy);

}  // namespace anytls::capi

struct anytls_client {
    std::shared_ptr<anytls::capi::ClientCore> core;
    mutable anytls::capi::HandleError errors;  // recorded by const calls too
};

struct anytls_stream {
    std::unique_ptr<anytls::client::Stream> stream;
    std::shared_ptr<anytls::capi::ClientCore> core;
    mutable anytls::capi::HandleError errors;  // recorded by const calls too
};

// A pending open keeps the client's core alive: anytls_client_close ends the open (its pool
// shuts down), and the handle is still freed by anytls_open_free.
struct anytls_open {
    std::unique_ptr<anytls::client::PendingOpen> pending;
    std::shared_ptr<anytls::capi::ClientCore> core;
    mutable anytls::capi::HandleError errors;  // recorded by const calls too
};

struct anytls_server {
    std::unique_ptr<anytls::log::Logger> logger;  // before server: outlives its threads
    std::unique_ptr<anytls::server::ServerGroup> server;
    std::unique_ptr<anytls::inbound::ServerMetricsEndpoint> metrics;  // before server goes
    std::uint16_t port = 0;
    mutable anytls::capi::HandleError errors;  // recorded by const calls too
};

namespace anytls::capi {

// The handle's error record, or nullptr for a NULL handle.
template <class Handle>
HandleError* errors_of(const Handle* handle) {
    return handle ? &handle->errors : nullptr;
}

// anytls_<handle>_last_error: the handle's record, or INVALID_ARGUMENT, "" and 0 for NULL.
template <class Handle>
std::size_t copy_last_error(const Handle* handle, int* code, char* buf, std::size_t len) {
    if (handle) return handle->errors.copy(code, buf, len);
    if (code) *code = ANYTLS_E_INVALID_ARGUMENT;
    if (buf && len > 0) *buf = '\0';
    return 0;
}

// The checks every per-proxy call begins with; 0 when the call may proceed.
int check_client_proxy(const anytls_client* client, const char* proxy, const char* what);

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

}  // namespace anytls::capi
