// ReactorThread (see reactor_thread.hpp).
#include "io/reactor_thread.hpp"

#include <stdexcept>

namespace anytls::io {

namespace {
constexpr auto kDrainLimit = std::chrono::seconds(2);
}  // namespace

ReactorThread::ReactorThread(Reactor::Options options) {
    std::promise<Reactor*> ready;
    auto started = ready.get_future();
    thread_ = std::thread([this, options, &ready] {
        std::unique_ptr<Reactor> reactor;
        try {
            reactor = std::make_unique<Reactor>(options);
        } catch (...) {
            ready.set_exception(std::current_exception());
            return;
        }
        Reactor* raw = reactor.get();
        reactor_ = std::move(reactor);
        ready.set_value(raw);
        raw->run();
        // The owners joined their task scopes before stopping the reactor; what is left are
        // self-owned tasks (a session's read loop seeing its socket shut down) whose last
        // completions are on their way. The bound only guards against a task that nothing will
        // wake, which would otherwise hold the thread's exit.
        raw->drain(kDrainLimit);
    });
    try {
        started.get();
    } catch (...) {
        thread_.join();
        throw;
    }
}

ReactorThread::~ReactorThread() {
    stop();
    if (thread_.joinable()) thread_.join();
    reactor_.reset();
}

void ReactorThread::stop() {
    if (reactor_) reactor_->stop();
}

}  // namespace anytls::io
