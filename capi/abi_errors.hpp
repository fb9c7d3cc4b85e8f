// How the C ABI reports failures (docs/DESIGN.md, "The C ABI" and "Errors are values").
//
// Every exported function is noexcept and runs its body inside guarded(), which turns any
// exception into ANYTLS_E_NO_MEMORY / ANYTLS_E_INTERNAL plus a message: exceptions never cross
// the ABI. Internal error codes (negative errno or errc::*, base/errors.hpp) are mapped to the
// pinned public enum by public_code(), from the one table of base/error_kind.hpp.
//
// The message of every failure goes to the calling thread's last-error string
// (anytls_last_error) and, when the call was made on a handle, to that handle's own record
// (anytls_client_last_error and its siblings), which any thread may read afterwards.
#pragma once

#include <cstddef>
#include <exception>
#include <mutex>
#include <new>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace anytls::capi {

// The last failure of the calls made on one handle. Thread-safe.
class HandleError {
public:
    void record(int code, std::string_view message) noexcept;
    // The code of the last failure (ANYTLS_OK if none); copies its message into buf
    // (truncated, always NUL-terminated when len > 0) and returns the message's full length.
    std::size_t copy(int* code, char* buf, std::size_t len) const noexcept;

private:
    mutable std::mutex mutex_;
    int code_ = 0;
    std::string message_;
};

// The calling thread's last-error string (anytls_last_error).
const std::string& thread_last_error() noexcept;

// Stores the message as the thread's last error and returns the code; never throws.
int fail(int code, std::string_view message) noexcept;
// The public code of an internal error, with its text as the message.
int fail(const Error& error) noexcept;
int invalid(std::string_view message);
// The public code of an internal one (base/error_kind.hpp). A cancelled wait is CLOSED here:
// blocking calls are cancelled only by a closing client.
int public_code(int internal);

// A failure that an exception turned into a code.
int fail_from_exception(std::exception_ptr error) noexcept;

// Runs body; exceptions become codes. Every exported function goes through here.
template <typename Body>
int guarded(Body&& body) noexcept {
    try {
        return body();
    } catch (...) {
        return fail_from_exception(std::current_exception());
    }
}

// guarded(), and a failure is recorded on the handle too (when it is not NULL).
template <typename Body>
int guarded(HandleError* handle, Body&& body) noexcept {
    const int rc = guarded(std::forward<Body>(body));
    if (rc != 0 && handle) handle->record(rc, thread_last_error());
    return rc;
}

}  // namespace anytls::capi
