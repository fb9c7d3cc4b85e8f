// ReactorThread: a Reactor with a thread of its own (docs/DESIGN.md, "Threads").
//
// The ring is created on the thread that runs it (SINGLE_ISSUER requires that), so the
// constructor starts the thread and waits until the reactor is up. Other threads talk to it
// only through post() / call(): one queue plus an eventfd.
#pragma once

#include <functional>
#include <future>
#include <memory>
#include <thread>
#include <type_traits>

#include "io/reactor.hpp"

namespace anytls::io {

class ReactorThread {
public:
    // Throws std::runtime_error if the ring cannot be created.
    explicit ReactorThread(Reactor::Options options = {});
    ~ReactorThread();  // stop() + join
    ReactorThread(const ReactorThread&) = delete;
    ReactorThread& operator=(const ReactorThread&) = delete;

    Reactor& reactor() { return *reactor_; }
    std::thread::id thread_id() const { return thread_.get_id(); }

    // Any thread.
    void post(std::function<void()> fn) { reactor_->post(std::move(fn)); }
    // Any thread but the reactor's: runs fn there and waits for its result.
    template <typename F>
    auto call(F&& fn) -> std::invoke_result_t<F> {
        using R = std::invoke_result_t<F>;
        std::packaged_task<R()> task(std::forward<F>(fn));
        auto future = task.get_future();
        reactor_->post([&task] { task(); });
        return future.get();
    }
    // Any thread: ends the loop; idempotent.
    void stop();

private:
    std::unique_ptr<Reactor> reactor_;
    std::thread thread_;
};

}  // namespace anytls::io
