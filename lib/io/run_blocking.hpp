// run_blocking: runs a coroutine on a ReactorThread and blocks the calling thread (never the
// reactor's) until it has finished, returning its result or rethrowing its exception.
#pragma once

#include <exception>
#include <future>
#include <type_traits>

#include "io/reactor_thread.hpp"
#include "io/task.hpp"

namespace anytls::io {

namespace detail {

template <typename T>
Task<void> deliver(Task<T> task, std::promise<T>* promise) {
    try {
        if constexpr (std::is_void_v<T>) {
            co_await std::move(task);
            promise->set_value();
        } else {
            promise->set_value(co_await std::move(task));
        }
    } catch (...) {
        promise->set_exception(std::current_exception());
    }
}

}  // namespace detail

// Any thread but the reactor's.
template <typename T>
T run_blocking(ReactorThread& thread, Task<T> task) {
    std::promise<T> promise;
    auto future = promise.get_future();
    thread.post([&] { thread.reactor().spawn(detail::deliver(std::move(task), &promise)); });
    return future.get();
}

}  // namespace anytls::io
