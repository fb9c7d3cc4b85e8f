// The progress line of `anytls plan`, on stderr (a DemoConsole status line there).
//
// A plan usually takes milliseconds, and then it prints nothing here. When it takes longer the
// user should see that it is working and how far it got: on a terminal, a line redrawn in place
// once the run has lasted kDelay, erased when it ends. --progress forces it from the start and
// also into pipes and files (one plain line per kLineEvery), ending on a line with the totals,
// so scripts and tests can see it too. Nothing is ever written to stdout.
#pragma once

#include <chrono>
#include <string>

#include "demo_console.hpp"

namespace anytls::cli {

class PlanProgress {
public:
    using Clock = std::chrono::steady_clock;
    static constexpr Clock::duration kDelay = std::chrono::seconds(2);
    static constexpr Clock::duration kTerminalEvery = std::chrono::milliseconds(200);
    static constexpr Clock::duration kLineEvery = std::chrono::seconds(1);

    // forced: --progress. Otherwise shown only when stderr is a live terminal and `allowed`
    // (false when something else writes to stderr as the run goes, such as --log).
    PlanProgress(bool forced, bool allowed);
    ~PlanProgress();
    PlanProgress(const PlanProgress&) = delete;
    PlanProgress& operator=(const PlanProgress&) = delete;

    // Whether a line is due now; cheap enough to ask every cycle.
    bool due();
    void show(const std::string& text);
    // The run is over: a forced progress prints `text` as its last line; a terminal's
    // automatic line is erased.
    void finish(const std::string& text);
    // Real time since the progress began.
    Clock::duration elapsed() const { return Clock::now() - start_; }

private:
    bool forced_ = false;
    bool enabled_ = false;
    bool finished_ = false;
    Clock::time_point start_;
    Clock::time_point next_;
    Clock::duration every_;
    DemoConsole console_;
};

}  // namespace anytls::cli
