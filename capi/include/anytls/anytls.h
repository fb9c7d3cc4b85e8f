/*
 * anytls.h — the stable C ABI of libanytls (docs/DESIGN.md, "The C ABI"; docs/C-API.md).
 *
 * An AnyTLS proxy client with a managed pool of warm sessions, and an embeddable AnyTLS
 * server for tests and demos. Everything is reached through opaque handles:
 *
 *   anytls_client   one configuration (TOML): its outbound proxies, their session pools and
 *                   the reactor thread they run on. anytls_client_open / anytls_client_close.
 *   anytls_stream   one proxied TCP connection. anytls_stream_open / anytls_stream_close.
 *   anytls_server   an AnyTLS server on its own thread. anytls_server_start / _stop.
 *
 * Rules that hold for every function (the practice of libuv, sqlite3, zstd and libcurl):
 *   - Functions return ANYTLS_OK (0) or a negative anytls_error code; the only exceptions
 *     are the getters of static strings and anytls_abi_version(). No function throws,
 *     aborts or crashes on a NULL handle: it answers ANYTLS_E_INVALID_ARGUMENT.
 *   - Every failing call stores a message naming the cause for the calling thread:
 *     anytls_last_error(). Successful calls leave it unchanged.
 *   - Output pointers are written only on success, except that handle outputs
 *     (anytls_client **, anytls_stream **, anytls_server **) and fd_out are set to
 *     NULL / -1 on failure.
 *   - Functions that free a handle (_close, _stop) accept NULL.
 *   - Calls block the calling thread, never the library's own threads; every wait that can
 *     take long has a timeout.
 *   - The error codes are pinned and append-only: a code never changes its value or meaning.
 *   - Structs passed in and out begin with `size_t size`, which the caller sets to
 *     sizeof(the struct it was compiled with). The library reads and writes only the fields
 *     that fit in that size, so programs built against an older or newer header keep working.
 *
 * Pure C11; also compiles as C++.
 */
#ifndef ANYTLS_ANYTLS_H
#define ANYTLS_ANYTLS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ANYTLS_API marks the exported functions; the library builds with hidden visibility for
 * everything else and a linker version script (node ANYTLS_1). */
#if defined(__GNUC__) || defined(__clang__)
#define ANYTLS_API __attribute__((visibility("default")))
#else
#define ANYTLS_API
#endif

/* C++ callers see that no function throws. */
#if defined(__cplusplus) && __cplusplus >= 201103L
#define ANYTLS_NOEXCEPT noexcept
#else
#define ANYTLS_NOEXCEPT
#endif

/* ---- Versions -------------------------------------------------------------------------- */

/* The library release this header belongs to. */
#define ANYTLS_VERSION_MAJOR 0
#define ANYTLS_VERSION_MINOR 1
#define ANYTLS_VERSION_PATCH 0
#define ANYTLS_VERSION_STRING "0.1.0"
/* The release as one number, MAJOR * 10000 + MINOR * 100 + PATCH (as zstd's
 * ZSTD_VERSION_NUMBER): 0.1.0 is 100. Compare it with anytls_version_number(). */
#define ANYTLS_VERSION_NUMBER \
    (ANYTLS_VERSION_MAJOR * 10000 + ANYTLS_VERSION_MINOR * 100 + ANYTLS_VERSION_PATCH)
/* The ABI generation: the soname is libanytls.so.<ANYTLS_ABI_VERSION>, and the exported
 * symbols carry the version node ANYTLS_<ANYTLS_ABI_VERSION>. Only additions happen within
 * one ABI version. */
#define ANYTLS_ABI_VERSION 1

/* The release of the library actually loaded ("0.1.0"): a static string.
 * Thread safety: any thread, any time. */
ANYTLS_API const char* anytls_version(void) ANYTLS_NOEXCEPT;
/* The ABI version of the library actually loaded (compare with ANYTLS_ABI_VERSION).
 * Thread safety: any thread, any time. */
ANYTLS_API int anytls_abi_version(void) ANYTLS_NOEXCEPT;
/* The release of the library actually loaded as ANYTLS_VERSION_NUMBER counts it (100 for
 * 0.1.0), so that a program can require "at least 0.2.0" with one comparison. Since ABI node
 * ANYTLS_1.4. Thread safety: any thread, any time. */
