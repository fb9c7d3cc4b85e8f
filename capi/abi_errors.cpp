// Failure reporting of the C ABI (see abi_errors.hpp).
#include "abi_errors.hpp"

#include <algorithm>
#include <cstring>

#include "anytls/anytls.h"
#include "base/error_kind.hpp"

namespace anytls::capi {

namespace {
thread_local std::string t_last_error;
}  // namespace

void HandleError::record(int code, std::string_view message) noexcept {
    std::lock_guard lock(mutex_);
    code_ = code;
    try {
        message_.assign(message.data(), message.size());
    } catch (...) {
        message_.clear();
    }
}

std::size_t HandleError::copy(int* code, char* buf, std::size_t len) const noexcept {
    std::lock_guard lock(mutex_);
    if (code) *code = code_;
    if (buf && len > 0) {
        const std::size_t n = std::min(len - 1, message_.size());
        std::memcpy(buf, message_.data(), n);
        buf[n] = '\0';
    }
    return message_.size();
}

const std::string& thread_last_error() noexcept { return t_last_error; }

// A message that cannot be stored is dropped (the code's own text, anytls_strerror, remains).
int fail(int code, std::string_view message) noexcept {
    try {
        t_last_error.assign(message.data(), message.size());
    } catch (...) {
        t_last_error.clear();
    }
    return code;
}

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

int invalid(std::string_view message) { return fail(ANYTLS_E_INVALID_ARGUMENT, message); }

int fail_from_exception(std::exception_ptr error) noexcept {
    try {
        std::rethrow_exception(error);
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

}  // namespace anytls::capi
