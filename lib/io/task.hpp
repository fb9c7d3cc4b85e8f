// Task<T>: the lazy, move-only coroutine type every asynchronous function returns.
//
// Modelled on cppcoro's task (docs/DESIGN.md, "Coroutines"): a Task does nothing until it is
// awaited; awaiting it starts it, and when it finishes it resumes its awaiter by symmetric
// transfer, so arbitrarily long chains of co_await never grow the stack. The frame is destroyed
// with the Task object. Exceptions thrown inside are captured and rethrown to the awaiter; the I/O
// path itself reports errors as Result values, so this only carries programming errors or
// bad_alloc.
#pragma once

#include <coroutine>
#include <exception>
#include <optional>
#include <stdexcept>
#include <utility>

namespace anytls::io {

template <typename T = void>
class Task;

// What awaiting a Task without a coroutine throws: a default-constructed or moved-from Task, or
// one whose handle was released. It is a programming error, so it travels as an exception like
// any other the Task carries, and reaches the awaiter instead of dereferencing a null handle.
class EmptyTaskError : public std::logic_error {
public:
    EmptyTaskError() : std::logic_error("awaited a Task that holds no coroutine") {}
};

namespace detail {

struct TaskPromiseBase {
    std::coroutine_handle<> continuation = std::noop_coroutine();
    std::exception_ptr exception;

    std::suspend_always initial_suspend() noexcept { return {}; }

    struct FinalAwaiter {
        bool await_ready() noexcept { return false; }
        template <typename Promise>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> self) noexcept {
            return self.promise().continuation;  // symmetric transfer to whoever awaited us
        }
        void await_resume() noexcept {}
    };
    FinalAwaiter final_suspend() noexcept { return {}; }

    void unhandled_exception() noexcept { exception = std::current_exception(); }
    void rethrow_if_failed() {
        if (exception) std::rethrow_exception(exception);
    }
};

template <typename T>
struct TaskPromise : TaskPromiseBase {
    std::optional<T> value;

    Task<T> get_return_object() noexcept;

    template <typename U>
    void return_value(U&& v) {
        value.emplace(std::forward<U>(v));
    }
    T take_result() {
        rethrow_if_failed();
        return std::move(*value);
    }
};

template <>
struct TaskPromise<void> : TaskPromiseBase {
    Task<void> get_return_object() noexcept;
    void return_void() noexcept {}
    void take_result() { rethrow_if_failed(); }
};

}  // namespace detail

template <typename T>
class [[nodiscard]] Task {
public:
    using promise_type = detail::TaskPromise<T>;
    using Handle = std::coroutine_handle<promise_type>;

    Task() noexcept = default;  // holds no coroutine: awaiting it throws EmptyTaskError
    explicit Task(Handle h) noexcept : handle_(h) {}
    Task(Task&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
    Task& operator=(Task&& other) noexcept {
        if (this != &other) {
            if (handle_) handle_.destroy();
            handle_ = std::exchange(other.handle_, {});
        }
        return *this;
    }
    Task(const Task&) = delete;
    Task& operator=(const Task&) = delete;
    ~Task() {
        if (handle_) handle_.destroy();
    }

    bool valid() const noexcept { return static_cast<bool>(handle_); }
    bool done() const noexcept { return !handle_ || handle_.done(); }

    auto operator co_await() && noexcept {
        struct Awaiter {
            Handle handle;
            bool await_ready() noexcept { return !handle || handle.done(); }
            std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) noexcept {
                handle.promise().continuation = awaiting;
                return handle;  // start the task by symmetric transfer
            }
            T await_resume() {
                if (!handle) throw EmptyTaskError{};
                return handle.promise().take_result();
            }
        };
        return Awaiter{handle_};
    }

    // For drivers (spawn, sync_wait): hand over the coroutine handle.
    Handle release() noexcept { return std::exchange(handle_, {}); }

private:
    Handle handle_;
};

namespace detail {
template <typename T>
Task<T> TaskPromise<T>::get_return_object() noexcept {
    return Task<T>{std::coroutine_handle<TaskPromise<T>>::from_promise(*this)};
}
inline Task<void> TaskPromise<void>::get_return_object() noexcept {
    return Task<void>{std::coroutine_handle<TaskPromise<void>>::from_promise(*this)};
}
}  // namespace detail

}  // namespace anytls::io
