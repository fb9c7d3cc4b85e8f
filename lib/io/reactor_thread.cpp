// ReactorThread (see reactor_thread.hpp).
#include "io/reactor_thread.hpp"

#include <stdexcept>

namespace anytls::io {

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
        // Let queued work and just-finished completions settle before the ring goes.
        for (int i = 0; i < 4; ++i) raw->run_once(false);
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
