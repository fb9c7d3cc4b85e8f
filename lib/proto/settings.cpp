// Settings bodies (see settings.hpp).
#include "proto/settings.hpp"

#include <algorithm>
#include <array>

#include "anytls_build_config.h"
#include "base/errors.hpp"
#include "proto/go_int.hpp"

namespace anytls::proto {

Settings parse_settings(std::string_view text) {
    Settings settings;
    // strings.Split yields one line more than there are separators, so an empty text is one
    // empty line (which has no '=' and is skipped).
    while (true) {
        const std::size_t end = text.find('\n');
        const std::string_view line = text.substr(0, end);
        if (const std::size_t eq = line.find('='); eq != std::string_view::npos) {
            const std::string_view key = line.substr(0, eq);
            const std::string_view value = line.substr(eq + 1);
            // The last value wins. Found by the string_view itself and built in place: no
            // temporary key or value strings (every Settings frame and padding scheme is read
            // here).
            const auto at = settings.lower_bound(key);
            if (at != settings.end() && at->first == key) {
                at->second.assign(value);
            } else {
                settings.emplace_hint(at, key, value);
            }
        }
        if (end == std::string_view::npos) break;
        text.remove_prefix(end + 1);
    }
    return settings;
}

Result<std::string> format_settings(std::span<const SettingsEntry> entries) {
    std::string out;
    // One allocation for the whole body rather than one per doubling of its length.
    std::size_t size = 0;
    for (const auto& [key, value] : entries) size += key.size() + value.size() + 2;
    out.reserve(size);
    for (const auto& [key, value] : entries) {
        if (key.find_first_of("=\n") != std::string_view::npos ||
            value.find('\n') != std::string_view::npos) {
            return make_error(errc::invalid_argument, "settings entry '" + std::string(key) +
                                                          "' contains '=' or a newline");
        }
        if (!out.empty()) out.push_back('\n');
        out.append(key).push_back('=');
        out.append(value);
    }
    return out;
}

unsigned go_map_rotation(std::uint32_t random) {
    const unsigned start = random % 8;
    return start < 3 ? start : 0;
}

Result<std::string> client_settings(std::string_view client_name, std::string_view padding_md5_hex,
                                    unsigned rotation) {
    const std::string version = std::to_string(protocol_version);
    std::array<SettingsEntry, 3> entries{{
        {"v", version},
        {"client", client_name},
        {"padding-md5", padding_md5_hex},
    }};
    std::rotate(entries.begin(), entries.begin() + (rotation % entries.size()), entries.end());
    return format_settings(entries);
}

std::string server_settings() { return "v=" + std::to_string(protocol_version); }

std::optional<std::int64_t> settings_version(const Settings& settings) {
    const auto it = settings.find(std::string_view("v"));
    if (it == settings.end()) return std::nullopt;
    return parse_go_int(it->second);
}

}  // namespace anytls::proto
