// The SVG plot of `anytls plan --svg` (see plan_report.hpp): hand-written SVG 1.1 text, no
// library. Idle, busy and creating sessions over time are polylines; closures are markers in
// a band under the time axis (circles: idle cleanup, triangles: age), each with a <title>
// tooltip giving the count and time.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "plan_report.hpp"

namespace anytls::cli {

namespace {

constexpr double kWidth = 960, kHeight = 460;
constexpr double kLeft = 60, kRight = 800, kTop = 50, kBottom = 360;  // the plot area
constexpr double kMarkerRow = 410;

std::string xml_escape(std::string_view text) {
    std::string out;
    for (char c : text) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&apos;"; break;
            default:
                // Control characters other than tab and newline are not allowed in XML 1.0.
                if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') out += '?';
                else out += c;
        }
    }
    return out;
}

// Virtual times are whole milliseconds or coarser; rounding hides double noise in labels.
config::Duration seconds(double s) {
    return std::chrono::round<std::chrono::milliseconds>(std::chrono::duration<double>(s));
}

// A tick step of 1, 2 or 5 times a power of ten giving about `count` ticks over `span`.
double nice_step(double span, int count) {
    if (span <= 0) return 1;
    const double raw = span / count;
    const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
    for (double factor : {1.0, 2.0, 5.0, 10.0})
        if (raw <= factor * magnitude) return factor * magnitude;
    return 10 * magnitude;
}

// A time-axis step in seconds that reads well as a duration ("30m", "1h"), giving at most
// about `count` ticks over `span` seconds.
double nice_time_step(double span, int count) {
    constexpr double kSteps[] = {1,    2,    5,    10,   15,    30,    60,    120,   300,    600,
                                 900,  1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800};
    for (double step : kSteps)
        if (span / step <= count) return step;
    return nice_step(span, count);
}

template <typename... Args>
void add(std::string& out, fmt::format_string<Args...> format, Args&&... args) {
    fmt::format_to(std::back_inserter(out), format, std::forward<Args>(args)...);
}

}  // namespace

