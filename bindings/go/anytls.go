// Package anytls is a Go binding of libanytls (the C ABI of <anytls/anytls.h>,
// libanytls.so.1): an AnyTLS proxy client with a managed pool of warm sessions, and an
// embeddable AnyTLS server for tests and examples.
//
// Proxied connections are handed to Go as ordinary file descriptors, wrapped with
// net.FileConn: reads, writes and deadlines go through Go's network poller, so no OS thread
// is parked per connection. The open itself is a pending open of the C API (anytls_open_*):
// the dial waits on its notify fd through the poller too, and a cancelled context cancels
// the open in the library.
//
// The package uses cgo with `#cgo pkg-config: anytls`; see README.md for building against
// an uninstalled build tree.
package anytls

/*
#cgo pkg-config: anytls
#include <poll.h>
#include <stdlib.h>
#include "anytls_go.h"

// 1 when fd is readable now, without waiting.
static int anytls_go_readable(int fd) {
    struct pollfd p = {fd, POLLIN, 0};
    return poll(&p, 1, 0) == 1;
}
*/
import "C"

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// Version is the release of the loaded library ("0.1.0").
func Version() string { return C.GoString(C.anytls_version()) }

// ABIVersion is the ABI generation of the loaded library (1 for libanytls.so.1).
func ABIVersion() int { return int(C.anytls_abi_version()) }

// Code is a libanytls error code (ANYTLS_E_*). Each code is itself an error, so
// errors.Is(err, anytls.ErrTargetRefused) tests the code of any error of this package.
type Code int

// The pinned error codes of anytls.h.
const (
	ErrInvalidArgument Code = -1  // NULL handle, empty name, bad timeout, ...
	ErrConfig          Code = -2  // configuration rejected; the message names the key
	ErrUnknownProxy    Code = -3  // no [[proxies]] entry with that name
	ErrClosed          Code = -4  // the stream, session or client is closed
	ErrTimeout         Code = -5  // the wait ran out
	ErrConnect         Code = -6  // the proxy server could not be reached
	ErrTLS             Code = -7  // TLS handshake or record failure
	ErrTLSVerify       Code = -8  // the server certificate failed verification
	ErrAuth            Code = -9  // the server refused the password
	ErrTargetRefused   Code = -10 // the server could not reach the target (SYNACK text)
	ErrProtocol        Code = -11 // AnyTLS protocol violation by the peer
	ErrIO              Code = -12 // another system error
	ErrNoMemory        Code = -13 // allocation failed
	ErrInternal        Code = -14 // a bug in the library
	ErrInProgress      Code = -15 // a pending open has not ended yet
	ErrCancelled       Code = -16 // the open was cancelled
)

// Error returns the library's static description of the code ("timed out").
func (c Code) Error() string { return "anytls: " + C.GoString(C.anytls_strerror(C.int(c))) }

// Timeout reports whether the code is ErrTimeout (net.Error).
func (c Code) Timeout() bool { return c == ErrTimeout }

// Temporary is Timeout (net.Error; deprecated there).
func (c Code) Temporary() bool { return c == ErrTimeout }

// Error is a failed libanytls call: the code, the operation, and the library's message
// naming the cause (anytls_last_error: a config key and line, the server's SYNACK text, ...).
type Error struct {
	Code    Code
	Op      string // the C function, without the anytls_ prefix ("stream_open_fd")
	Message string // anytls_last_error() of the failing call; may be empty
}

