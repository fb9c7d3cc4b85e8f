// `anytls plan`: what a proxy's session pool will do, before it is deployed.
//
// Loads the configuration, takes one proxy's resolved pool settings, and runs the real
// PoolPolicy through PoolSimulator on a virtual clock (docs/DESIGN.md, "Architecture": the policy
// never does I/O, so hours of pool behaviour take milliseconds). The cycles are then shown as a
// terminal timeline with a summary, as JSON lines (--json), and/or as an SVG plot (--svg).
//
// The simulator's cost is linear in the simulated time and its streams, but a long --duration
// of heavy traffic is still a great deal of work. The work is bounded by --max-steps in the
// simulator's own work steps: refused up front when the traffic alone needs more, and stopped
// as soon as the real count passes it. A run that takes seconds says so (plan_progress.hpp).
#include <fmt/format.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "anytls_build_config.h"
#include "client_config.hpp"
#include "command.hpp"
#include "config/config.hpp"
#include "log/log.hpp"
#include "plan_outage.hpp"
#include "plan_progress.hpp"
#include "plan_report.hpp"
#include "pool/simulator.hpp"

namespace anytls::cli {
namespace {

// A run longer than this many cycles is refused whatever its traffic: every cycle is kept as
// a record for the report (about 100 bytes each). 1,000,000 cycles is 347 days at 30 s.
constexpr std::uint64_t kMaxCycles = 1'000'000;

// The default of --max-steps: some 5 to 20 seconds of simulation, depending on how many
// sessions are alive at once (more sessions, slower steps).
constexpr std::uint64_t kDefaultMaxSteps = 50'000'000;

constexpr std::array<std::string_view, 3> kTrafficModels{"idle", "steady", "bursty"};

constexpr std::array<OptionSpec, 18> kOptions{{
    {"config", "FILE", "the TOML configuration file (this or --uri is required)"},
    kUriOption,
    {"proxy", "NAME", "the proxy to simulate; may be left out when the file has exactly one"},
    {"duration", "DURATION", "virtual time to simulate, e.g. 6h, 90m, 1h30m (required)"},
    {"traffic", "MODEL",
     "idle (no streams), steady (random arrivals) or bursty. Default: idle, or steady with --rate",
     kTrafficModels},
    {"rate", "STREAMS_PER_SECOND", "mean arrival rate of the steady model. Default: 0.2"},
    {"stream-duration", "DURATION", "mean length of a stream (steady, bursty). Default: 10s"},
    {"burst-size", "N", "streams opened together by the bursty model. Default: 20"},
    {"burst-every", "DURATION",
     "period of the bursty model; the first burst comes one period in. Default: 5m"},
    {"handshake", "DURATION",
     "time from the start of a creation to a usable session. Default: 200ms"},
    {"outage", "START+DURATION",
     "the server is down from START for DURATION, e.g. 10m+5m; may be repeated"},
    {"seed", "N", "seed of every random draw (lifetimes, arrivals, stream lengths). Default: 1"},
    {"every", "N", "cycles per timeline line. Default: 1, or enough to stay within 60 lines"},
    {"json", "", "print one JSON object per cycle instead of the timeline (format above)"},
    {"svg", "FILE",
     "also write an SVG chart of idle, creating and busy sessions and of closures over time"},
    {"log", "", "also print each cycle's pool debug lines, as a live pool logs them, to stderr"},
    {"max-steps", "N",
     "refuse or stop a run of more than N simulation steps (one per cycle, arrival, stream, "
     "handshake, stream end, heartbeat wake and session examined). Default: 50000000"},
    {"progress", "",
     "show the progress line on stderr from the start, even when it is not a terminal"},
}};

constexpr std::string_view kDescription =
    "Runs the real pool policy (cleanup every idle-session-check-interval: idle cleanup, age\n"
    "cleanup, proactive creation) through a simulator on a virtual clock: nothing sleeps and\n"
    "nothing touches the network. Creations succeed after --handshake; a stream takes the\n"
    "newest idle session or, when there is none, creates one and waits for it. Heartbeats\n"
    "probe idle sessions every heartbeat-interval (always answered), and failed creations back\n"
    "off (1s, 2s, 4s, ... up to creation-backoff-max), by the same code the live pool runs.\n"
    "\n"
    "--outage START+DURATION takes the server down from START for DURATION: every session\n"
    "dies when it goes down, creations finishing while it is down fail, and the report shows\n"
    "the failures, the backoff growing up to creation-backoff-max, and the recovery.\n"
    "\n"
    "The report shows the resolved pool settings with where each came from, a timeline of idle,\n"
    "busy and creating sessions and of creations and closures per cycle, and a summary: sessions\n"
    "created and closed by reason, protected sessions, min/max idle, when the ensure-idle-session\n"
    "target was reached, and how many streams had to wait for a handshake.\n"
    "\n"
    "--json prints one object per cycle and line, counts for that cycle:\n"
    "  {\"t_s\": 60, \"idle\": 0, \"busy\": 0, \"creating\": 1, \"created\": 1, \"closed_idle\": "
    "0,\n"
    "   \"closed_age\": 0, \"protected_idle\": 0, \"protected_age\": 0, \"streams\": 0,\n"
    "   \"created_on_demand\": 0, \"closed_at_stream_end\": 0, \"creation_failures\": 0,\n"
    "   \"failed_streams\": 0, \"closed_outage\": 0, \"heartbeats\": 0,\n"
    "   \"consecutive_failures\": 0, \"backoff_s\": 0, \"backoff_left_s\": 0,\n"
    "   \"server_down\": false}\n"
    "idle/busy/creating are the sessions right after the cycle's cleanup; created counts "
    "creations\n"
    "started since the previous cycle (this cycle's proactive ones included), created_on_demand\n"
    "those started for a stream that found no idle session; backoff_s is the hold-back the\n"
    "creation failures in a row earn (1s, 2s, 4s, ... up to creation-backoff-max), backoff_left_s\n"
    "how much of it is left after the cycle.\n"
    "\n"
    "A run that lasts more than 2 seconds shows its progress on stderr when stderr is a terminal.\n"
    "\n"
    "Example:\n"
    "  anytls plan --config anytls.toml --proxy ha-service --duration 6h --traffic steady --rate "
    "0.5\n"
    "  anytls plan --config anytls.toml --duration 30m --outage 10m+5m\n";

struct PlanRequest {
    std::string config_path;
    std::string proxy;  // empty: the only proxy
    config::Duration duration{0};
    pool::TrafficOptions traffic;
    config::Duration handshake = std::chrono::milliseconds(200);
    std::uint64_t seed = 1;
    int every = 0;  // 0: default_cycles_per_line()
    bool json = false;
    bool log = false;
    bool progress = false;  // --progress: forced, from the start, also off a terminal
    std::uint64_t max_steps = kDefaultMaxSteps;
    std::string svg_path;
    std::vector<pool::Outage> outages;
};

const char* traffic_model_name(pool::TrafficModel model) {
    switch (model) {
        case pool::TrafficModel::idle:
            return "idle";
        case pool::TrafficModel::steady:
            return "steady";
        case pool::TrafficModel::bursty:
            return "bursty";
    }
    return "?";
}

std::string traffic_description(const pool::TrafficOptions& t) {
    switch (t.model) {
        case pool::TrafficModel::idle:
            return "idle (no streams)";
        case pool::TrafficModel::steady:
            return fmt::format("steady, {} streams/s, streams last {} on average",
                               t.streams_per_second,
                               config::format_duration(t.mean_stream_duration));
        case pool::TrafficModel::bursty:
            return fmt::format("bursty, {} streams every {}, streams last {} on average",
                               t.burst_size, config::format_duration(t.burst_period),
                               config::format_duration(t.mean_stream_duration));
    }
    return "?";
}

Result<PlanRequest> read_request(const ParsedOptions& options) {
    PlanRequest request;
    const std::string* config_path = options.value("config");
    if ((config_path == nullptr || config_path->empty()) && !options.has("uri"))
        return usage_error(
            "--config FILE is required (or --uri LINK): the configuration whose pool to simulate");
    if (config_path != nullptr) request.config_path = *config_path;
    if (const std::string* proxy = options.value("proxy")) request.proxy = *proxy;

    const std::string* duration = options.value("duration");
    if (duration == nullptr)
        return usage_error("--duration is required: how much virtual time to simulate, e.g. 6h");
    auto parsed_duration = parse_positive_duration_option("duration", *duration);
    if (!parsed_duration) return std::move(parsed_duration).error();
    request.duration = *parsed_duration;

    // The traffic model: explicit, or implied by the options that only one model reads.
    const bool steady_options = options.has("rate");
    const bool bursty_options = options.has("burst-size") || options.has("burst-every");
    pool::TrafficOptions& traffic = request.traffic;
    if (const std::string* model = options.value("traffic")) {
        if (*model == "idle")
            traffic.model = pool::TrafficModel::idle;
        else if (*model == "steady")
            traffic.model = pool::TrafficModel::steady;
        else
            traffic.model = pool::TrafficModel::bursty;  // parse_options allows only kTrafficModels
    } else if (steady_options && bursty_options) {
        return usage_error(
            "--rate (steady traffic) and --burst-size/--burst-every (bursty traffic) exclude each "
            "other");
    } else if (steady_options) {
        traffic.model = pool::TrafficModel::steady;
    } else if (bursty_options) {
        traffic.model = pool::TrafficModel::bursty;
    }
    if (steady_options && traffic.model != pool::TrafficModel::steady)
        return usage_error("--rate applies to --traffic steady only");
    if (bursty_options && traffic.model != pool::TrafficModel::bursty)
        return usage_error("--burst-size and --burst-every apply to --traffic bursty only");
    if (options.has("stream-duration") && traffic.model == pool::TrafficModel::idle)
        return usage_error("--stream-duration applies to --traffic steady or bursty, not idle");

    if (const std::string* rate = options.value("rate")) {
        auto value = parse_positive_number_option("rate", *rate);
        if (!value) return std::move(value).error();
        traffic.streams_per_second = *value;
    }
    if (const std::string* text = options.value("stream-duration")) {
        auto value = parse_positive_duration_option("stream-duration", *text);
        if (!value) return std::move(value).error();
        traffic.mean_stream_duration = *value;
    }
    if (const std::string* text = options.value("burst-size")) {
        auto value = parse_unsigned_option("burst-size", *text);
        if (!value) return std::move(value).error();
        if (*value < 1 || *value > static_cast<std::uint64_t>(config::kMaxSessionCount))
            return usage_error(fmt::format("--burst-size expects 1 to {}, got {}",
                                           config::kMaxSessionCount, *value));
        traffic.burst_size = static_cast<int>(*value);
    }
    if (const std::string* text = options.value("burst-every")) {
        auto value = parse_positive_duration_option("burst-every", *text);
        if (!value) return std::move(value).error();
        traffic.burst_period = *value;
    }
    if (const std::string* text = options.value("handshake")) {
        auto value = config::parse_duration(*text);
        if (!value || value->count() < 0)
            return usage_error(fmt::format(
                "--handshake expects a duration >= 0 such as \"200ms\", got \"{}\"", *text));
        request.handshake = *value;
    }
    for (const std::string& text : options.values("outage")) {
        auto outage = parse_outage_option(text);
        if (!outage) return std::move(outage).error();
        if (outage->start >= request.duration)
            return usage_error(fmt::format("--outage {} starts after the end of --duration {}",
                                           text, config::format_duration(request.duration)));
        request.outages.push_back(*outage);
    }
    if (const std::string* text = options.value("seed")) {
        auto value = parse_unsigned_option("seed", *text);
        if (!value) return std::move(value).error();
        request.seed = *value;
    }
    request.json = options.has("json");
    if (const std::string* text = options.value("every")) {
        if (request.json)
            return usage_error(
                "--every sets the lines of the timeline; --json always prints every cycle");
        auto value = parse_unsigned_option("every", *text);
        if (!value) return std::move(value).error();
        if (*value < 1 || *value > kMaxCycles)
            return usage_error(fmt::format("--every expects 1 to {}, got {}", kMaxCycles, *value));
        request.every = static_cast<int>(*value);
    }
    if (const std::string* svg = options.value("svg")) {
        if (svg->empty()) return usage_error("--svg needs a file name");
        request.svg_path = *svg;
    }
    request.log = options.has("log");
    request.progress = options.has("progress");
    if (request.progress && request.log)
        return usage_error("--progress and --log both write to stderr as the run goes; choose one");
    if (const std::string* text = options.value("max-steps")) {
        auto value = parse_unsigned_option("max-steps", *text);
        if (!value) return std::move(value).error();
        if (*value < 1)
            return usage_error(
                fmt::format("--max-steps expects a whole number >= 1, got {}", *value));
        request.max_steps = *value;
    }
    return request;
}

std::string proxy_names(const config::ResolvedConfig& config) {
    std::string names;
    for (const config::ProxyConfig& proxy : config.proxies) {
        if (!names.empty()) names += ", ";
        names += fmt::format("\"{}\"", proxy.name);
    }
    return names;
}

Result<const config::ProxyConfig*> choose_proxy(const config::ResolvedConfig& config,
                                                const PlanRequest& request) {
    if (config.proxies.empty())
        return config_error(
            fmt::format("{} defines no proxy; add a [[proxies]] entry to simulate its pool",
                        request.config_path));
    if (request.proxy.empty()) {
        if (config.proxies.size() == 1) return &config.proxies.front();
        return usage_error(
            fmt::format("{} defines {} proxies, so --proxy NAME must choose one of {}",
                        request.config_path, config.proxies.size(), proxy_names(config)));
    }
    for (const config::ProxyConfig& proxy : config.proxies)
        if (proxy.name == request.proxy) return &proxy;
    return usage_error(fmt::format("{} has no proxy named \"{}\"; its proxies are {}",
                                   request.config_path, request.proxy, proxy_names(config)));
}

Result<void> write_file(const std::string& path, const std::string& text) {
    std::FILE* file = std::fopen(path.c_str(), "wb");
    if (file == nullptr) {
        const int error = errno;
        return runtime_error(fmt::format("cannot write \"{}\": {}", path, std::strerror(error)),
                             -error);
    }
    const bool written = std::fwrite(text.data(), 1, text.size(), file) == text.size();
    const int write_error = errno;
    const bool closed = std::fclose(file) == 0;
    if (!written || !closed)
        return runtime_error(
            fmt::format("cannot write \"{}\": {}", path, std::strerror(write_error)), -write_error);
    return {};
}

Result<void> run_plan(const Invocation& invocation) {
    auto request = read_request(invocation.options);
    if (!request) return std::move(request).error();
    // --config and/or --uri (client_config.hpp): the link's proxy is the default one.
    auto loaded =
        load_client_configuration(invocation.options, "the configuration whose pool to simulate");
    if (!loaded) return std::move(loaded).error();
    request->config_path = loaded->source;
    if (request->proxy.empty()) request->proxy = loaded->link_proxy;
    const config::ResolvedConfig* config = &loaded->config;
    for (const std::string& warning : config->warnings)
        std::fputs(fmt::format("anytls {}: warning: {}\n", invocation.command, warning).c_str(),
                   stderr);
    auto proxy = choose_proxy(*config, *request);
    if (!proxy) return std::move(proxy).error();

    const config::PoolSettings& settings = (*proxy)->pool;
    const std::uint64_t cycles =
        static_cast<std::uint64_t>(request->duration / settings.idle_session_check_interval);
    if (cycles == 0)
        return usage_error(
            fmt::format("--duration {} is shorter than one cleanup cycle "
                        "(idle-session-check-interval {})",
                        config::format_duration(request->duration),
                        config::format_duration(settings.idle_session_check_interval)));
    if (cycles > kMaxCycles)
        return usage_error(
            fmt::format("--duration {} is {} cleanup cycles of {}; at most {} are simulated",
                        config::format_duration(request->duration), cycles,
                        config::format_duration(settings.idle_session_check_interval), kMaxCycles));

    pool::SimulatorOptions sim_options;
    sim_options.settings = settings;
    sim_options.traffic = request->traffic;
    sim_options.handshake_delay = request->handshake;
    sim_options.seed = request->seed;
    sim_options.outages = request->outages;
    sim_options.proxy_name = (*proxy)->name;
    const config::Duration simulated_span =
        settings.idle_session_check_interval * static_cast<std::int64_t>(cycles);
    const std::uint64_t expected_steps = pool::expected_work_steps(sim_options, simulated_span);
    if (expected_steps > request->max_steps)
        return usage_error(fmt::format(
            "--duration {} of {} traffic needs at least about {} simulation steps, more than "
            "--max-steps {}; "
            "shorten --duration, lighten the traffic, or raise --max-steps",
            config::format_duration(request->duration), traffic_model_name(request->traffic.model),
            expected_steps, request->max_steps));
    pool::PoolSimulator simulator(sim_options);

    PlanRun run;
    run.proxy_name = (*proxy)->name;
    run.config_path = request->config_path;
    run.settings = settings;
    run.sources = (*proxy)->pool_sources;
    run.traffic = traffic_description(request->traffic);
    run.seed = request->seed;
    run.duration = request->duration;
    run.handshake_delay = request->handshake;
    run.outages = request->outages;
    if (request->log) log::set_level(log::Level::debug);
    // The cycle at start (a live pool runs one when it starts), then one per interval up to
    // the end of --duration.
    run.records.reserve(static_cast<std::size_t>(cycles) + 1);
    PlanProgress progress(request->progress, !request->log);
    const auto simulated = [&] {
        return config::format_duration(simulator.now() - simulator.start());
    };
    for (std::uint64_t i = 0; i <= cycles; ++i) {
        run.records.push_back(simulator.step());
        if (simulator.work_steps() > request->max_steps)
            return usage_error(fmt::format(
                "stopped at {} of --duration {}: the run passed --max-steps {} simulation steps "
                "({} sessions created so far); shorten --duration, lighten the traffic, or raise "
                "--max-steps",
                simulated(), config::format_duration(request->duration), request->max_steps,
                simulator.sessions_started()));
        if (progress.due())
            progress.show(fmt::format(
                "anytls plan: simulated {} of {} ({}%), {} of at most {} simulation steps",
                simulated(), config::format_duration(request->duration), i * 100 / cycles,
                simulator.work_steps(), request->max_steps));
        // The lines a live pool would log at this cycle, tagged with the virtual time.
        if (request->log) {
            const std::string when = simulated();
            for (const std::string& line : run.records.back().log_lines)
                log::debug("t={} {}", when, line);
        }
        run.records.back().log_lines.clear();  // not needed any more; keeps long runs small
    }
    run.closed = simulator.closed();
    progress.finish(
        fmt::format("anytls plan: simulated {} in {} cycles, {} simulation steps, in {:.1f} s",
                    simulated(), run.records.size(), simulator.work_steps(),
                    std::chrono::duration<double>(progress.elapsed()).count()));

    if (!request->svg_path.empty()) {
        if (auto written = write_file(request->svg_path, render_plan_svg(run)); !written)
            return written;
    }
    std::string out;
    if (request->json) {
        out = render_plan_json_lines(run);
    } else {
        const int every =
            request->every > 0 ? request->every : default_cycles_per_line(run.records.size());
        out = render_plan_text(run, every, invocation.terminal);
        if (!request->svg_path.empty())
            out += fmt::format("\nSVG plot written to {}\n", request->svg_path);
    }
    std::fputs(out.c_str(), stdout);
    return {};
}

constexpr Command kPlan{
    .name = "plan",
    .summary = "simulate a proxy's session pool on a virtual clock and chart what it does",
    .usage =
        "anytls plan (--config FILE | --uri LINK) [--proxy NAME] --duration DURATION [--traffic "
        "idle|steady|bursty]\n"
        "                   [--rate STREAMS_PER_SECOND] [--seed N] [--every N] [--svg FILE] "
        "[--json]\n"
        "                   [--outage START+DURATION]... [--max-steps N] [--progress]",
    .description = kDescription,
    .options = kOptions,
    .run = run_plan,
};
const CommandRegistration kRegistration{kPlan};

}  // namespace
}  // namespace anytls::cli
