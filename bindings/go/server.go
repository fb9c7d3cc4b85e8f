package anytls

/*
#include <stdlib.h>
#include "anytls_go.h"
*/
import "C"

import (
	"runtime"
	"sync"
	"unsafe"
)

// Server is an embedded AnyTLS server running on a thread of its own (for tests and
// examples; docs/C-API.md lists its TOML keys).
type Server struct {
	mu   sync.Mutex
	s    *C.anytls_server
	port int
}

// StartServer starts an AnyTLS server from the TOML of `anytls server` (docs/SERVER.md, every
// key, self-signed = true included; listen defaults to "127.0.0.1:0"):
//
//	listen = "127.0.0.1:0"
//	certificate = "server.pem"          # or certificate-pem = '''...'''
//	private-key = "server.key"          # or private-key-pem = '''...'''
//	[[users]]
//	name = "alice"
//	password = "secret"
func StartServer(configTOML string) (*Server, error) {
	text := C.CString(configTOML)
	defer C.free(unsafe.Pointer(text))
	var h *C.anytls_server
	if err := keep("server_start", func(m *C.char, n C.size_t) C.int {
		return C.anytls_go_server_start(text, &h, m, n)
	}); err != nil {
		return nil, err
	}
	var port C.uint16_t
	rc := C.anytls_server_port(h, &port)
	if err := fromHandle("server_port", rc, func(code *C.int, buf *C.char, n C.size_t) C.size_t {
		return C.anytls_server_last_error(h, code, buf, n)
	}); err != nil {
		C.anytls_server_stop(h)
		return nil, err
	}
	s := &Server{s: h, port: int(port)}
	runtime.SetFinalizer(s, func(s *Server) { _ = s.Close() })
	return s, nil
}

// Port is the bound port (useful after listen port 0).
func (s *Server) Port() int { return s.port }

// Close stops accepting, closes every session and stops the server's thread. Closing twice
// returns nil.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.s == nil {
		return nil
	}
	h := s.s
	s.s = nil
	runtime.SetFinalizer(s, nil)
	return keep("server_stop", func(m *C.char, n C.size_t) C.int { return C.anytls_go_server_stop(h, m, n) })
}
