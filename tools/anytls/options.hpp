// Command-line options of one `anytls` subcommand: declared as a table (OptionSpec), parsed
// into ParsedOptions, and turned into typed values by the helpers below. Every problem is a
// usage error (exit code 2) whose message names the option, e.g.
//   --seed expects a whole number >= 0, got "abc"
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "config/duration.hpp"

namespace anytls::cli {

struct OptionSpec {
    std::string_view name;        // "config" for --config
    std::string_view value_name;  // "FILE"; empty: a flag that takes no value
    std::string_view help;        // one line; "Default: ..." included where there is one
    // The only values the option takes, when they are a fixed set ("idle", "steady", ...):
    // parse_options refuses any other, and the shell completion and the man page list them.
    std::span<const std::string_view> choices = {};
};

class ParsedOptions {
public:
    bool has(std::string_view name) const { return values_.find(name) != values_.end(); }
    // The value given, or nullptr if the option was not given (flags have an empty value).
    const std::string* value(std::string_view name) const;
    // Every value given, in order, for an option that may be repeated (--outage A --outage B).
    std::vector<std::string> values(std::string_view name) const;
    const std::vector<std::string>& positionals() const { return positionals_; }
    bool help_requested() const { return help_; }

private:
    friend Result<ParsedOptions> parse_options(std::span<const std::string>,
                                               std::span<const OptionSpec>);
    std::map<std::string, std::string, std::less<>> values_;  // a repeated option: the last wins
    std::map<std::string, std::vector<std::string>, std::less<>> all_values_;
    std::vector<std::string> positionals_;
    bool help_ = false;
};

// Accepts --name VALUE, --name=VALUE, flags, -h/--help anywhere (which wins over any other
// problem, so `--help` always works), and "--" to end the options. A value outside an
// option's choices is a usage error that lists them.
Result<ParsedOptions> parse_options(std::span<const std::string> args,
                                    std::span<const OptionSpec> specs);

// Typed values of options; `option` is the name without dashes, used in messages.
Result<std::uint64_t> parse_unsigned_option(std::string_view option, const std::string& text);
Result<double> parse_positive_number_option(std::string_view option, const std::string& text);
// A duration as configuration files write it ("6h", "90m", "1h30m"), which must be > 0.
Result<config::Duration> parse_positive_duration_option(std::string_view option,
                                                        const std::string& text);

// The option lines of a help text: "  --config FILE     the configuration file".
std::string options_help(std::span<const OptionSpec> specs);

}  // namespace anytls::cli
