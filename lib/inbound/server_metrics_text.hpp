// A ServerGroup's snapshot (server/server_stats.hpp) as Prometheus text, served by
// `anytls server` on `metrics` (docs/SERVER.md, "Metrics"). Pure: plain numbers in, text out.
//
//   anytls_server_connections{thread,state="handshaking|authenticated"}  gauge
//   anytls_server_connections_accepted_total                          counter
//   anytls_server_connections_over_limit_total                        counter
//   anytls_server_handshake_failures_total                            counter
//   anytls_server_sessions_total                                      counter (authenticated)
//   anytls_server_auth_failures_total                                 counter
//   anytls_server_fallbacks_total                                     counter
//   anytls_server_padding_updates_total                               counter
//   anytls_server_alerts_total                                        counter
//   anytls_server_streams_opened_total                                counter
//   anytls_server_streams_refused_total                               counter
//   anytls_server_user_bytes_total{user,direction="in|out"}           counter
//   anytls_server_handshake_seconds                                   histogram
#pragma once

#include <string>

#include "server/server_stats.hpp"

namespace anytls::inbound {

std::string format_server_metrics(const server::ServerMetrics& metrics);

}  // namespace anytls::inbound