func (e *Error) Error() string {
	s := "anytls: " + e.Op + ": " + C.GoString(C.anytls_strerror(C.int(e.Code)))
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Unwrap returns the Code, for errors.Is / errors.As.
func (e *Error) Unwrap() error { return e.Code }

// Timeout reports whether the call timed out (net.Error).
func (e *Error) Timeout() bool { return e.Code == ErrTimeout }

// Temporary is Timeout (net.Error; deprecated there).
func (e *Error) Temporary() bool { return e.Code == ErrTimeout }

// keep runs one C call through its wrapper of anytls_go.h, which copies the calling thread's
// message into msg in the same cgo call when it fails: no OS thread is locked, although
// anytls_last_error is per thread and a goroutine may move between threads between calls.
func keep(op string, f func(msg *C.char, n C.size_t) C.int) error {
	var buf [2048]byte
	msg := (*C.char)(unsafe.Pointer(&buf[0]))
	rc := f(msg, C.size_t(len(buf)))
	if rc == 0 {
		return nil
	}
	return &Error{Code: Code(rc), Op: op, Message: C.GoString(msg)}
}

// fromHandle is the Error of a failed call (rc) on a handle that one goroutine uses at a
// time (a pending open, a starting server), read from the handle's own record
// (anytls_open_last_error, anytls_server_last_error), which any OS thread may read.
func fromHandle(op string, rc C.int, read func(code *C.int, buf *C.char, n C.size_t) C.size_t) error {
	if rc == 0 {
		return nil
	}
	buf := make([]byte, 512)
	var code C.int
	n := int(read(&code, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf))))
	if n >= len(buf) {
		buf = make([]byte, n+1)
		n = int(read(&code, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf))))
	}
	message := ""
	if code == rc && n < len(buf) {
		message = string(buf[:n])
	}
	return &Error{Code: Code(rc), Op: op, Message: message}
}

// Options tune the Go side of a Client.
type Options struct {
	// MaxConcurrentDials bounds the stream opens in flight at once. Further dials wait in
	// Go and still honour their context. Default 16.
	MaxConcurrentDials int
	// DialTimeout bounds an open whose context has no deadline. Default 30s.
	DialTimeout time.Duration
}

func (o *Options) normalized() Options {
	var r Options
	if o != nil {
		r = *o
	}
	if r.MaxConcurrentDials <= 0 {
		r.MaxConcurrentDials = 16
	}
	if r.DialTimeout <= 0 {
		r.DialTimeout = 30 * time.Second
	}
	return r
}

// Client is an open libanytls client: the proxies of one TOML configuration, their session
// pools and the reactor thread they run on. Its methods are safe for concurrent use.
type Client struct {
	mu     sync.RWMutex // held shared by every call, exclusively by Close
	c      *C.anytls_client
	closed bool
	opts   Options
	slots  chan struct{} // dial semaphore
}

// Open opens a client from TOML text (docs/CONFIG.md: [[proxies]] and the
// [experimental.anytls-session-management] pool keys).
func Open(configTOML string) (*Client, error) { return OpenWithOptions(configTOML, nil) }

// OpenFile opens a client from a TOML file.
func OpenFile(path string) (*Client, error) { return OpenFileWithOptions(path, nil) }

// OpenWithOptions is Open with Go-side options (nil: the defaults).
func OpenWithOptions(configTOML string, opts *Options) (*Client, error) {
	text := C.CString(configTOML)
	defer C.free(unsafe.Pointer(text))
	var h *C.anytls_client
	if err := keep("client_open", func(m *C.char, n C.size_t) C.int {
		return C.anytls_go_client_open(text, &h, m, n)
	}); err != nil {
		return nil, err
	}
	return newClient(h, opts), nil
}

// OpenFileWithOptions is OpenFile with Go-side options (nil: the defaults).
func OpenFileWithOptions(path string, opts *Options) (*Client, error) {
	p := C.CString(path)
	defer C.free(unsafe.Pointer(p))
	var h *C.anytls_client
	if err := keep("client_open_file", func(m *C.char, n C.size_t) C.int {
		return C.anytls_go_client_open_file(p, &h, m, n)
	}); err != nil {
		return nil, err
	}
	return newClient(h, opts), nil
}