ANYTLS_API unsigned anytls_version_number(void) ANYTLS_NOEXCEPT;

/* ---- Errors ---------------------------------------------------------------------------- */

/* Pinned, append-only. Functions return these as int. */
typedef enum anytls_error {
    ANYTLS_OK = 0,
    ANYTLS_E_INVALID_ARGUMENT = -1, /* NULL handle or pointer, empty name, bad timeout, ... */
    ANYTLS_E_CONFIG = -2,           /* configuration rejected; the message names the key */
    ANYTLS_E_UNKNOWN_PROXY = -3,    /* no [[proxies]] entry with that name */
    ANYTLS_E_CLOSED = -4,           /* the stream, session or client is closed (or was reset) */
    ANYTLS_E_TIMEOUT = -5,          /* the wait ran out; a stream stays usable after a read
                                       or write timeout */
    ANYTLS_E_CONNECT = -6,          /* the proxy server could not be reached (refused,
                                       unreachable, name not resolved) */
    ANYTLS_E_TLS = -7,              /* TLS handshake or record failure */
    ANYTLS_E_TLS_VERIFY = -8,       /* the server certificate failed verification (unknown
                                       CA, hostname mismatch, expired, not yet valid) */
    ANYTLS_E_AUTH = -9,             /* the server refused the password (AnyTLS servers
                                       usually just close the connection, which a client
                                       sees as ANYTLS_E_CLOSED) */
    ANYTLS_E_TARGET_REFUSED = -10,  /* the server could not reach the target; the message
                                       carries the server's SYNACK text */
    ANYTLS_E_PROTOCOL = -11,        /* AnyTLS protocol violation by the peer */
    ANYTLS_E_IO = -12,              /* another system error (file, socket); see the message */
    ANYTLS_E_NO_MEMORY = -13,       /* allocation failed */
    ANYTLS_E_INTERNAL = -14,        /* a bug in the library; please report the message */
    ANYTLS_E_IN_PROGRESS = -15,     /* a pending open has not ended yet (since ANYTLS_1.3) */
    ANYTLS_E_CANCELLED = -16        /* the pending open was cancelled (since ANYTLS_1.3) */
} anytls_error;

/* A static English description of a code ("timed out"); never NULL, also for unknown codes.
 * Thread safety: any thread, any time. */
ANYTLS_API const char* anytls_strerror(int code) ANYTLS_NOEXCEPT;

/* The message of the last failing call made by this thread, naming the cause (a config key
 * and line, the SYNACK text, a file name, ...); "" if no call has failed on this thread.
 * The pointer stays valid until the next failing call on the same thread.
 * Thread safety: any thread; each thread sees its own message. */
ANYTLS_API const char* anytls_last_error(void) ANYTLS_NOEXCEPT;

struct anytls_client;
struct anytls_stream;
struct anytls_open;
struct anytls_server;

/* The last failure of the calls made on one handle, for callers that cannot read
 * anytls_last_error on the thread that made the call (Go's goroutines move between threads).
 * Sets *code (when not NULL) to that call's code, or ANYTLS_OK if no call on the handle has
 * failed; copies its message into buf (when not NULL and len > 0), truncated to len - 1
 * bytes and always NUL-terminated; returns the message's full length, so that a caller can
 * retry with a larger buffer. A NULL handle gives *code = ANYTLS_E_INVALID_ARGUMENT, "" and 0.
 * Calls on a pending open record their failures on it; a failed open (anytls_stream_open*,
 * anytls_open_start) records on the client. The functions that free a handle record nothing.
 * Since ABI node ANYTLS_1.5.
 * Thread safety: any thread, while the handle lives. When calls on one handle fail in several
 * threads at once, the record is one of theirs: compare *code with the code you got. */
ANYTLS_API size_t anytls_client_last_error(const struct anytls_client* client, int* code, char* buf,
                                           size_t len) ANYTLS_NOEXCEPT;
