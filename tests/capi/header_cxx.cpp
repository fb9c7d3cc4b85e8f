// anytls.h compiles as C++ too, and C++ callers see every function as noexcept.
#include <anytls/anytls.h>

#include <cstdio>
#include <cstring>

static_assert(noexcept(anytls_version()), "the C ABI never throws");
static_assert(noexcept(anytls_stream_close(nullptr)), "the C ABI never throws");
static_assert(ANYTLS_ABI_VERSION == 1, "ABI generation 1");

int main() {
    if (std::strcmp(anytls_version(), ANYTLS_VERSION_STRING) != 0) return 1;
    anytls_pool_config cfg{};
    cfg.size = sizeof cfg;
    if (anytls_pool_config_get(nullptr, "x", &cfg) != ANYTLS_E_INVALID_ARGUMENT) return 1;
    if (anytls_client_close(nullptr) != ANYTLS_OK) return 1;
    std::printf("anytls %s from C++: ok\n", anytls_version());
    return 0;
}
