// sync_wait and the detached-task driver: how a plain function (a test, main) runs a Task.
#pragma once

#include <exception>
#include <optional>
#include <utility>

#include "io/reactor.hpp"

namespace anytls::io {
namespace detail {

// A coroutine that starts when scheduled and frees itself when it finishes.
struct DetachedTask {
    struct promise_type {
        DetachedTask get_return_object() noexcept {
            return DetachedTask{std::coroutine_handle<promise_type>::from_promise(*this)};
        }
        std::suspend_always initial_suspend() noexcept { return {}; }
        std::suspend_never final_suspend() noexcept { return {}; }
        void return_void() noexcept {}
        void unhandled_exception() noexcept { std::terminate(); }  // drivers catch everything
    };
    std::coroutine_handle<promise_type> handle;
};

template <typename T>
struct SyncState {
    std::optional<T> value;
    std::exception_ptr exception;
    bool done = false;
};
template <>
struct SyncState<void> {
    std::exception_ptr exception;
    bool done = false;
};

template <typename T>
DetachedTask sync_driver(Task<T> task, SyncState<T>* state) {
    try {
        if constexpr (std::is_void_v<T>) {
            co_await std::move(task);
        } else {
            state->value.emplace(co_await std::move(task));
        }
    } catch (...) {
        state->exception = std::current_exception();
    }
    state->done = true;
}

}  // namespace detail

template <typename T>
T sync_wait(Reactor& reactor, Task<T> task) {
    detail::SyncState<T> state;
    auto driver = detail::sync_driver(std::move(task), &state);
    reactor.schedule(driver.handle);
    while (!state.done) reactor.run_once(true);
    if (state.exception) std::rethrow_exception(state.exception);
    if constexpr (!std::is_void_v<T>) return std::move(*state.value);
}

}  // namespace anytls::io
