// The size limit of configuration input and the configuration file reader (see input_limit.hpp).
#include "config/input_limit.hpp"

#include <fmt/format.h>

#include "base/errors.hpp"
#include "base/read_file.hpp"

namespace anytls::config {

Result<void> check_config_size(std::size_t size, std::string_view source) {
    if (size <= kMaxConfigBytes) return {};
    return make_error(errc::config,
                      fmt::format("{}: larger than {} MiB ({} bytes), the limit of a configuration",
                                  source, kMaxConfigBytes / (1024 * 1024), kMaxConfigBytes));
}

Result<std::string> read_config_file(const std::string& path) {
    auto text = read_file(path, kMaxConfigBytes + 1);
    if (!text) {
        const int code = text.code();
        return make_error(code, fmt::format("cannot read configuration file \"{}\": {}", path,
                                            describe_error(code)));
    }
    return text;
}

}  // namespace anytls::config
