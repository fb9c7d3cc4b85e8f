// The SVG plot of `anytls plan --svg` (see plan_report.hpp): hand-written SVG 1.1 text, no
// library. The cycles are gathered into columns of whole cycles, at most one per two pixels
// of plot width, so a long run draws no more than the plot can show. Upper panel: per column,
// the mean idle, creating and busy sessions as stacked areas, the peak of all three as a line,
// and the ensure-idle-session target. Lower panel: per column, the sessions closed (idle
// cleanup; age or stream end) as stacked bars on a labelled axis of closures per column.
// Every area and bar has a <title> tooltip with its figures.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "plan_report.hpp"

namespace anytls::cli {

namespace {

constexpr double kWidth = 960, kHeight = 490;
constexpr double kLeft = 60, kRight = 800;               // both panels share the time axis
constexpr double kTop = 64, kBottom = 320;               // the sessions panel
constexpr double kClosedTop = 352, kClosedBottom = 430;  // the closures panel
// A column is at least this many pixels wide, so a 6 h run of 30 s cycles (721) gets columns
// of 2 cycles and a week gets columns of 55: never more columns than the plot has pixels.
constexpr double kMinColumnPixels = 2;

std::string xml_escape(std::string_view text) {
    std::string out;
    for (char c : text) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&apos;";
                break;
            default:
                // Control characters other than tab and newline are not allowed in XML 1.0.
                if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n')
                    out += '?';
                else
                    out += c;
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
    constexpr double kSteps[] = {1,   2,    5,    10,   15,    30,    60,    120,   300,    600,
                                 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800};
    for (double step : kSteps)
        if (span / step <= count) return step;
    return nice_step(span, count);
}

template <typename... Args>
void add(std::string& out, fmt::format_string<Args...> format, Args&&... args) {
    fmt::format_to(std::back_inserter(out), format, std::forward<Args>(args)...);
}

// One column of the plot: the cycles [begin, end) of the run.
struct Column {
    std::size_t begin = 0, end = 0;
    double idle = 0, creating = 0, busy = 0;  // means over the column's cycles
    int peak = 0;                             // max of idle + creating + busy in one cycle
    int closed_idle = 0,
        closed_age = 0;  // sums; age includes closed when a stream ended (aged, no reuse)
};

std::vector<Column> columns_of(const std::vector<pool::CycleRecord>& records,
                               std::size_t per_column) {
    std::vector<Column> columns;
    for (std::size_t begin = 0; begin < records.size(); begin += per_column) {
        Column c;
        c.begin = begin;
        c.end = std::min(records.size(), begin + per_column);
        for (std::size_t i = c.begin; i < c.end; ++i) {
            const pool::CycleRecord& r = records[i];
            c.idle += r.idle;
            c.creating += r.creating;
            c.busy += r.busy;
            c.peak = std::max(c.peak, r.idle + r.creating + r.busy);
            c.closed_idle += r.closed_idle;
            c.closed_age += r.closed_age + r.closed_at_stream_end;
        }
        const double n = static_cast<double>(c.end - c.begin);
        c.idle /= n;
        c.creating /= n;
        c.busy /= n;
        columns.push_back(c);
    }
    return columns;
}

// "M x,y H x V y H x ...": one level per column, from the left edge of the first to the right
// edge of the last; the caller closes or continues the path.
void add_steps(std::string& out, const std::vector<Column>& columns,
               const std::vector<double>& levels, const auto& y, const auto& left,
               const auto& right) {
    for (std::size_t i = 0; i < columns.size(); ++i) {
        if (i == 0)
            add(out, "M{:.1f},{:.1f}", left(columns[i]), y(levels[i]));
        else
            add(out, " V{:.1f}", y(levels[i]));
        add(out, " H{:.1f}", right(columns[i]));
    }
}

// A value with one decimal at most: "3", "2.5".
std::string figure(double v) {
    const double rounded = std::round(v * 10) / 10;
    return rounded == std::floor(rounded) ? fmt::format("{}", static_cast<long long>(rounded))
                                          : fmt::format("{:.1f}", rounded);
}

// An axis label short enough for the margin: "40", "2.5", "150k", "1.2M".
std::string tick_label(double v) {
    if (v >= 1e6) return figure(v / 1e6) + "M";
    if (v >= 1e4) return figure(v / 1e3) + "k";
    return figure(v);
}

// Y-axis gridlines and labels of a panel from 0 to `top` in steps of `step`.
void y_axis(std::string& out, double step, double top, const auto& y) {
    add(out, "<g stroke=\"#ddd\" stroke-width=\"1\">\n");
    for (double v = 0; v <= top + 1e-9; v += step)
        add(out, "  <line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\"/>\n", kLeft, y(v),
            kRight, y(v));
    add(out, "</g>\n<g fill=\"#333\" text-anchor=\"end\">\n");
    for (double v = 0; v <= top + 1e-9; v += step)
        add(out, "  <text x=\"{:.1f}\" y=\"{:.1f}\">{}</text>\n", kLeft - 6, y(v) + 4,
            tick_label(v));
    add(out, "</g>\n");
}

}  // namespace

std::string render_plan_svg(const PlanRun& run) {
    const std::vector<pool::CycleRecord>& records = run.records;
    const std::size_t max_columns = static_cast<std::size_t>((kRight - kLeft) / kMinColumnPixels);
    const std::size_t per_column =
        std::max<std::size_t>(1, (records.size() + max_columns - 1) / max_columns);
    const std::vector<Column> columns = columns_of(records, per_column);
    const double interval_s =
        std::chrono::duration<double>(run.settings.idle_session_check_interval).count();
    const config::Duration column_span =
        run.settings.idle_session_check_interval * static_cast<long>(per_column);

    // The time axis runs from the first cycle to one interval after the last: the state a
    // cycle leaves holds until the next one, so every cycle owns an equal slice of the width.
    const double span_s =
        std::max(1e-9, interval_s * static_cast<double>(std::max<std::size_t>(1, records.size())));
    const double shown_s =
        std::min(span_s, std::max(1e-9, std::chrono::duration<double>(run.duration).count()));
    const auto x = [&](double t) { return kLeft + (kRight - kLeft) * (t / span_s); };
    const auto column_left = [&](const Column& c) {
        return x(interval_s * static_cast<double>(c.begin));
    };
    const auto column_right = [&](const Column& c) {
        return x(interval_s * static_cast<double>(c.end));
    };
    const auto column_when = [&](const Column& c) {
        const std::string from = config::format_duration(seconds(records[c.begin].t_s));
        if (c.end - c.begin == 1) return fmt::format("cycle at {}", from);
        return fmt::format("cycles {} to {}", from,
                           config::format_duration(seconds(records[c.end - 1].t_s)));
    };

    int y_max = std::max(1, run.settings.ensure_idle_session);
    int closed_max = 1;
    for (const Column& c : columns) {
        y_max = std::max(y_max, c.peak);
        closed_max = std::max(closed_max, c.closed_idle + c.closed_age);
    }
    // Headroom above the highest value, so a pool full at its target shows the target line.
    const double y_step = std::max(1.0, nice_step(y_max * 1.1, 5));
    const double y_top = std::ceil(y_max * 1.1 / y_step) * y_step;
    const auto y = [&](double v) { return kBottom - (kBottom - kTop) * (v / y_top); };
    const double c_step = std::max(1.0, nice_step(closed_max, 3));
    const double c_top = std::ceil(closed_max / c_step) * c_step;
    const auto yc = [&](double v) {
        return kClosedBottom - (kClosedBottom - kClosedTop) * (v / c_top);
    };

    std::string out;
    add(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    add(out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{0}\" height=\"{1}\" "
        "viewBox=\"0 0 {0} {1}\" font-family=\"sans-serif\" font-size=\"12\">\n",
        kWidth, kHeight);
    add(out, "<title>{}</title>\n",
        xml_escape(fmt::format("anytls plan: proxy \"{}\"", run.proxy_name)));
    add(out, "<rect x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"white\"/>\n", kWidth,
        kHeight);
    add(out, "<text x=\"{}\" y=\"24\" font-size=\"15\" font-weight=\"bold\">{}</text>\n", kLeft,
        xml_escape(
            fmt::format("Pool plan for proxy \"{}\" ({})", run.proxy_name, run.config_path)));
    add(out, "<text x=\"{}\" y=\"40\" fill=\"#555\">{}</text>\n", kLeft,
        xml_escape(fmt::format("{} in {} cycles of {}; traffic: {}; seed {}",
                               config::format_duration(run.duration), records.size(),
                               config::format_duration(run.settings.idle_session_check_interval),
                               run.traffic, run.seed)));
    add(out, "<text x=\"{}\" y=\"56\" fill=\"#555\">{}</text>\n", kLeft,
        xml_escape(per_column == 1
                       ? std::string("one column per cycle: sessions right after its cleanup")
                       : fmt::format("one column per {} cycles ({}): mean sessions after their "
                                     "cleanups, and the peak",
                                     per_column, config::format_duration(column_span))));

    // --outage: a band over each span the server was down, under everything else.
    for (const pool::Outage& outage : run.outages) {
        const double from = std::min(span_s, std::chrono::duration<double>(outage.start).count());
        const double to =
            std::min(span_s, std::chrono::duration<double>(outage.start + outage.length).count());
        if (to <= from) continue;
        add(out,
            "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" "
            "fill=\"#d62728\" fill-opacity=\"0.12\"><title>{}</title></rect>\n",
            x(from), kTop, x(to) - x(from), kClosedBottom - kTop,
            xml_escape(fmt::format("server down from {} for {}",
                                   config::format_duration(outage.start),
                                   config::format_duration(outage.length))));
        add(out, "<text x=\"{:.1f}\" y=\"{:.1f}\" fill=\"#d62728\">server down</text>\n",
            x(from) + 3, kTop + 12);
    }

    // The sessions panel.
    y_axis(out, y_step, y_top, y);
    add(out,
        "<text x=\"16\" y=\"{0:.1f}\" transform=\"rotate(-90 16 {0:.1f})\" text-anchor=\"middle\">"
        "sessions</text>\n",
        (kTop + kBottom) / 2);
    struct Layer {
        const char* name;
        const char* colour;
        double Column::*field;
    };
    // Idle at the bottom, where it can be read against the target line.
    const Layer layers[] = {
        {"idle", "#2a9d3a", &Column::idle},
        {"creating", "#1f77b4", &Column::creating},
        {"busy", "#d08c00", &Column::busy},
    };
    std::vector<double> base(columns.size(), 0.0);
    for (const Layer& layer : layers) {
        std::vector<double> top(columns.size());
        for (std::size_t i = 0; i < columns.size(); ++i) top[i] = base[i] + columns[i].*layer.field;
        // A step outline, one level per column: along the tops left to right, back along the bases.
        add(out, "<path fill=\"{}\" fill-opacity=\"0.75\" stroke=\"none\" d=\"", layer.colour);
        add_steps(out, columns, top, y, column_left, column_right);
        for (std::size_t i = columns.size(); i-- > 0;)
            add(out, " V{:.1f} H{:.1f}", y(base[i]), column_left(columns[i]));
        double mean = 0, most = 0;
        for (const Column& c : columns) {
            mean += c.*layer.field;
            most = std::max(most, c.*layer.field);
        }
        mean /= static_cast<double>(std::max<std::size_t>(1, columns.size()));
        add(out, " Z\"><title>{}</title></path>\n",
            xml_escape(fmt::format("{}: {} sessions on average, up to {} in a column", layer.name,
                                   figure(mean), figure(most))));
        base = std::move(top);
    }
    std::vector<double> peaks;
    for (const Column& c : columns) peaks.push_back(c.peak);
    add(out, "<path fill=\"none\" stroke=\"#222\" stroke-width=\"1\" d=\"");
    add_steps(out, columns, peaks, y, column_left, column_right);
    add(out, "\"><title>peak of idle + creating + busy in one cycle</title></path>\n");
    if (run.settings.ensure_idle_session > 0)
        add(out,
            "<line x1=\"{0}\" y1=\"{1:.1f}\" x2=\"{2}\" y2=\"{1:.1f}\" stroke=\"#2a9d3a\" "
            "stroke-width=\"1.5\" "
            "stroke-dasharray=\"6 4\"><title>target: ensure-idle-session = {3}</title></line>\n",
            kLeft, y(run.settings.ensure_idle_session), kRight, run.settings.ensure_idle_session);
    add(out, "<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"#333\"/>\n", kLeft,
        kBottom, kRight);
    add(out, "<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"#333\"/>\n", kLeft, kTop,
        kBottom);

    // The closures panel: one stacked bar per column with closures, on its own axis.
    add(out, "<text x=\"{}\" y=\"{:.1f}\" fill=\"#333\">{}</text>\n", kLeft, kClosedTop - 8,
        xml_escape(
            fmt::format("sessions closed per column ({})", config::format_duration(column_span))));
    y_axis(out, c_step, c_top, yc);
    for (const Column& c : columns) {
        if (c.closed_idle + c.closed_age == 0) continue;
        // A bar keeps a hairline gap to its neighbours when columns are wide enough for one.
        const double left = column_left(c), width = column_right(c) - left;
        const double gap = width >= 4 ? 1 : 0;
        const std::string tip =
            fmt::format("{}: {} closed as idle, {} for age or at a stream's end", column_when(c),
                        c.closed_idle, c.closed_age);
        add(out, "<g><title>{}</title>", xml_escape(tip));
        if (c.closed_idle > 0)
            add(out,
                "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" "
                "fill=\"#e07b00\"/>",
                left, yc(c.closed_idle), width - gap, yc(0) - yc(c.closed_idle));
        if (c.closed_age > 0)
            add(out,
                "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" "
                "fill=\"#c0392b\"/>",
                left, yc(c.closed_idle + c.closed_age), width - gap,
                yc(c.closed_idle) - yc(c.closed_idle + c.closed_age));
        add(out, "</g>\n");
    }
    add(out, "<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"#333\"/>\n", kLeft,
        kClosedBottom, kRight);
    add(out, "<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"#333\"/>\n", kLeft,
        kClosedTop, kClosedBottom);

    // The shared time axis: gridlines through both panels, labels under the lower one.
    const double t_step = shown_s < 1 ? nice_step(shown_s, 8) : nice_time_step(shown_s, 8);
    add(out, "<g fill=\"#333\" text-anchor=\"middle\">\n");
    for (double t = 0; t <= shown_s + 1e-9; t += t_step) {
        add(out,
            "  <line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" "
            "stroke=\"#333\"/>\n",
            x(t), kBottom, kBottom + 4);
        add(out,
            "  <line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" "
            "stroke=\"#333\"/>\n",
            x(t), kClosedBottom, kClosedBottom + 4);
        add(out, "  <text x=\"{:.1f}\" y=\"{:.1f}\">{}</text>\n", x(t), kClosedBottom + 17,
            xml_escape(config::format_duration(seconds(t))));
    }
    add(out, "</g>\n");
    add(out, "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">time</text>\n",
        (kLeft + kRight) / 2, kClosedBottom + 34);

    // Legend, top layer first as in the stack.
    double legend_y = kTop + 6;
    const auto swatch = [&](const char* colour, std::string_view label) {
        add(out,
            "<rect x=\"{}\" y=\"{:.1f}\" width=\"18\" height=\"10\" fill=\"{}\"/>"
            "<text x=\"{}\" y=\"{:.1f}\">{}</text>\n",
            kRight + 20, legend_y - 5, colour, kRight + 44, legend_y + 4, xml_escape(label));
        legend_y += 20;
    };
    add(out,
        "<line x1=\"{0}\" y1=\"{1:.1f}\" x2=\"{2}\" y2=\"{1:.1f}\" stroke=\"#222\"/>"
        "<text x=\"{3}\" y=\"{4:.1f}\">peak sessions</text>\n",
        kRight + 20, legend_y, kRight + 38, kRight + 44, legend_y + 4);
    legend_y += 20;
    for (std::size_t i = std::size(layers); i-- > 0;) swatch(layers[i].colour, layers[i].name);
    if (run.settings.ensure_idle_session > 0) {
        add(out,
            "<line x1=\"{0}\" y1=\"{1:.1f}\" x2=\"{2}\" y2=\"{1:.1f}\" stroke=\"#2a9d3a\" "
            "stroke-width=\"1.5\" "
            "stroke-dasharray=\"6 4\"/><text x=\"{3}\" y=\"{4:.1f}\">target idle</text>\n",
            kRight + 20, legend_y, kRight + 38, kRight + 44, legend_y + 4);
    }
    legend_y = kClosedTop + 6;
    swatch("#c0392b", "closed: age,");
    add(out, "<text x=\"{}\" y=\"{:.1f}\">at stream end</text>\n", kRight + 44, legend_y - 2);
    legend_y += 12;
    swatch("#e07b00", "closed: idle");
    add(out, "</svg>\n");
    return out;
}

}  // namespace anytls::cli
