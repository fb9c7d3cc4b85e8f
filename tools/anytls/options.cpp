// Option parsing for the `anytls` subcommands (see options.hpp).
#include "options.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "command.hpp"
#include "config/suggest.hpp"

namespace anytls::cli {

namespace {

constexpr OptionSpec kHelpOption{"help", "", "show this help and exit"};

const OptionSpec* find_spec(std::span<const OptionSpec> specs, std::string_view name) {
    for (const OptionSpec& spec : specs)
        if (spec.name == name) return &spec;
    return nullptr;
}

Error unknown_option(std::string_view name, std::span<const OptionSpec> specs) {
    std::vector<std::string_view> names;
    for (const OptionSpec& spec : specs) names.push_back(spec.name);
    names.push_back(kHelpOption.name);
    if (auto suggestion = config::closest_name(name, names))
        return usage_error(
            fmt::format("unknown option --{}; did you mean --{}?", name, *suggestion));
    return usage_error(fmt::format("unknown option --{}", name));
}

Result<void> check_choice(const OptionSpec& spec, const std::string& value) {
    if (spec.choices.empty()) return {};
    for (std::string_view choice : spec.choices)
        if (choice == value) return {};
    std::string list;
    for (std::size_t i = 0; i < spec.choices.size(); ++i) {
        if (i > 0) list += i + 1 == spec.choices.size() ? " or " : ", ";
        list += fmt::format("\"{}\"", spec.choices[i]);
    }
    return usage_error(fmt::format("--{} expects {}, got \"{}\"", spec.name, list, value));
}

}  // namespace

const std::string* ParsedOptions::value(std::string_view name) const {
    auto it = values_.find(name);
    return it == values_.end() ? nullptr : &it->second;
}

std::vector<std::string> ParsedOptions::values(std::string_view name) const {
    auto it = all_values_.find(name);
    return it == all_values_.end() ? std::vector<std::string>{} : it->second;
}

Result<ParsedOptions> parse_options(std::span<const std::string> args,
                                    std::span<const OptionSpec> specs) {
    ParsedOptions parsed;
    // --help first: `anytls plan --bogus --help` shows the help rather than an error.
    for (const std::string& arg : args) {
        if (arg == "--") break;
        if (arg == "-h" || arg == "--help") {
            parsed.help_ = true;
            return parsed;
        }
    }
    bool options_ended = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (options_ended || arg == "-" || arg.empty() || arg[0] != '-') {
            parsed.positionals_.push_back(arg);
            continue;
        }
        if (arg == "--") {
            options_ended = true;
            continue;
        }
        if (arg.size() < 3 || arg[1] != '-')
            return usage_error(fmt::format("unknown option {} (options are written --name)", arg));
        std::string_view body = std::string_view(arg).substr(2);
        const std::size_t equals = body.find('=');
        const std::string_view name = body.substr(0, equals);
        const OptionSpec* spec = find_spec(specs, name);
        if (spec == nullptr) return unknown_option(name, specs);
        if (spec->value_name.empty()) {
            if (equals != std::string_view::npos)
                return usage_error(fmt::format("--{} takes no value", name));
            parsed.values_[std::string(name)] = "";
            continue;
        }
        std::string value;
        if (equals != std::string_view::npos) {
            value = std::string(body.substr(equals + 1));
        } else if (i + 1 < args.size()) {
            value = args[++i];
        } else {
            return usage_error(fmt::format("--{} needs a value ({})", name, spec->value_name));
        }
        if (auto allowed = check_choice(*spec, value); !allowed) return std::move(allowed).error();
        parsed.all_values_[std::string(name)].push_back(value);
        parsed.values_[std::string(name)] = std::move(value);
    }
    return parsed;
}

Result<std::uint64_t> parse_unsigned_option(std::string_view option, const std::string& text) {
    std::uint64_t value = 0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc{} || ptr != end)
        return usage_error(
            fmt::format("--{} expects a whole number >= 0, got \"{}\"", option, text));
    return value;
}

Result<double> parse_positive_number_option(std::string_view option, const std::string& text) {
    double value = 0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc{} || ptr != end || !std::isfinite(value) || value <= 0)
        return usage_error(
            fmt::format("--{} expects a number greater than 0, got \"{}\"", option, text));
    return value;
}

Result<config::Duration> parse_positive_duration_option(std::string_view option,
                                                        const std::string& text) {
    auto duration = config::parse_duration(text);
    if (!duration)
        return usage_error(
            fmt::format("--{} expects a duration such as \"6h\" or \"90m\", got \"{}\" ({})",
                        option, text, duration.error().text()));
    if (duration->count() <= 0)
        return usage_error(fmt::format("--{} must be greater than 0, got \"{}\"", option, text));
    return *duration;
}

std::string options_help(std::span<const OptionSpec> specs) {
    std::vector<std::pair<std::string, std::string_view>> rows;
    for (const OptionSpec& spec : specs) {
        std::string left = fmt::format("--{}", spec.name);
        if (!spec.value_name.empty()) left += fmt::format(" {}", spec.value_name);
        rows.emplace_back(std::move(left), spec.help);
    }
    rows.emplace_back("-h, --help", kHelpOption.help);
    std::size_t width = 0;
    for (const auto& row : rows) width = std::max(width, row.first.size());
    std::string out;
    for (const auto& [left, help] : rows) out += fmt::format("  {:<{}}  {}\n", left, width, help);
    return out;
}

}  // namespace anytls::cli
