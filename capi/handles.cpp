// Checks shared by the calls on handles (see handles.hpp).
#include "handles.hpp"

namespace anytls::capi {

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

int check_client_proxy(const anytls_client* client, const char* proxy, const char* what) {
    if (!client || !client->core) return invalid(std::string(what) + ": the client is NULL");
    if (!proxy) return invalid(std::string(what) + ": the proxy name is NULL");
    return 0;
}

}  // namespace anytls::capi
