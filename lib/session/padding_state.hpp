// PaddingState: the padding scheme shared by every session of one client / outbound.
//
// A server may push a new scheme (UpdatePaddingScheme); the reference then replaces it for
// the whole client (sing-anytls padding.UpdatePaddingScheme stores into the atomic value all
// of a client's sessions read on every write), so later sessions' Settings carry its md5 and
// the server stops re-sending it. Sessions take a snapshot (shared_ptr) per write. An invalid
// scheme is ignored with a warning, as the reference does ("[Update padding failed]").
// Thread-safe: sessions of one client may live on several reactors.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>

#include "proto/padding_scheme.hpp"
#include "proto/random_source.hpp"

namespace anytls::session {

// The most bytes one padded write may make under a scheme pushed by a server. The default
// scheme's largest write is about 4.5 KB; a hostile 64 KiB scheme could ask for ~350 MB per
// write (thousands of 65535-byte pieces), which the padder would build in memory. A pushed
// scheme above this bound is refused like an invalid one.
inline constexpr std::uint64_t max_pushed_padded_write = 1024 * 1024;

class PaddingState {
public:
    // Starts with the default scheme (padding.go defaultPaddingScheme).
    PaddingState();
    explicit PaddingState(proto::PaddingScheme initial);

    std::shared_ptr<const proto::PaddingScheme> current() const;
    // Adopts `raw` if it parses and its writes stay under max_pushed_padded_write; false (and
    // a log::warn) if not.
    bool update(std::string_view raw);
    const proto::RandomSource& random() const { return random_; }
    // How many schemes were adopted from servers so far (for tests and logs).
    std::size_t updates() const;

private:
    mutable std::mutex mutex_;
    std::shared_ptr<const proto::PaddingScheme> scheme_;
    std::size_t updates_ = 0;
    proto::RandomSource random_;
};

}  // namespace anytls::session
