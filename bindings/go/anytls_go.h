// C helpers of the Go binding, shared by the cgo preambles of its files.
//
// The message of a failed call (anytls_last_error) belongs to the OS thread that made it, and
// a goroutine may move to another thread between two cgo calls. So each call whose handle
// several goroutines may use at once goes through a wrapper that copies the message in the
// same cgo call (anytls_go_keep); the calls on a handle that one goroutine uses at a time (a
// pending open, a server at start) read the handle's own record instead
// (anytls_open_last_error, anytls_server_last_error). No OS thread is locked.
#ifndef ANYTLS_GO_H
#define ANYTLS_GO_H

#include <stdio.h>
#include <anytls/anytls.h>

// rc; when it is a failure, the calling thread's message copied into msg (len bytes).
static inline int anytls_go_keep(int rc, char* msg, size_t len) {
    if (len > 0) msg[0] = '\0';
    if (rc != ANYTLS_OK && len > 0) snprintf(msg, len, "%s", anytls_last_error());
    return rc;
}

#define ANYTLS_GO_KEEP(call) anytls_go_keep((call), msg, len)

static inline int anytls_go_client_open(const char* toml, anytls_client** out, char* msg,
                                        size_t len) {
    return ANYTLS_GO_KEEP(anytls_client_open(toml, out));
}
static inline int anytls_go_client_open_file(const char* path, anytls_client** out, char* msg,
                                             size_t len) {
    return ANYTLS_GO_KEEP(anytls_client_open_file(path, out));
}
static inline int anytls_go_client_close(anytls_client* client, char* msg, size_t len) {
    return ANYTLS_GO_KEEP(anytls_client_close(client));
}
static inline int anytls_go_pool_config_get(anytls_client* client, const char* proxy,
                                            anytls_pool_config* cfg, char* msg, size_t len) {
    return ANYTLS_GO_KEEP(anytls_pool_config_get(client, proxy, cfg));
}
static inline int anytls_go_pool_config_set(anytls_client* client, const char* proxy,
                                            const anytls_pool_config* cfg, char* msg, size_t len) {
    return ANYTLS_GO_KEEP(anytls_pool_config_set(client, proxy, cfg));
}
static inline int anytls_go_pool_get_stats(anytls_client* client, const char* proxy,
                                           anytls_pool_stats* stats, char* msg, size_t len) {
    return ANYTLS_GO_KEEP(anytls_pool_get_stats(client, proxy, stats));
}
static inline int anytls_go_pool_reset(anytls_client* client, const char* proxy, char* msg,
                                       size_t len) {
    return ANYTLS_GO_KEEP(anytls_pool_reset(client, proxy));
}
static inline int anytls_go_open_start(anytls_client* client, const char* proxy, const char* host,
                                       uint16_t port, int timeout_ms, anytls_open** out, char* msg,
                                       size_t len) {
    return ANYTLS_GO_KEEP(anytls_open_start(client, proxy, host, port, timeout_ms, out));
}
static inline int anytls_go_stream_fd_error(int fd, char* msg, size_t len) {
    return ANYTLS_GO_KEEP(anytls_stream_fd_error(fd));
}
static inline int anytls_go_server_start(const char* toml, anytls_server** out, char* msg,
                                         size_t len) {
    return ANYTLS_GO_KEEP(anytls_server_start(toml, out));
}
static inline int anytls_go_server_stop(anytls_server* server, char* msg, size_t len) {
    return ANYTLS_GO_KEEP(anytls_server_stop(server));
}

#endif