std::string render_plan_svg(const PlanRun& run) {
    const double total_s = std::max(1e-9, std::chrono::duration<double>(run.duration).count());
    int y_max = 1;
    for (const pool::CycleRecord& r : run.records) y_max = std::max({y_max, r.idle, r.busy, r.creating});
    const double y_step = std::max(1.0, nice_step(y_max, 5));
    const double y_top = std::ceil(y_max / y_step) * y_step;
    const auto x = [&](double t) { return kLeft + (kRight - kLeft) * (t / total_s); };
    const auto y = [&](double v) { return kBottom - (kBottom - kTop) * (v / y_top); };

    std::string out;
    add(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    add(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{0}\" height=\"{1}\" "
        "viewBox=\"0 0 {0} {1}\" font-family=\"sans-serif\" font-size=\"12\">\n",
        kWidth, kHeight);
    add(out, "<title>{}</title>\n", xml_escape(fmt::format("anytls plan: proxy \"{}\"", run.proxy_name)));
    add(out, "<rect x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"white\"/>\n", kWidth, kHeight);
    add(out, "<text x=\"{}\" y=\"24\" font-size=\"15\" font-weight=\"bold\">{}</text>\n", kLeft,
        xml_escape(fmt::format("Pool plan for proxy \"{}\" ({})", run.proxy_name, run.config_path)));
    add(out, "<text x=\"{}\" y=\"40\" fill=\"#555\">{}</text>\n", kLeft,
        xml_escape(fmt::format("{} in {} cycles of {}; traffic: {}; seed {}", config::format_duration(run.duration),
                               run.records.size(), config::format_duration(run.settings.idle_session_check_interval),
                               run.traffic, run.seed)));

    // Grid and axes.
    add(out, "<g stroke=\"#ddd\" stroke-width=\"1\">\n");
    for (double v = 0; v <= y_top + 1e-9; v += y_step)
        add(out, "  <line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\"/>\n", kLeft, y(v), kRight, y(v));
    add(out, "</g>\n<g fill=\"#333\" text-anchor=\"end\">\n");
    for (double v = 0; v <= y_top + 1e-9; v += y_step)
        add(out, "  <text x=\"{:.1f}\" y=\"{:.1f}\">{}</text>\n", kLeft - 6, y(v) + 4, v);
    add(out, "</g>\n");
    add(out, "<text x=\"16\" y=\"{:.1f}\" transform=\"rotate(-90 16 {:.1f})\" text-anchor=\"middle\">sessions</text>\n",
        (kTop + kBottom) / 2, (kTop + kBottom) / 2);
    const double t_step = total_s < 1 ? nice_step(total_s, 8) : nice_time_step(total_s, 8);
    add(out, "<g fill=\"#333\" text-anchor=\"middle\">\n");
    for (double t = 0; t <= total_s + 1e-9; t += t_step) {
        add(out, "  <line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" stroke=\"#333\"/>\n", x(t),
            kBottom, kBottom + 4);
        add(out, "  <text x=\"{:.1f}\" y=\"{:.1f}\">{}</text>\n", x(t), kBottom + 17,
            xml_escape(config::format_duration(seconds(t))));
    }
    add(out, "</g>\n");
    add(out, "<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"#333\"/>\n", kLeft, kBottom, kRight);
    add(out, "<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"#333\"/>\n", kLeft, kTop, kBottom);
    add(out, "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">time</text>\n", (kLeft + kRight) / 2,
        kBottom + 32);

    // One line per state; the pool starts empty at t = 0.
    struct Series {
        const char* name;
        const char* colour;
        int pool::CycleRecord::*field;
    };
    const Series series[] = {
        {"idle", "#2a9d3a", &pool::CycleRecord::idle},
        {"busy", "#d08c00", &pool::CycleRecord::busy},
        {"creating", "#1f77b4", &pool::CycleRecord::creating},
    };
    for (const Series& s : series) {
        add(out,
            "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.8\" stroke-linejoin=\"round\" "
            "points=\"{:.1f},{:.1f}",
            s.colour, x(0), y(0));
        for (const pool::CycleRecord& r : run.records) add(out, " {:.1f},{:.1f}", x(r.t_s), y(r.*s.field));
        add(out, "\"><title>{}</title></polyline>\n", s.name);
    }

    // Closures: a band of markers under the axis, sized by count.
    add(out, "<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\" fill=\"#333\">closed</text>\n", kLeft - 6,
        kMarkerRow + 4);
    add(out, "<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"#eee\"/>\n", kLeft, kMarkerRow, kRight);
    for (const pool::CycleRecord& r : run.records) {
        const std::string when = config::format_duration(seconds(r.t_s));
        const int aged = r.closed_age + r.closed_at_stream_end;
        if (r.closed_idle > 0) {
            const double radius = 2.5 + std::min(6.0, std::sqrt(static_cast<double>(r.closed_idle)));
            add(out, "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"{:.1f}\" fill=\"#e07b00\" fill-opacity=\"0.7\">"
                "<title>{} closed as idle at {}</title></circle>\n",
                x(r.t_s), kMarkerRow - 7, radius, r.closed_idle, xml_escape(when));
        }
        if (aged > 0) {
            const double size = 3 + std::min(6.0, std::sqrt(static_cast<double>(aged)));
            const double cx = x(r.t_s), cy = kMarkerRow + 7;
            add(out,
                "<polygon points=\"{:.1f},{:.1f} {:.1f},{:.1f} {:.1f},{:.1f}\" fill=\"#c0392b\" fill-opacity=\"0.7\">"
                "<title>{} closed for age at {}</title></polygon>\n",
                cx, cy - size, cx - size, cy + size, cx + size, cy + size, aged, xml_escape(when));
        }
    }

    // Legend.
    double legend_y = kTop + 10;
    for (const Series& s : series) {
        add(out, "<line x1=\"{0}\" y1=\"{1:.1f}\" x2=\"{2}\" y2=\"{1:.1f}\" stroke=\"{3}\" stroke-width=\"3\"/>"
            "<text x=\"{4}\" y=\"{5:.1f}\">{6}</text>\n",
            kRight + 20, legend_y, kRight + 44, s.colour, kRight + 50, legend_y + 4, s.name);
        legend_y += 20;
    }
    add(out,
        "<circle cx=\"{}\" cy=\"{:.1f}\" r=\"4\" fill=\"#e07b00\"/>"
        "<text x=\"{}\" y=\"{:.1f}\">closed: idle</text>\n",
        kRight + 32, legend_y, kRight + 50, legend_y + 4);
    legend_y += 20;
    add(out, "<polygon points=\"{0},{1:.1f} {2},{3:.1f} {4},{3:.1f}\" fill=\"#c0392b\"/>"
        "<text x=\"{5}\" y=\"{6:.1f}\">closed: age</text>\n",
        kRight + 32, legend_y - 5, kRight + 27, legend_y + 5, kRight + 37, kRight + 50, legend_y + 4);
    add(out, "</svg>\n");
    return out;
}

}  // namespace anytls::cli