func newClient(h *C.anytls_client, opts *Options) *Client {
	o := opts.normalized()
	c := &Client{c: h, opts: o, slots: make(chan struct{}, o.MaxConcurrentDials)}
	runtime.SetFinalizer(c, func(c *Client) { _ = c.Close() })
	return c
}

// Close closes every stream and session of the client and stops its thread. Connections
// handed out by Dial see the end of the stream, and dials in progress fail with ErrClosed.
// Calls after Close return ErrClosed. Closing twice returns nil.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	runtime.SetFinalizer(c, nil)
	h := c.c
	c.c = nil
	return keep("client_close", func(m *C.char, n C.size_t) C.int { return C.anytls_go_client_close(h, m, n) })
}

// use runs f, a wrapper of anytls_go.h, with the live handle, or fails with ErrClosed.
func (c *Client) use(op string, f func(h *C.anytls_client, msg *C.char, n C.size_t) C.int) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return &Error{Code: ErrClosed, Op: op, Message: "client closed"}
	}
	return keep(op, func(msg *C.char, n C.size_t) C.int { return f(c.c, msg, n) })
}

// PoolConfig is the live pool configuration of one proxy (docs/CONFIG.md has every key).
// Durations travel as whole milliseconds (rounded up).
type PoolConfig struct {
	EnsureIdleSession           int64         // ensure-idle-session
	EnsureIdleSessionCreateRate int64         // ensure-idle-session-create-rate (0 = no limit)
	MinIdleSession              int64         // min-idle-session
	MinIdleSessionForAge        int64         // min-idle-session-for-age
	MaxConnectionLifetime       time.Duration // max-connection-lifetime (0 = no rotation)
	ConnectionLifetimeJitter    time.Duration // connection-lifetime-jitter
	IdleSessionTimeout          time.Duration // idle-session-timeout (> 0)
	IdleSessionCheckInterval    time.Duration // idle-session-check-interval (> 0)
	HeartbeatInterval           time.Duration // heartbeat-interval (0 = off)
	HeartbeatTimeout            time.Duration // heartbeat-timeout (> 0)
	TCPKeepAlive                time.Duration // tcp-keepalive (0 = off)
	SessionReuse                bool          // session-reuse
	CreationBackoffMax          time.Duration // creation-backoff-max (0 = no backoff)
}

func msToDuration(ms C.int64_t) time.Duration { return time.Duration(ms) * time.Millisecond }

func durationToMS(d time.Duration) C.int64_t {
	if d <= 0 {
		return C.int64_t(d / time.Millisecond)
	}
	return C.int64_t((d + time.Millisecond - 1) / time.Millisecond)
}

// PoolConfig reads the pool configuration of proxy.
func (c *Client) PoolConfig(proxy string) (PoolConfig, error) {
	name := C.CString(proxy)
	defer C.free(unsafe.Pointer(name))
	var cfg C.anytls_pool_config
	cfg.size = C.size_t(unsafe.Sizeof(cfg))
	if err := c.use("pool_config_get", func(h *C.anytls_client, m *C.char, n C.size_t) C.int {
		return C.anytls_go_pool_config_get(h, name, &cfg, m, n)
	}); err != nil {
		return PoolConfig{}, err
	}
	return PoolConfig{
		EnsureIdleSession:           int64(cfg.ensure_idle_session),
		EnsureIdleSessionCreateRate: int64(cfg.ensure_idle_session_create_rate),
		MinIdleSession:              int64(cfg.min_idle_session),
		MinIdleSessionForAge:        int64(cfg.min_idle_session_for_age),
		MaxConnectionLifetime:       msToDuration(cfg.max_connection_lifetime_ms),
		ConnectionLifetimeJitter:    msToDuration(cfg.connection_lifetime_jitter_ms),
		IdleSessionTimeout:          msToDuration(cfg.idle_session_timeout_ms),
		IdleSessionCheckInterval:    msToDuration(cfg.idle_session_check_interval_ms),
		HeartbeatInterval:           msToDuration(cfg.heartbeat_interval_ms),
		HeartbeatTimeout:            msToDuration(cfg.heartbeat_timeout_ms),
		TCPKeepAlive:                msToDuration(cfg.tcp_keepalive_ms),
		SessionReuse:                cfg.session_reuse != 0,
		CreationBackoffMax:          msToDuration(cfg.creation_backoff_max_ms),
	}, nil
}

