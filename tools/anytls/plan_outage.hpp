// `anytls plan --outage START+DURATION`: when the simulated server is down.
#pragma once

#include <string>

#include "base/errors.hpp"
#include "pool/simulator.hpp"

namespace anytls::cli {

// "10m+5m": down from 10 minutes into the run for 5 minutes. START may be 0; both use the
// durations the other options take ("90s", "1h30m"). A usage error names the option.
Result<pool::Outage> parse_outage_option(const std::string& text);

}  // namespace anytls::cli
