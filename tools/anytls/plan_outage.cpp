// Parsing --outage (see plan_outage.hpp).
#include "plan_outage.hpp"

#include <fmt/format.h>

#include "command.hpp"
#include "config/duration.hpp"

namespace anytls::cli {

Result<pool::Outage> parse_outage_option(const std::string& text) {
    const auto usage = [&](std::string_view why) {
        return usage_error(fmt::format(
            "--outage expects START+DURATION such as \"10m+5m\" (down from 10m for 5m), "
            "got \"{}\": {}",
            text, why));
    };
    const std::size_t plus = text.find('+');
    if (plus == std::string::npos) return usage("no '+' between the start and the duration");
    auto start = config::parse_duration(text.substr(0, plus));
    if (!start || start->count() < 0) return usage("the start is not a duration >= 0");
    auto length = config::parse_duration(text.substr(plus + 1));
    if (!length || length->count() <= 0) return usage("the duration is not a duration > 0");
    return pool::Outage{*start, *length};
}

}  // namespace anytls::cli
