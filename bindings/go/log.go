package anytls

/*
#include <stdint.h>
#include "anytls_go.h"

extern void anytlsGoLog(int level, char *message, uintptr_t user);

static void anytls_go_log_trampoline(int level, const char *message, void *user) {
	anytlsGoLog(level, (char *)message, (uintptr_t)user);
}

// As the wrappers of anytls_go.h: the message is copied in the same cgo call.
static int anytls_go_set_log(uintptr_t handle, int level, char *msg, size_t len) {
	if (handle == 0) return ANYTLS_GO_KEEP(anytls_set_log(NULL, NULL, level));
	return ANYTLS_GO_KEEP(anytls_set_log(anytls_go_log_trampoline, (void *)handle, level));
}
*/
import "C"

import (
	"runtime/cgo"
	"sync"
)

// LogLevel is a libanytls log level.
type LogLevel int

// The levels of anytls.h.
const (
	LogError LogLevel = 0
	LogWarn  LogLevel = 1
	LogInfo  LogLevel = 2
	LogDebug LogLevel = 3
	LogTrace LogLevel = 4 // only in builds with -Dtrace_log=true
)

func (l LogLevel) String() string {
	switch l {
	case LogError:
		return "error"
	case LogWarn:
		return "warn"
	case LogInfo:
		return "info"
	case LogDebug:
		return "debug"
	case LogTrace:
		return "trace"
	}
	return "level(" + itoa(int(l)) + ")"
}

// LogFunc receives one log line of the library. It is called from the library's threads
// and from threads calling into the library, never concurrently with itself. It must return
// quickly and must not call into this package (other than Version).
type LogFunc func(level LogLevel, message string)

var (
	logMu     sync.Mutex
	logHandle cgo.Handle
)

// SetLogger sends the library's log lines (process-wide) at level and more severe to fn, or
// to stderr when fn is nil (the default). The level takes precedence over the log-level of
// client configurations.
func SetLogger(fn LogFunc, level LogLevel) error {
	logMu.Lock()
	defer logMu.Unlock()
	var h cgo.Handle
	if fn != nil {
		h = cgo.NewHandle(fn)
	}
	err := keep("set_log", func(m *C.char, n C.size_t) C.int {
		return C.anytls_go_set_log(C.uintptr_t(h), C.int(level), m, n)
	})
	if err != nil {
		if h != 0 {
			h.Delete()
		}
		return err
	}
	// The library never calls the previous callback again once anytls_set_log returned.
	if logHandle != 0 {
		logHandle.Delete()
	}
	logHandle = h
	return nil
}