ANYTLS_API size_t anytls_stream_last_error(const struct anytls_stream* stream, int* code, char* buf,
                                           size_t len) ANYTLS_NOEXCEPT;
ANYTLS_API size_t anytls_open_last_error(const struct anytls_open* open, int* code, char* buf,
                                         size_t len) ANYTLS_NOEXCEPT;
ANYTLS_API size_t anytls_server_last_error(const struct anytls_server* server, int* code, char* buf,
                                           size_t len) ANYTLS_NOEXCEPT;

/* ---- Logging --------------------------------------------------------------------------- */

typedef enum anytls_log_level {
    ANYTLS_LOG_ERROR = 0,
    ANYTLS_LOG_WARN = 1,
    ANYTLS_LOG_INFO = 2,
    ANYTLS_LOG_DEBUG = 3,
    ANYTLS_LOG_TRACE = 4 /* only in builds with -Dtrace_log=true */
} anytls_log_level;

/* Receives one log line (no trailing newline; `message` is valid only during the call). */
typedef void (*anytls_log_fn)(int level, const char* message, void* user);

/* Sends the library's log lines (process-wide) at `level` and more severe to fn, or to
 * stderr when fn is NULL (the default). The level set here takes precedence over the
 * log-level of client and server configurations opened before or after, but not over a
 * client's own level (anytls_client_set_log). Clients without a callback of their own log
 * here.
 *
 * The callback is called from the library's reactor threads and from threads calling into
 * the library, but never concurrently with itself (calls are serialized by a mutex). It must
 * not call any anytls_* function other than anytls_strerror / anytls_version, and should
 * return quickly: the reactor that logged waits for it.
 * `user` is passed back unchanged. The library lets go of the previous (fn, user) when this
 * function returns: from then on the previous callback is never called again, so its `user`
 * may be freed — this is how `user` is released (call with another callback or with NULL).
 * Returns ANYTLS_E_INVALID_ARGUMENT for a level outside ERROR..TRACE.
 * Thread safety: any thread; calls are serialized. */
ANYTLS_API int anytls_set_log(anytls_log_fn fn, void* user, int level) ANYTLS_NOEXCEPT;

/* ---- Client ---------------------------------------------------------------------------- */

typedef struct anytls_client anytls_client;

/* Opens a client from TOML text (the format of docs/CONFIG.md: [[proxies]] and the
 * [experimental.anytls-session-management] pool keys). Starts the client's reactor thread and
 * one session pool per proxy, which begin their maintenance at once (ensure-idle-session
 * sessions are created in the background). ANYTLS_E_CONFIG names the key and line of the
 * first problem. On failure *out is set to NULL.
 * Thread safety: any thread. */
ANYTLS_API int anytls_client_open(const char* toml, anytls_client** out) ANYTLS_NOEXCEPT;

/* The same, reading the TOML from a file. A file that cannot be read is ANYTLS_E_IO.
 * Thread safety: any thread. */
ANYTLS_API int anytls_client_open_file(const char* path, anytls_client** out) ANYTLS_NOEXCEPT;

/* Closes every stream opened through the client (their handles answer ANYTLS_E_CLOSED from
 * then on and must still be freed with anytls_stream_close), every session, and stops the
 * client's thread. Streams handed out as file descriptors see the end of the stream. NULL is
 * accepted. Returns 0 (or ANYTLS_E_INTERNAL with a message if shutdown hit a bug; the
 * client is freed in every case).
 * Thread safety: any thread, once per client. Calls already in progress in other threads are
 * finished first: stream reads and writes blocked on the client's streams wake up with
 * ANYTLS_E_CLOSED, and a pool call or stream open in progress is waited for (an open at most
 * for its timeout). No call on the client may start once this one has begun: the handle is
 * freed when it returns. */
ANYTLS_API int anytls_client_close(anytls_client* client) ANYTLS_NOEXCEPT;

/* Gives this client a log of its own: its lines at `level` and more severe go to fn (called
 * as anytls_set_log's callback is, serialized per client), or, when fn is NULL, to the
 * process log (anytls_set_log) at this level. Other clients and the process level are not
 * changed. The previous (fn, user) of this client is never called once this returns.
 * Returns INVALID_ARGUMENT for a NULL client or a level outside ERROR..TRACE, CLOSED for a
 * closed client. Since ABI node ANYTLS_1.5.
 * Thread safety: any thread; not inside this client's own log callback. */
