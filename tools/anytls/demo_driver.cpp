// Bursts of verified echo streams for `anytls demo` (see demo_driver.hpp).
#include "demo_driver.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <thread>

namespace anytls::cli {

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kMaxBurst = 8;
constexpr std::size_t kMaxStreamBytes = 256 * 1024;
constexpr std::size_t kChunk = 16 * 1024;
constexpr auto kOpenTimeout = std::chrono::seconds(20);
constexpr auto kIoTimeout = std::chrono::seconds(20);

std::vector<std::byte> random_bytes(std::uint64_t seed, std::size_t size) {
    std::mt19937_64 random(seed);
    std::vector<std::byte> bytes(size);
    for (std::size_t i = 0; i < size; i += 8) {
        const std::uint64_t word = random();
        for (std::size_t k = 0; k < 8 && i + k < size; ++k)
            bytes[i + k] = static_cast<std::byte>(word >> (8 * k));
    }
    return bytes;
}

// Log-uniform from 1 byte to kMaxStreamBytes: many small streams, some large ones.
std::size_t random_size(std::mt19937_64& random) {
    std::uniform_real_distribution<double> exponent(
        0.0, std::log2(static_cast<double>(kMaxStreamBytes)));
    return std::max<std::size_t>(1, static_cast<std::size_t>(std::exp2(exponent(random))));
}

}  // namespace

double percentile(std::vector<double> values, double p) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    const auto rank =
        static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
    return values[std::clamp<std::size_t>(rank, 1, values.size()) - 1];
}

DemoDriver::DemoDriver(client::Client& client, std::string proxy, std::uint16_t echo_port,
                       std::uint64_t seed)
    : client_(client), proxy_(std::move(proxy)), echo_port_(echo_port), seed_(seed) {}

DemoTotals DemoDriver::totals() const {
    std::lock_guard lock(mutex_);
    return totals_;
}

void DemoDriver::record_failure(std::string sentence) {
    std::lock_guard lock(mutex_);
    ++totals_.streams_failed;
    if (totals_.first_failure.empty()) totals_.first_failure = std::move(sentence);
}

void DemoDriver::run_until(Clock::time_point end) {
    std::mt19937_64 random(seed_);
    std::uniform_int_distribution<int> burst_size(1, kMaxBurst);
    std::uniform_int_distribution<int> pause_ms(100, 1200);
    while (Clock::now() < end) {
        const int streams = burst_size(random);
        std::vector<std::thread> burst;
        for (int i = 0; i < streams; ++i)
            burst.emplace_back([this] { run_stream(next_stream_++); });
        for (auto& thread : burst) thread.join();
        const auto pause = std::min<Clock::duration>(std::chrono::milliseconds(pause_ms(random)),
                                                     end - Clock::now());
        if (pause > Clock::duration::zero()) std::this_thread::sleep_for(pause);
    }
}

void DemoDriver::run_stream(std::uint64_t index) {
    std::mt19937_64 random(seed_ ^ (index * 0x9E3779B97F4A7C15ull));
    const std::vector<std::byte> sent = random_bytes(random(), random_size(random));

    const auto open_started = Clock::now();
    auto opened = client_.open_stream(proxy_, "127.0.0.1", echo_port_, kOpenTimeout);
    const double open_ms =
        std::chrono::duration<double, std::milli>(Clock::now() - open_started).count();
    if (!opened) {
        record_failure(
            fmt::format("stream {} could not be opened: {}", index + 1, opened.error().text()));
        return;
    }
    client::Stream& stream = **opened;
    {
        std::lock_guard lock(mutex_);
        (stream.warm() ? totals_.warm_open_ms : totals_.cold_open_ms).push_back(open_ms);
    }

    Result<void> written;
    std::thread writer([&] {
        for (std::size_t at = 0; at < sent.size() && written; at += kChunk) {
            const std::size_t n = std::min(kChunk, sent.size() - at);
            written = stream.write(std::span<const std::byte>(sent.data() + at, n), kIoTimeout);
        }
    });
    std::vector<std::byte> buffer(kChunk);
    std::size_t received = 0;
    std::string problem;
    while (received < sent.size() && problem.empty()) {
        auto n = stream.read(buffer, kIoTimeout);
        if (!n) {
            problem = fmt::format("reading the echo failed after {} of {} bytes: {}", received,
                                  sent.size(), n.error().text());
        } else if (*n == 0) {
            problem = fmt::format("the echo ended after {} of {} bytes", received, sent.size());
        } else if (received + *n > sent.size() ||
                   !std::equal(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(*n),
                               sent.begin() + static_cast<std::ptrdiff_t>(received))) {
            problem = fmt::format("the echo differs from what was sent, within bytes {} to {}",
                                  received + 1, received + *n);
        } else {
            received += *n;
        }
    }
    if (!problem.empty()) (void)stream.close();  // unblocks the writer
    writer.join();
    if (problem.empty() && !written)
        problem = fmt::format("writing failed: {}", written.error().text());
    (void)stream.close();
    if (!problem.empty()) {
        record_failure(fmt::format("stream {} ({} bytes): {}", index + 1, sent.size(), problem));
        return;
    }
    std::lock_guard lock(mutex_);
    ++totals_.streams_ok;
    totals_.bytes_verified += sent.size();
}

}  // namespace anytls::cli