// SetPoolConfig replaces the pool configuration of proxy. The whole result is validated
// like the configuration file; nothing is applied if a value is refused (ErrConfig, the
// message names the key). Read, modify, write: start from PoolConfig(proxy).
func (c *Client) SetPoolConfig(proxy string, p PoolConfig) error {
	name := C.CString(proxy)
	defer C.free(unsafe.Pointer(name))
	var cfg C.anytls_pool_config
	cfg.size = C.size_t(unsafe.Sizeof(cfg))
	cfg.ensure_idle_session = C.int64_t(p.EnsureIdleSession)
	cfg.ensure_idle_session_create_rate = C.int64_t(p.EnsureIdleSessionCreateRate)
	cfg.min_idle_session = C.int64_t(p.MinIdleSession)
	cfg.min_idle_session_for_age = C.int64_t(p.MinIdleSessionForAge)
	cfg.max_connection_lifetime_ms = durationToMS(p.MaxConnectionLifetime)
	cfg.connection_lifetime_jitter_ms = durationToMS(p.ConnectionLifetimeJitter)
	cfg.idle_session_timeout_ms = durationToMS(p.IdleSessionTimeout)
	cfg.idle_session_check_interval_ms = durationToMS(p.IdleSessionCheckInterval)
	cfg.heartbeat_interval_ms = durationToMS(p.HeartbeatInterval)
	cfg.heartbeat_timeout_ms = durationToMS(p.HeartbeatTimeout)
	cfg.tcp_keepalive_ms = durationToMS(p.TCPKeepAlive)
	if p.SessionReuse {
		cfg.session_reuse = 1
	}
	cfg.creation_backoff_max_ms = durationToMS(p.CreationBackoffMax)
	return c.use("pool_config_set", func(h *C.anytls_client, m *C.char, n C.size_t) C.int {
		return C.anytls_go_pool_config_set(h, name, &cfg, m, n)
	})
}

// PoolStats are the counters of one proxy's pool.
type PoolStats struct {
	Idle             uint64 // sessions now idle
	Busy             uint64 // sessions now carrying a stream
	Creating         uint64 // handshakes in flight
	CreatedTotal     uint64 // sessions created successfully since the client opened
	CreationFailures uint64
	ClosedIdle       uint64 // closed by idle cleanup
	ClosedAge        uint64 // closed past their lifetime
	ClosedHeartbeat  uint64 // closed for not answering a heartbeat
	ClosedError      uint64 // closed because the connection failed
	ClosedReset      uint64 // closed by Reset
	ClosedNoReuse    uint64 // closed at stream end with session-reuse = false
	StreamsOpened    uint64
	WarmOpens        uint64 // streams that got an idle session
	ColdOpens        uint64 // streams that waited for a handshake
	RetriedOpens     uint64 // streams transparently retried on a fresh session
}

// Stats reads the counters of proxy's pool.
func (c *Client) Stats(proxy string) (PoolStats, error) {
	name := C.CString(proxy)
	defer C.free(unsafe.Pointer(name))
	var st C.anytls_pool_stats
	st.size = C.size_t(unsafe.Sizeof(st))
	if err := c.use("pool_get_stats", func(h *C.anytls_client, m *C.char, n C.size_t) C.int {
		return C.anytls_go_pool_get_stats(h, name, &st, m, n)
	}); err != nil {
		return PoolStats{}, err
	}
	return PoolStats{
		Idle: uint64(st.idle), Busy: uint64(st.busy), Creating: uint64(st.creating),
		CreatedTotal: uint64(st.created_total), CreationFailures: uint64(st.creation_failures),
		ClosedIdle: uint64(st.closed_idle), ClosedAge: uint64(st.closed_age),
		ClosedHeartbeat: uint64(st.closed_heartbeat), ClosedError: uint64(st.closed_error),
		ClosedReset: uint64(st.closed_reset), ClosedNoReuse: uint64(st.closed_no_reuse),
		StreamsOpened: uint64(st.streams_opened), WarmOpens: uint64(st.warm_opens),
		ColdOpens: uint64(st.cold_opens), RetriedOpens: uint64(st.retried_opens),
	}, nil
}