ANYTLS_API int anytls_client_set_log(anytls_client* client, anytls_log_fn fn, void* user,
                                     int level) ANYTLS_NOEXCEPT;

/* ---- Session pool ---------------------------------------------------------------------- */

/* The live pool configuration of one proxy (docs/DESIGN.md, "The session pool"; docs/CONFIG.md
 * has every key). Counts are plain numbers; durations are milliseconds (values read back are
 * rounded up to whole milliseconds, so a non-zero duration never reads as 0). Initialise with
 * `anytls_pool_config cfg = { .size = sizeof cfg };` (or set cfg.size). */
typedef struct anytls_pool_config {
    size_t size;                             /* sizeof(anytls_pool_config), set by the caller */
    int64_t ensure_idle_session;             /* ensure-idle-session */
    int64_t ensure_idle_session_create_rate; /* ensure-idle-session-create-rate (0 = no limit) */
    int64_t min_idle_session;                /* min-idle-session */
    int64_t min_idle_session_for_age;        /* min-idle-session-for-age */
    int64_t max_connection_lifetime_ms;      /* max-connection-lifetime (0 = no rotation) */
    int64_t connection_lifetime_jitter_ms;   /* connection-lifetime-jitter */
    int64_t idle_session_timeout_ms;         /* idle-session-timeout (> 0) */
    int64_t idle_session_check_interval_ms;  /* idle-session-check-interval (> 0) */
    int64_t heartbeat_interval_ms;           /* heartbeat-interval (0 = off) */
    int64_t heartbeat_timeout_ms;            /* heartbeat-timeout (> 0) */
    int64_t tcp_keepalive_ms;                /* tcp-keepalive (0 = off) */
    int session_reuse;                       /* session-reuse: 0 or 1 */
    int64_t creation_backoff_max_ms;         /* creation-backoff-max (0 = no backoff) */
} anytls_pool_config;

/* Reads the pool configuration of `proxy` into cfg (the fields that fit in cfg->size).
 * Errors: INVALID_ARGUMENT (NULL, cfg->size too small to hold one field), UNKNOWN_PROXY.
 * Thread safety: any thread, concurrently with any call on the same client except
 * anytls_client_close. */
ANYTLS_API int anytls_pool_config_get(anytls_client* client, const char* proxy,
                                      anytls_pool_config* cfg) ANYTLS_NOEXCEPT;

/* Replaces the pool configuration of `proxy`: the fields that fit in cfg->size; the others
 * (and the client-name, which is not part of this struct) keep their current values. The
 * whole result is validated like the configuration file — nothing is applied if a value is
 * refused, and ANYTLS_E_CONFIG's message names the key ("idle-session-check-interval: ...").
 * The pool's next cleanup cycle uses it (a new check interval takes effect after the cycle
 * already scheduled).
 * Thread safety: as anytls_pool_config_get. */
ANYTLS_API int anytls_pool_config_set(anytls_client* client, const char* proxy,
                                      const anytls_pool_config* cfg) ANYTLS_NOEXCEPT;

/* Counters of one proxy's pool. Initialise with `anytls_pool_stats st = { .size = sizeof st };`. */
typedef struct anytls_pool_stats {
    size_t size;            /* sizeof(anytls_pool_stats), set by the caller */
    uint64_t idle;          /* sessions now idle */
    uint64_t busy;          /* sessions now carrying a stream */
    uint64_t creating;      /* handshakes in flight */
    uint64_t created_total; /* sessions created successfully since the client opened */
    uint64_t creation_failures;
    uint64_t closed_idle;      /* closed by idle cleanup */
    uint64_t closed_age;       /* closed past their lifetime */
    uint64_t closed_heartbeat; /* closed for not answering a heartbeat */
    uint64_t closed_error;     /* closed because the connection failed */
    uint64_t closed_reset;     /* closed by anytls_pool_reset */
    uint64_t closed_no_reuse;  /* closed at stream end with session-reuse = false */
    uint64_t streams_opened;
    uint64_t warm_opens;    /* streams that got an idle session */
    uint64_t cold_opens;    /* streams that waited for a handshake */
    uint64_t retried_opens; /* streams transparently retried on a fresh session */
} anytls_pool_stats;

