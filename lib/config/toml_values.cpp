// Typed reads from toml++ nodes (see toml_values.hpp).
#include "config/toml_values.hpp"

#include <fmt/format.h>

#include "base/errors.hpp"
#include "config/duration.hpp"
#include "config/input_limit.hpp"
#include "config/suggest.hpp"

namespace anytls::config::detail {

Result<toml::table> parse_document(std::string_view toml_text, const std::string& source) {
    if (auto size = check_config_size(toml_text.size(), source); !size)
        return std::move(size).error();
    try {
        return toml::parse(toml_text, source);
    } catch (const toml::parse_error& error) {
        return make_error(
            errc::config,
            fmt::format("{}:{}:{}: TOML syntax error: {}", source, error.source().begin.line,
                        error.source().begin.column, error.description()));
    }
}

std::string_view toml_type_name(const toml::node& node) {
    switch (node.type()) {
        case toml::node_type::table:
            return "a table";
        case toml::node_type::array:
            return "an array";
        case toml::node_type::string:
            return "a string";
        case toml::node_type::integer:
            return "an integer";
        case toml::node_type::floating_point:
            return "a floating-point number";
        case toml::node_type::boolean:
            return "a boolean";
        case toml::node_type::date:
            return "a date";
        case toml::node_type::time:
            return "a time";
        case toml::node_type::date_time:
            return "a date-time";
        case toml::node_type::none:
            break;
    }
    return "nothing";
}

std::uint32_t line_of(const toml::node& node) { return node.source().begin.line; }

std::string line_suffix(const toml::node& node) {
    const auto line = line_of(node);
    return line == 0 ? std::string{} : fmt::format(" (line {})", line);
}

Result<std::vector<const toml::table*>> read_array_of_tables(const KeyPlace& place,
                                                             const toml::node& node) {
    const auto* array = node.as_array();
    if (array == nullptr)
        return key_error(place, node,
                         fmt::format("expected an array of tables ([[{}]]), got {}", place.key,
                                     toml_type_name(node)));
    std::vector<const toml::table*> tables;
    for (std::size_t i = 0; i < array->size(); ++i) {
        const toml::node& element = *array->get(i);
        const auto* table = element.as_table();
        if (table == nullptr)
            return key_error(place, element,
                             fmt::format("expected an array of tables ([[{}]]), element {} is {}",
                                         place.key, i + 1, toml_type_name(element)));
        tables.push_back(table);
    }
    return tables;
}

Result<void> UniqueNames::add(const std::string& name, const toml::table& table) {
    const auto line = line_of(table);
    if (auto [it, inserted] = lines_by_name_.emplace(name, line); !inserted)
        return make_error(
            errc::config,
            fmt::format("{} \"{}\"{}: duplicate name; the {} at line {} has the same name", what_,
                        name, line_suffix(table), what_, it->second));
    return {};
}

Error key_error(const KeyPlace& place, const toml::node& node, std::string_view problem) {
    return make_error(errc::config, fmt::format("{}: key \"{}\"{}: {}", place.context, place.key,
                                                line_suffix(node), problem));
}

Error unknown_key_error(std::string_view context, std::string_view key, const toml::node& node,
                        std::span<const std::string_view> known, std::string_view hint,
                        std::string_view prefix) {
    std::string tail;
    if (!hint.empty()) {
        tail = fmt::format("; {}", hint);
    } else if (auto closest = closest_name(key, known)) {
        tail = fmt::format("; did you mean \"{}\"?", *closest);
    } else {
        tail = fmt::format("; expected one of: {}", fmt::join(known, ", "));
    }
    return make_error(errc::config, fmt::format("{}: unknown key \"{}{}\"{}{}", context, prefix,
                                                key, line_suffix(node), tail));
}

Result<std::string> read_string(const KeyPlace& place, const toml::node& node) {
    if (const auto* value = node.as_string()) return value->get();
    return key_error(place, node, fmt::format("expected a string, got {}", toml_type_name(node)));
}

Result<bool> read_bool(const KeyPlace& place, const toml::node& node) {
    if (const auto* value = node.as_boolean()) return value->get();
    return key_error(place, node,
                     fmt::format("expected true or false, got {}", toml_type_name(node)));
}

Result<std::int64_t> read_integer(const KeyPlace& place, const toml::node& node) {
    if (const auto* value = node.as_integer()) return value->get();
    return key_error(place, node, fmt::format("expected an integer, got {}", toml_type_name(node)));
}

Result<std::uint64_t> read_count(const KeyPlace& place, const toml::node& node, std::uint64_t max) {
    auto value = read_integer(place, node);
    if (!value) return std::move(value).error();
    if (*value < 1 || static_cast<std::uint64_t>(*value) > max)
        return key_error(place, node,
                         fmt::format("expected an integer from 1 to {}, got {}", max, *value));
    return static_cast<std::uint64_t>(*value);
}

Result<std::vector<std::string>> read_string_array(const KeyPlace& place, const toml::node& node) {
    const auto* array = node.as_array();
    if (array == nullptr)
        return key_error(place, node,
                         fmt::format("expected an array of strings, got {}", toml_type_name(node)));
    std::vector<std::string> out;
    for (std::size_t i = 0; i < array->size(); ++i) {
        const toml::node& element = *array->get(i);
        const auto* text = element.as_string();
        if (text == nullptr)
            return key_error(place, node,
                             fmt::format("expected an array of strings, element {} is {}", i + 1,
                                         toml_type_name(element)));
        out.push_back(text->get());
    }
    return out;
}

Result<PoolValue> read_pool_value(const KeyPlace& place, const toml::node& node, PoolKeyId id) {
    const PoolKey& key = pool_key(id);
    PoolValue value;
    switch (key.kind) {
        case ValueKind::count: {
            const auto* integer = node.as_integer();
            if (integer == nullptr)
                return key_error(place, node,
                                 fmt::format("expected a count (an integer >= 0), got {}",
                                             toml_type_name(node)));
            value = integer->get();
            break;
        }
        case ValueKind::duration: {
            // docs/DESIGN.md, "Configuration": a duration string, or an integer number of seconds
            // (mihomo's legacy per-proxy keys were plain seconds).
            if (const auto* integer = node.as_integer()) {
                auto duration = duration_from_seconds(integer->get());
                if (!duration) return key_error(place, node, duration.error().message);
                value = *duration;
            } else if (const auto* text = node.as_string()) {
                auto duration = parse_duration(text->get());
                if (!duration) return key_error(place, node, duration.error().message);
                value = *duration;
            } else {
                return key_error(
                    place, node,
                    fmt::format("expected a duration string like \"30s\" or an integer number of "
                                "seconds, got {}",
                                toml_type_name(node)));
            }
            break;
        }
        case ValueKind::boolean: {
            auto flag = read_bool(place, node);
            if (!flag) return std::move(flag).error();
            value = *flag;
            break;
        }
        case ValueKind::text: {
            auto text = read_string(place, node);
            if (!text) return std::move(text).error();
            value = std::move(*text);
            break;
        }
    }
    if (auto checked = check_pool_value(id, value); !checked)
        return key_error(place, node, checked.error().message);
    return value;
}

}  // namespace anytls::config::detail
