// capi.cpp: the library-wide functions of the stable C ABI (anytls.h): versions, error texts,
// the thread's last error and the process log (docs/DESIGN.md, "The C ABI" and "Errors are
// values"). The handles' functions live in client_api.cpp, stream_api.cpp and server_api.cpp;
// the error map in abi_errors.*, log routing in log_route.*, the handles in handles.*. These
// are the only files with extern "C" definitions.

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

#include <string_view>

#include "abi_errors.hpp"
#include "anytls_build_config.h"
#include "log_route.hpp"

static_assert(kHeaderMajor == ANYTLS_VERSION_MAJOR && kHeaderMinor == ANYTLS_VERSION_MINOR &&
                  kHeaderPatch == ANYTLS_VERSION_PATCH,
              "capi/include/anytls/anytls.h: ANYTLS_VERSION_* differ from the project version in "
              "meson.build");
static_assert(
    std::string_view(kHeaderVersion) == std::string_view(ANYTLS_VERSION_STRING),
    "capi/include/anytls/anytls.h: ANYTLS_VERSION_STRING differs from the project version");

using namespace anytls;
using namespace anytls::capi;

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

ANYTLS_API const char* anytls_last_error(void) noexcept { return thread_last_error().c_str(); }

ANYTLS_API int anytls_set_log(anytls_log_fn fn, void* user, int level) noexcept {
    return guarded([&]() -> int {
        if (int rc = check_log_level("anytls_set_log", level)) return rc;
        set_process_log(fn, user, level);
        return ANYTLS_OK;
    });
}

}  // extern "C"
