// The Prometheus text's pieces (see prometheus_text.hpp).
#include "inbound/prometheus_text.hpp"

#include <fmt/format.h>

namespace anytls::inbound {

std::string escape_label_value(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        switch (c) {
            case '\\':
                out += "\\\\";
                break;
            case '"':
                out += "\\\"";
                break;
            case '\n':
                out += "\\n";
                break;
            default:
                out += c;
        }
    }
    return out;
}

std::string prometheus_number(double value) { return fmt::format("{}", value); }

void append_metric_header(std::string& out, std::string_view name, std::string_view type,
                          std::string_view help) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void append_sample(std::string& out, std::string_view name, std::string_view labels,
                   std::uint64_t value) {
    if (labels.empty())
        out += fmt::format("{} {}\n", name, value);
    else
        out += fmt::format("{}{{{}}} {}\n", name, labels, value);
}

void append_histogram(std::string& out, std::string_view name, std::string_view labels,
                      std::span<const double> bounds, std::span<const std::uint64_t> buckets,
                      double sum) {
    const std::string prefix = labels.empty() ? std::string() : std::string(labels) + ",";
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < bounds.size(); ++i) {
        cumulative += buckets[i];
        out += fmt::format("{}_bucket{{{}le=\"{}\"}} {}\n", name, prefix,
                           prometheus_number(bounds[i]), cumulative);
    }
    cumulative += buckets[bounds.size()];
    out += fmt::format("{}_bucket{{{}le=\"+Inf\"}} {}\n", name, prefix, cumulative);
    const std::string braces = labels.empty() ? std::string() : fmt::format("{{{}}}", labels);
    out += fmt::format("{}_sum{} {}\n", name, braces, prometheus_number(sum));
    out += fmt::format("{}_count{} {}\n", name, braces, cumulative);
}

}  // namespace anytls::inbound
