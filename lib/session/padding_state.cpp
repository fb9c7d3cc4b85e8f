#include "session/padding_state.hpp"

#include "log/log.hpp"
#include "proto/digest.hpp"

namespace anytls::session {

PaddingState::PaddingState() : PaddingState(proto::PaddingScheme::default_scheme()) {}

PaddingState::PaddingState(proto::PaddingScheme initial)
    : scheme_(std::make_shared<const proto::PaddingScheme>(std::move(initial))),
      random_(proto::system_random_source()) {}

std::shared_ptr<const proto::PaddingScheme> PaddingState::current() const {
    std::lock_guard lock(mutex_);
    return scheme_;
}

bool PaddingState::update(std::string_view raw) {
    auto parsed = proto::PaddingScheme::parse(raw);
    if (!parsed) {
        auto md5 = proto::md5(raw);
        log::warn("[AnyTLS] Update padding failed: invalid scheme from server (md5 {})",
                  md5 ? proto::to_hex(md5.value()) : std::string("?"));
        return false;
    }
    if (parsed->largest_padded_write() > max_pushed_padded_write) {
        log::warn(
            "[AnyTLS] Update padding failed: the scheme from server asks for writes of up to {} "
            "bytes "
            "(limit {})",
            parsed->largest_padded_write(), max_pushed_padded_write);
        return false;
    }
    auto scheme = std::make_shared<const proto::PaddingScheme>(std::move(parsed).value());
    log::debug("[AnyTLS] Update padding succeeded: {}", scheme->md5_hex());
    std::lock_guard lock(mutex_);
    scheme_ = std::move(scheme);
    ++updates_;
    return true;
}

std::size_t PaddingState::updates() const {
    std::lock_guard lock(mutex_);
    return updates_;
}

}  // namespace anytls::session