// Reset closes every idle session of proxy (after a network change, say); busy sessions
// finish their stream first. The pool rebuilds ensure-idle-session sessions at its next
// cycle.
func (c *Client) Reset(proxy string) error {
	name := C.CString(proxy)
	defer C.free(unsafe.Pointer(name))
	return c.use("pool_reset", func(h *C.anytls_client, m *C.char, n C.size_t) C.int {
		return C.anytls_go_pool_reset(h, name, m, n)
	})
}

// openFD opens a stream as a file descriptor through a pending open (anytls_open_start),
// waiting for it on Go's poller; ctx's cancellation cancels the open in the library.
func (c *Client) openFD(ctx context.Context, proxy, host string, port uint16, timeoutMS int) (int, error) {
	cproxy := C.CString(proxy)
	defer C.free(unsafe.Pointer(cproxy))
	chost := C.CString(host)
	defer C.free(unsafe.Pointer(chost))
	var op *C.anytls_open
	err := c.use("open_start", func(h *C.anytls_client, m *C.char, n C.size_t) C.int {
		return C.anytls_go_open_start(h, cproxy, chost, C.uint16_t(port), C.int(timeoutMS), &op, m, n)
	})
	if err != nil {
		return -1, err
	}
	// The cancel may be running when the dial ends: the handle is freed only after it.
	cancelDone := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		C.anytls_open_cancel(op)
		close(cancelDone)
	})
	defer func() {
		if !stop() {
			<-cancelDone
		}
		C.anytls_open_free(op)
	}()
	if err := waitReadable(int(C.anytls_open_notify_fd(op))); err != nil {
		return -1, err
	}
	fd := C.int(-1)
	rc := C.anytls_open_result(op, &fd)
	if err := fromHandle("open_result", rc, func(code *C.int, buf *C.char, n C.size_t) C.size_t {
		return C.anytls_open_last_error(op, code, buf, n)
	}); err != nil {
		return -1, err
	}
	return int(fd), nil
}

// waitReadable parks the goroutine on Go's poller until fd (non-blocking, never read: it
// stays readable once it is) becomes readable. fd itself stays open.
func waitReadable(fd int) error {
	dup, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, 0)
	if errno != 0 {
		return &Error{Code: ErrIO, Op: "open_wait", Message: "dup of the notify fd: " + errno.Error()}
	}
	f := os.NewFile(dup, "anytls-open") // non-blocking: registered with the poller
	defer f.Close()
	raw, err := f.SyscallConn()
	if err != nil {
		return &Error{Code: ErrIO, Op: "open_wait", Message: err.Error()}
	}
	if err := raw.Read(func(fd uintptr) bool { return C.anytls_go_readable(C.int(fd)) == 1 }); err != nil {
		return &Error{Code: ErrIO, Op: "open_wait", Message: err.Error()}
	}
	return nil
}

// streamFDError asks the library why the stream behind an fd stream ended (nil: it did not,
// or it ended cleanly).
func streamFDError(fd int) error {
	return keep("stream_fd_error", func(m *C.char, n C.size_t) C.int {
		return C.anytls_go_stream_fd_error(C.int(fd), m, n)
	})
}

func itoa(i int) string { return strconv.Itoa(i) }