/* Reads the counters of `proxy` (the fields that fit in stats->size).
 * Errors: INVALID_ARGUMENT, UNKNOWN_PROXY.
 * Thread safety: as anytls_pool_config_get. */
ANYTLS_API int anytls_pool_get_stats(anytls_client* client, const char* proxy,
                                     anytls_pool_stats* stats) ANYTLS_NOEXCEPT;

/* Closes every idle session of `proxy` (after a network change, say); busy sessions finish
 * their stream first. The pool then rebuilds ensure-idle-session sessions at its next cycle.
 * Errors: INVALID_ARGUMENT, UNKNOWN_PROXY.
 * Thread safety: as anytls_pool_config_get. */
ANYTLS_API int anytls_pool_reset(anytls_client* client, const char* proxy) ANYTLS_NOEXCEPT;

/* ---- Streams --------------------------------------------------------------------------- */

typedef struct anytls_stream anytls_stream;

/* A timeout_ms value for anytls_stream_read / anytls_stream_write: wait without limit. */
#define ANYTLS_NO_TIMEOUT (-1)

/* Opens a proxied TCP connection to host:port (a name or an IP literal, resolved by the
 * server) through `proxy`: on the newest idle session of its pool, or on a new session.
 * It returns as soon as the stream's SYN and target address are queued, without waiting for
 * the server's SYNACK, so that the first write leaves at once and a warm stream costs one
 * round trip to its first byte. A target the server then cannot reach ends the stream: the
 * next read or write returns TARGET_REFUSED with the server's text in anytls_last_error().
 * timeout_ms (> 0, else INVALID_ARGUMENT) bounds the open (a new session's connect, TLS
 * handshake and authentication included). Errors: INVALID_ARGUMENT, UNKNOWN_PROXY, TIMEOUT,
 * CONNECT, TLS, TLS_VERIFY, AUTH, PROTOCOL, CLOSED, IO. On failure *out is set to NULL.
 * Thread safety: any thread, concurrently with any call on the same client except
 * anytls_client_close. */
ANYTLS_API int anytls_stream_open(anytls_client* client, const char* proxy, const char* host,
                                  uint16_t port, int timeout_ms,
                                  anytls_stream** out) ANYTLS_NOEXCEPT;

/* anytls_stream_open_ex flags. */
enum {
    /* Return only once the server has connected the target (its SYNACK): a refusal is then
     * the open's error, TARGET_REFUSED. Costs one round trip more than the default. */
    ANYTLS_OPEN_WAIT_CONNECTED = 1u
};

/* anytls_stream_open with flags (0 or ANYTLS_OPEN_WAIT_CONNECTED; other bits are
 * INVALID_ARGUMENT). With ANYTLS_OPEN_WAIT_CONNECTED, timeout_ms bounds the SYNACK too and
 * TARGET_REFUSED is one of the open's errors. Since ABI node ANYTLS_1.1.
 * Thread safety: as anytls_stream_open. */
ANYTLS_API int anytls_stream_open_ex(anytls_client* client, const char* proxy, const char* host,
                                     uint16_t port, int timeout_ms, unsigned flags,
                                     anytls_stream** out) ANYTLS_NOEXCEPT;

/* Reads up to len (> 0) bytes. Returns 0 with *n_read > 0 for data, 0 with *n_read = 0 at the
 * end of the stream (the target closed), or an error: TIMEOUT (no data within timeout_ms;
 * the stream stays usable), CLOSED, ... timeout_ms > 0, or ANYTLS_NO_TIMEOUT; 0 is
 * INVALID_ARGUMENT. *n_read is set to 0 on error.
 * Thread safety: one reader and one writer may use a stream at once from different threads;
 * not concurrently with anytls_stream_close of the same stream. */
ANYTLS_API int anytls_stream_read(anytls_stream* stream, void* buf, size_t len, int timeout_ms,
                                  size_t* n_read) ANYTLS_NOEXCEPT;

