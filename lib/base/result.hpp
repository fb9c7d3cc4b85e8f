// Result<T>: the value-or-error type used on every I/O and parsing path (docs/DESIGN.md, "Errors
// are values").
//
// g++ 12's library has no std::expected, so this is a small one. An Error carries a code —
// a negative errno (-ECONNRESET, -ETIMEDOUT, ...) or one of the anytls codes in errors.hpp —
// and an optional human-readable message that says what happened ("hostname mismatch: ...").
// Errors are values; exceptions never carry them.
#pragma once

#include <cassert>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace anytls {

struct Error {
    int code = 0;         // < 0
    std::string message;  // may be empty; describe_error(code) is the fallback text

    // The message if there is one, else the standard text for the code.
    std::string text() const;
};

std::string describe_error(int code);

template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : storage_(std::in_place_index<0>, std::move(value)) {}
    Result(Error error) : storage_(std::in_place_index<1>, std::move(error)) {}

    bool ok() const { return storage_.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() & {
        assert(ok());
        return std::get<0>(storage_);
    }
    const T& value() const& {
        assert(ok());
        return std::get<0>(storage_);
    }
    T&& value() && {
        assert(ok());
        return std::get<0>(std::move(storage_));
    }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }

    const Error& error() const& {
        assert(!ok());
        return std::get<1>(storage_);
    }
    Error&& error() && {
        assert(!ok());
        return std::get<1>(std::move(storage_));
    }
    int code() const { return ok() ? 0 : error().code; }

private:
    std::variant<T, Error> storage_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error) : error_(std::move(error)), failed_(true) {}

    bool ok() const { return !failed_; }
    explicit operator bool() const { return ok(); }
    const Error& error() const& {
        assert(failed_);
        return error_;
    }
    Error&& error() && {
        assert(failed_);
        return std::move(error_);
    }
    int code() const { return failed_ ? error_.code : 0; }

private:
    Error error_;
    bool failed_ = false;
};

inline Error make_error(int code, std::string message = {}) {
    return Error{code, std::move(message)};
}

}  // namespace anytls
