// ServerStats arithmetic (see server_stats.hpp).
#include "server/server_stats.hpp"

#include <algorithm>

namespace anytls::server {

void ServerStats::add(const ServerStats& other) {
    connections_accepted += other.connections_accepted;
    sessions_authenticated += other.sessions_authenticated;
    auth_failures += other.auth_failures;
    padding_updates_sent += other.padding_updates_sent;
    streams_opened += other.streams_opened;
    streams_refused += other.streams_refused;
    alerts_sent += other.alerts_sent;
    fallbacks += other.fallbacks;
    connections_over_limit += other.connections_over_limit;
    handshake_failures += other.handshake_failures;
    for (std::size_t i = 0; i < handshake_latency_buckets.size(); ++i)
        handshake_latency_buckets[i] += other.handshake_latency_buckets[i];
    handshake_latency_seconds_sum += other.handshake_latency_seconds_sum;
    for (const auto& [user, traffic] : other.traffic_by_user) {
        auto& mine = traffic_by_user[user];
        mine.bytes_in += traffic.bytes_in;
        mine.bytes_out += traffic.bytes_out;
    }
}

void ServerStats::record_handshake(double seconds) {
    const auto slot = static_cast<std::size_t>(
        std::lower_bound(kHandshakeLatencyBounds.begin(), kHandshakeLatencyBounds.end(), seconds) -
        kHandshakeLatencyBounds.begin());
    ++handshake_latency_buckets[slot];
    handshake_latency_seconds_sum += seconds;
}

}  // namespace anytls::server