/* Writes all len bytes (len 0 does nothing; buf may then be NULL), waiting for buffer room
 * at most timeout_ms in all (> 0, or ANYTLS_NO_TIMEOUT). On TIMEOUT or another error, a
 * prefix of the data may have been sent.
 * Thread safety: as anytls_stream_read. */
ANYTLS_API int anytls_stream_write(anytls_stream* stream, const void* buf, size_t len,
                                   int timeout_ms) ANYTLS_NOEXCEPT;

/* Ends the stream (FIN) and frees the handle; the session goes back to its pool. NULL is
 * accepted. Returns 0, or the error met while closing (the handle is freed in every case).
 * Handles of a closed client must still be freed with this function.
 * Thread safety: any thread, once per stream, after every other call on the stream has
 * returned. */
ANYTLS_API int anytls_stream_close(anytls_stream* stream) ANYTLS_NOEXCEPT;

/* Ends the stream at once without freeing the handle: every call blocked on it in another
 * thread (a read, or a write to a target that never reads) returns ANYTLS_E_CLOSED, and later
 * calls do too; free it with anytls_stream_close once they have returned. A write may have been
 * cut mid-frame, so the stream's session closes rather than going back to its pool.
 * Thread safety: any thread, any time before anytls_stream_close. Since ANYTLS_1.2. */
ANYTLS_API int anytls_stream_shutdown(anytls_stream* stream) ANYTLS_NOEXCEPT;

/* Opens a stream as anytls_stream_open does and hands it out as a file descriptor: one end
 * of a connected AF_UNIX stream socket pair (non-blocking, close-on-exec), whose other end the
 * library relays to the stream. Use it with poll/epoll, Go's poller or asyncio. The caller
 * owns *fd_out and closes it with close(2), which ends the stream. Reading 0 bytes means the
 * target closed. AnyTLS has no half-close: shutdown(fd, SHUT_WR) ends the whole stream, and
 * bytes still on their way back are lost. On failure *fd_out is set to -1.
 * Thread safety: as anytls_stream_open. */
ANYTLS_API int anytls_stream_open_fd(anytls_client* client, const char* proxy, const char* host,
                                     uint16_t port, int timeout_ms, int* fd_out) ANYTLS_NOEXCEPT;

/* Why the stream behind an fd stream (anytls_stream_open_fd, anytls_stream_into_fd) ended,
 * for a caller whose read returned 0 or failed: a socket carries no error, so a target the
 * server refused, or a session that failed, would otherwise read as a clean end. Returns 0
 * (ANYTLS_OK) when the stream is open, ended cleanly or is unknown; else its error code
 * (TARGET_REFUSED, CLOSED, IO, ...) with the text in anytls_last_error(). Call it before
 * closing fd. Since ABI node ANYTLS_1.1.
 * Thread safety: any thread. */
ANYTLS_API int anytls_stream_fd_error(int fd) ANYTLS_NOEXCEPT;

/* Hands an open stream over to a file descriptor, as anytls_stream_open_fd would have: one
 * end of a connected AF_UNIX stream socket pair (non-blocking, close-on-exec) that the
 * library relays to the stream; the caller owns and closes it. The stream handle is freed in
 * every case (on success and on failure), as by anytls_stream_close; with a NULL fd_out it is
 * left untouched and ANYTLS_E_INVALID_ARGUMENT is returned.
 * Thread safety: any thread; not concurrently with any other call on the same stream. */
ANYTLS_API int anytls_stream_into_fd(anytls_stream* stream, int* fd_out) ANYTLS_NOEXCEPT;

/* ---- Pending opens (since ANYTLS_1.3) ---------------------------------------------------- */

/* An open that runs in the library while the caller's own event loop waits on a file
 * descriptor (asyncio, libuv, a poll loop) instead of a blocked thread, and that the caller
 * can cancel (docs/C-API.md, "Pending opens"). */
typedef struct anytls_open anytls_open;

