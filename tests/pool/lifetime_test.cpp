// draw_lifetime(): bounds, the check-interval floor, and uniformity (feature description
// example 3: 30m +/- 10m gives 20-40 minute sessions) with a test strong enough to reject
// a skewed source — including mihomo's seq-derived jitter.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <random>
#include <vector>

#include "pool/lifetime.hpp"
#include "pool_test_support.hpp"

using namespace pool_test;
using anytls::config::PoolSettings;
using anytls::pool::draw_lifetime;

namespace {

// Samples mapped to [0, 1) over the window [low, high).
std::vector<double> normalized(const std::vector<Duration>& lifetimes, Duration low,
                               Duration high) {
    std::vector<double> out;
    const double span = static_cast<double>((high - low).count());
    for (Duration lifetime : lifetimes)
        out.push_back(static_cast<double>((lifetime - low).count()) / span);
    return out;
}

// Pearson's chi-square over 10 equal bins. With 9 degrees of freedom the 0.1% critical value
// is 27.88: a uniform source fails 1 time in 1000, a skewed one (see below) by a wide margin.
constexpr double kChiSquareCritical = 27.88;
double chi_square(const std::vector<double>& samples) {
    std::array<int, 10> bins{};
    for (double x : samples) bins[static_cast<std::size_t>(std::clamp(x, 0.0, 0.999999) * 10)]++;
    const double expected = static_cast<double>(samples.size()) / 10.0;
    double sum = 0;
    for (int observed : bins) sum += (observed - expected) * (observed - expected) / expected;
    return sum;
}

// Kolmogorov-Smirnov statistic against U(0, 1); the 0.1% critical value is 1.949 / sqrt(n).
double kolmogorov_smirnov(std::vector<double> samples) {
    std::sort(samples.begin(), samples.end());
    const double n = static_cast<double>(samples.size());
    double d = 0;
    for (std::size_t i = 0; i < samples.size(); ++i) {
        const double x = std::clamp(samples[i], 0.0, 1.0);
        d = std::max({d, (static_cast<double>(i) + 1) / n - x, x - static_cast<double>(i) / n});
    }
    return d;
}
double ks_critical(std::size_t n) { return 1.949 / std::sqrt(static_cast<double>(n)); }

bool looks_uniform(const std::vector<double>& samples) {
    return chi_square(samples) < kChiSquareCritical &&
           kolmogorov_smirnov(samples) < ks_critical(samples.size());
}

}  // namespace

TEST_SUITE("pool") {
    TEST_CASE("example 3: 1,000 lifetimes lie in [20m, 40m] and are uniform") {
        const PoolSettings settings =
            settings_of("example3-security-sensitive.toml", "secure-service");
        REQUIRE(settings.max_connection_lifetime == 30min);
        REQUIRE(settings.connection_lifetime_jitter == 10min);

        for (std::uint64_t seed : {1u, 2u, 3u, 42u, 20260112u}) {
            CAPTURE(seed);
            std::mt19937_64 engine(seed);
            std::vector<Duration> lifetimes;
            for (int i = 0; i < 1000; ++i) lifetimes.push_back(draw_lifetime(settings, engine));
            for (Duration lifetime : lifetimes) {
                CHECK(lifetime >= 20min);
                CHECK(lifetime <= 40min);
            }
            const auto samples = normalized(lifetimes, 20min, 40min);
            CHECK(chi_square(samples) < kChiSquareCritical);
            CHECK(kolmogorov_smirnov(samples) < ks_critical(samples.size()));
            // Both halves of the window are used: jitter goes both ways.
            CHECK(*std::min_element(lifetimes.begin(), lifetimes.end()) < 21min);
            CHECK(*std::max_element(lifetimes.begin(), lifetimes.end()) > 39min);
        }
    }

    TEST_CASE("the uniformity check rejects biased sources") {
        const PoolSettings settings =
            settings_of("example3-security-sensitive.toml", "secure-service");
        std::mt19937_64 engine(7);
        std::uniform_real_distribution<double> uniform(0.0, 1.0);

        SUBCASE("a squared uniform (strong skew toward short lifetimes)") {
            std::vector<Duration> lifetimes;
            for (int i = 0; i < 1000; ++i)
                lifetimes.push_back(draw_lifetime(settings, [&] {
                    const double u = uniform(engine);
                    return u * u;
                }));
            const auto samples = normalized(lifetimes, 20min, 40min);
            CHECK(chi_square(samples) > kChiSquareCritical);
            CHECK_FALSE(looks_uniform(samples));
        }
        SUBCASE("u^1.5 (a moderate skew)") {
            std::vector<Duration> lifetimes;
            for (int i = 0; i < 1000; ++i)
                lifetimes.push_back(
                    draw_lifetime(settings, [&] { return std::pow(uniform(engine), 1.5); }));
            const auto samples = normalized(lifetimes, 20min, 40min);
            CHECK(chi_square(samples) > kChiSquareCritical);
            CHECK(kolmogorov_smirnov(samples) > ks_critical(samples.size()));
        }
        SUBCASE("mihomo's seq-derived jitter: lifetime = max - jitter + seq % (2 * jitter)") {
            std::vector<Duration> lifetimes;
            const auto jitter = settings.connection_lifetime_jitter.count();
            for (std::int64_t seq = 1; seq <= 1000; ++seq)
                lifetimes.push_back(settings.max_connection_lifetime -
                                    settings.connection_lifetime_jitter +
                                    Duration{seq % (2 * jitter)});
            const auto samples = normalized(lifetimes, 20min, 40min);
            CHECK(chi_square(samples) ==
                  doctest::Approx(9000.0));  // every sample in the first bin: the maximum
            CHECK_FALSE(looks_uniform(samples));
        }
    }

    TEST_CASE("lifetime: off, no jitter, extremes of the source, the check-interval floor") {
        PoolSettings settings;
        std::mt19937_64 engine(1);
        CHECK(draw_lifetime(settings, engine) == Duration{0});  // rotation off

        settings.max_connection_lifetime = 2h;
        CHECK(draw_lifetime(settings, engine) == 2h);  // no jitter: exactly the maximum

        settings.connection_lifetime_jitter = 30min;
        CHECK(draw_lifetime(settings, [] { return 0.0; }) == 90min);
        CHECK(draw_lifetime(settings, [] { return 0.5; }) == 2h);
        CHECK(draw_lifetime(settings, [] { return 1.0; }) == 150min);
        CHECK(draw_lifetime(settings, [] { return 7.0; }) ==
              150min);  // a misbehaving source is clamped

        // Never below one check interval: 40s +/- 30s with a 30s interval.
        settings.max_connection_lifetime = 40s;
        settings.connection_lifetime_jitter = 30s;
        settings.idle_session_check_interval = 30s;
        CHECK(draw_lifetime(settings, [] { return 0.0; }) == 30s);
        for (int i = 0; i < 1000; ++i) {
            const Duration lifetime = draw_lifetime(settings, engine);
            CHECK(lifetime >= 30s);
            CHECK(lifetime <= 70s);
        }
    }

}  // TEST_SUITE
