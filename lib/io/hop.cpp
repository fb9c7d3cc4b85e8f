// CancellationRelay: a cancellation carried to another reactor (see hop.hpp).
#include "io/hop.hpp"

namespace anytls::io {

CancellationRelay::CancellationRelay(CancellationSource* origin, Reactor& target)
    : origin_(origin), same_reactor_(origin && &origin->reactor() == &target) {
    if (same_reactor_) return;
    // Made here, before the target uses it: a cancel() now needs no post (nothing is
    // attached to the source yet, and the post that hands it over orders the write).
    shared_ = std::make_shared<Shared>(target);
    if (!origin_) return;
    if (origin_->cancelled()) {
        shared_->source.cancel();
        return;
    }
    hook_.fn = &CancellationRelay::forward;
    hook_.context = this;
    origin_->add_hook(hook_);
}

CancellationRelay::~CancellationRelay() {
    if (origin_ && !same_reactor_) origin_->remove_hook(hook_);
}

void CancellationRelay::forward(CancelHook& hook) {
    auto* self = static_cast<CancellationRelay*>(hook.context);
    // The origin's thread: the source is cancelled on its own, and the reference in the post
    // keeps it alive should the relay be gone by the time the post runs.
    self->shared_->reactor->post([shared = self->shared_] { shared->source.cancel(); });
}

}  // namespace anytls::io
