// The pieces of the Prometheus text exposition format (version 0.0.4) that every /metrics
// text here is made of (metrics_text.hpp for the pools, server_metrics_text.hpp for the
// server). Pure; links nothing but fmt.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace anytls::inbound {

// The content type the text is served with.
inline constexpr std::string_view prometheus_content_type =
    "text/plain; version=0.0.4; charset=utf-8";

// A label value with \, " and newline escaped.
std::string escape_label_value(std::string_view value);
// A number as Prometheus reads it: the shortest form that reads back the same.
std::string prometheus_number(double value);
// "# HELP name help" and "# TYPE name type".
void append_metric_header(std::string& out, std::string_view name, std::string_view type,
                          std::string_view help);
// name{labels} value; labels already escaped ("proxy=\"a\",state=\"idle\""), or empty.
void append_sample(std::string& out, std::string_view name, std::string_view labels,
                   std::uint64_t value);
// The samples of one histogram: name_bucket{labels,le="..."} (cumulative, then +Inf),
// name_sum and name_count. buckets has one more entry than bounds: the count above the last.
void append_histogram(std::string& out, std::string_view name, std::string_view labels,
                      std::span<const double> bounds, std::span<const std::uint64_t> buckets,
                      double sum);

}  // namespace anytls::inbound