/* Starts opening a stream as anytls_stream_open_fd does, and returns at once with *out, the
 * pending open. Argument errors (INVALID_ARGUMENT, UNKNOWN_PROXY, CLOSED) are returned here;
 * the open's own errors (CONNECT, TLS, AUTH, TIMEOUT, ...) come from anytls_open_result.
 * timeout_ms > 0 bounds the whole open. Free *out with anytls_open_free.
 * Thread safety: as anytls_stream_open. */
ANYTLS_API int anytls_open_start(anytls_client* client, const char* proxy, const char* host,
                                 uint16_t port, int timeout_ms, anytls_open** out) ANYTLS_NOEXCEPT;

/* A file descriptor that becomes readable, and stays readable, once the open has ended: watch
 * it for POLLIN, never read or close it (anytls_open_free closes it). Returns the fd (>= 0),
 * or INVALID_ARGUMENT for a NULL handle.
 * Thread safety: any thread. */
ANYTLS_API int anytls_open_notify_fd(const anytls_open* open) ANYTLS_NOEXCEPT;

/* The outcome of the open: IN_PROGRESS while it runs (*fd_out = -1); then 0 with *fd_out the
 * stream as a file descriptor, exactly as from anytls_stream_open_fd (the caller owns it), or
 * the open's error: CANCELLED after anytls_open_cancel, CLOSED when the client closed, ...
 * Once taken, the outcome is gone: a second call is INVALID_ARGUMENT.
 * Thread safety: any thread, one call at a time per pending open. */
ANYTLS_API int anytls_open_result(anytls_open* open, int* fd_out) ANYTLS_NOEXCEPT;

/* Stops the open wherever it is (connect, TLS handshake, authentication, a session creation it
 * waits for): it ends soon after with CANCELLED, and the notify fd turns readable. An open that
 * ended already keeps its outcome. Idempotent; returns 0 (or INVALID_ARGUMENT for NULL).
 * Thread safety: any thread, any time before anytls_open_free. */
ANYTLS_API int anytls_open_cancel(anytls_open* open) ANYTLS_NOEXCEPT;

/* Cancels the open if it still runs, closes the notify fd and a stream fd nobody took, and
 * frees the handle. NULL is accepted. It does not wait for the open to end. Pending opens of a
 * closed client must still be freed with this function.
 * Thread safety: any thread, once, after every other call on the handle has returned. */
ANYTLS_API void anytls_open_free(anytls_open* open) ANYTLS_NOEXCEPT;

/* ---- Embedded server ------------------------------------------------------------------- */

typedef struct anytls_server anytls_server;

/* Starts an AnyTLS server on a thread of its own, from a minimal TOML text (for tests and
 * demos; docs/C-API.md lists the keys):
 *
 *   listen = "127.0.0.1:0"             numeric host:port; port 0 picks a free port
 *   certificate = "server.pem"         PEM chain file, with private-key = "server.key"
 *   certificate-pem = "..."            or the PEM text, with private-key-pem = "..."
 *   padding-scheme = "stop=8\n0=30-30" optional; pushed to clients with another scheme
 *   synack = "after-connect"           or "immediate"
 *   alpn = ["h2"]                      optional
 *   fallback = "127.0.0.1:80"          optional: where failed authentications are relayed
 *   [[users]]                          at least one
 *   name = "alice"
 *   password = "secret"
 *
 * Errors: INVALID_ARGUMENT, CONFIG (the message names the key), IO (cannot bind), TLS /
 * CONFIG for unusable certificates. On failure *out is set to NULL.
 * Thread safety: any thread. */
ANYTLS_API int anytls_server_start(const char* toml, anytls_server** out) ANYTLS_NOEXCEPT;

/* The bound port (useful after listen port 0).
 * Thread safety: any thread, while the server is not being stopped. */
ANYTLS_API int anytls_server_port(anytls_server* server, uint16_t* port) ANYTLS_NOEXCEPT;

/* Stops accepting, closes every session, stops the server's thread and frees the handle.
 * NULL is accepted. Returns 0 (or ANYTLS_E_INTERNAL; the server is freed in every case).
 * Thread safety: any thread, once per server. */
ANYTLS_API int anytls_server_stop(anytls_server* server) ANYTLS_NOEXCEPT;

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* ANYTLS_ANYTLS_H */
