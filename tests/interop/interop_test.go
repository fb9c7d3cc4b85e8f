// Interoperability of libanytls with the Go reference implementation (sing-anytls).
//
// The reference is github.com/anytls/sing-anytls v0.0.8 (pinned in go.mod / go.sum). Our side
// is the `peer` program (tests/interop/peer.cpp), found through ANYTLS_PEER; tests/interop/run
// sets it and skips (exit 77) when Go or the module is unavailable. Everything listens on
// 127.0.0.1 with ports chosen by the kernel, and every step has a deadline.
//
//	(a) our client (SessionPool) against their server (sing-anytls Service): sequential and
//	    concurrent echo streams, session reuse, and a refused target's SYNACK text;
//	(b) their client against our server (peer server): sequential and concurrent echo
//	    streams through the reference client's own session reuse, checked on both sides;
//	(c) their server pushes a custom padding scheme and our client adopts it; and the
//	    reverse: our server pushes one and their client adopts it;
//	(d) UDP-over-TCP: our client against their server, whose handler reads the UoT request
//	    header before the SYNACK as sing-box does (relayUDP); and, in socks_udp_test.go, SOCKS5
//	    UDP ASSOCIATE through our `anytls socks` CLI against their server and against ours.
package interop

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/md5"
	crand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	anytls "github.com/anytls/sing-anytls"
	"github.com/anytls/sing-anytls/padding"
	"github.com/sagernet/sing/common/buf"
	"github.com/sagernet/sing/common/logger"
	M "github.com/sagernet/sing/common/metadata"
	N "github.com/sagernet/sing/common/network"
	"github.com/sagernet/sing/common/uot"
)

const (
	password     = "interop test password"
	stepTimeout  = 10 * time.Second // one echo, one dial, one handshake
	peerTimeout  = 180 * time.Second
	maxEchoSize  = 64 * 1024
	maxFrameData = 16 * 1024 // the reference Stream.Write sends one frame per call: stay below 65535

	// AnyTLS commands (docs/DESIGN.md, "Frames") seen on the reference server's writes.
	cmdUpdatePaddingScheme = 6
)

// A scheme unlike the default in every line, so adopting it changes every padded write.
var customScheme = []byte("stop=5\n0=40-40\n1=200-300\n2=300-600,c,700-900\n3=10-10,600-800\n4=100-200")

func md5Hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

func peerPath(t *testing.T) string {
	return binaryFromEnv(t, "ANYTLS_PEER", "tests/interop/peer")
}

// binaryFromEnv is the program the environment variable names (tests/interop/run sets it):
// the test is skipped when it is unset, and fails when it names nothing.
func binaryFromEnv(t *testing.T, variable, target string) string {
	t.Helper()
	path := os.Getenv(variable)
	if path == "" {
		t.Skip(variable + " is not set: build " + target + " (ninja -C build " + target + ") and point " +
			variable + " at it, or use tests/interop/run")
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s=%s: %v", variable, path, err)
	}
	return path
}

// --- certificates ----------------------------------------------------------------------------

type testPKI struct {
	certFile string
	keyFile  string
	cert     tls.Certificate
	roots    *x509.CertPool
}

// A self-signed ECDSA P-256 certificate for localhost and 127.0.0.1; it is its own CA.
func newPKI(t *testing.T) *testPKI {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := crand.Int(crand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "localhost"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(crand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	dir := t.TempDir()
	p := &testPKI{certFile: filepath.Join(dir, "cert.pem"), keyFile: filepath.Join(dir, "key.pem")}
	if err := os.WriteFile(p.certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if p.cert, err = tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Fatal(err)
	}
	p.roots = x509.NewCertPool()
	p.roots.AppendCertsFromPEM(certPEM)
	return p
}

// --- echo target and a closed port -------------------------------------------------------------

// connSet closes every tracked connection at cleanup, so no goroutine outlives its test.
type connSet struct {
	mu    sync.Mutex
	conns []net.Conn
}

func (s *connSet) add(c net.Conn) {
	s.mu.Lock()
	s.conns = append(s.conns, c)
	s.mu.Unlock()
}

func (s *connSet) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
}

func startEcho(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveEach(t, ln, func(c net.Conn) { io.Copy(c, c) })
	return ln.Addr().String()
}

// serveEach accepts on ln until the test ends and runs handle for each connection on a goroutine
// of its own; the connection is closed when handle returns. At cleanup the listener and every
// connection still open are closed.
func serveEach(t *testing.T, ln net.Listener, handle func(net.Conn)) {
	var conns connSet
	t.Cleanup(func() { ln.Close(); conns.closeAll() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.add(c)
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
}

// startUDPEcho answers every datagram on 127.0.0.1 with the same bytes.
func startUDPEcho(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveUDPEcho(t, pc)
	return pc.LocalAddr().String()
}

// serveUDPEcho sends every datagram that arrives on pc back to its sender, until the test ends.
func serveUDPEcho(t *testing.T, pc net.PacketConn) {
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:n], from)
		}
	}()
}

func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// --- the reference server ---------------------------------------------------------------------

// refServer is sing-anytls' Service behind a Go TLS listener, with a handler that dials the
// target and relays, as sing-box's inbound does.
type refServer struct {
	addr                string
	paddingPushes       atomic.Int64 // UpdatePaddingScheme frames the service wrote
	streams             atomic.Int64
	mu                  sync.Mutex
	refusals            []string     // the dial errors it reported in SYNACK
	udpStreams          atomic.Int64 // UDP-over-TCP streams relayed (SYNACK sent)
	udpPerPacketStreams atomic.Int64 // of which in per-packet (not connect) mode
	udpPackets          atomic.Int64 // UDP-over-TCP packets read from clients
	udpErr              atomic.Value // the last UDP-over-TCP failure, a string
}

// frameSniffingConn counts the service's UpdatePaddingScheme frames: a server session never
// pads or buffers, so each of its Write calls is exactly one frame (session.go writeConn).
type frameSniffingConn struct {
	net.Conn
	server *refServer
}

func (c *frameSniffingConn) Write(b []byte) (int, error) {
	if len(b) >= 7 && b[0] == cmdUpdatePaddingScheme {
		c.server.paddingPushes.Add(1)
	}
	return c.Conn.Write(b)
}

func (s *refServer) NewConnectionEx(ctx context.Context, conn net.Conn, source M.Socksaddr,
	destination M.Socksaddr, onClose N.CloseHandlerFunc) {
	s.streams.Add(1)
	if destination.Fqdn == uot.MagicAddress {
		s.relayUDP(conn, onClose)
		return
	}
	target, err := net.DialTimeout("tcp", destination.String(), stepTimeout)
	if err != nil {
		s.mu.Lock()
		s.refusals = append(s.refusals, err.Error())
		s.mu.Unlock()
		if reporter, ok := conn.(N.HandshakeFailure); ok {
			reporter.HandshakeFailure(err)
		}
		conn.Close()
		if onClose != nil {
			onClose(err)
		}
		return
	}
	if reporter, ok := conn.(N.HandshakeSuccess); ok {
		if err := reporter.HandshakeSuccess(); err != nil {
			target.Close()
			conn.Close()
			return
		}
	}
	done := make(chan struct{})
	go func() {
		io.Copy(target, conn)
		target.Close()
		close(done)
	}()
	io.Copy(conn, target)
	conn.Close()
	target.Close()
	<-done
	if onClose != nil {
		onClose(nil)
	}
}

// relayUDP serves a UDP-over-TCP v2 stream in sing-box's order: its anytls inbound hands the
// stream to common/uot/router.go RouteConnectionEx, which reads the request header (uot
// ReadRequest, no deadline) before anything else; route/conn.go NewPacketConnection then opens
// the outbound UDP socket (connect mode: dial the destination; per-packet mode: listen) and
// only after that reports handshake success, which is when sing-anytls writes the SYNACK
// (session/stream.go HandshakeSuccess). A client that waits for the SYNACK before it sends the
// header therefore stalls here until its own SYNACK timeout. Per-packet names are resolved for
// each packet and the replies carry the source IP, as sing-box's ResolvePacketConn does. Only
// loopback destinations are served; anything else is dropped and recorded in udpErr.
func (s *refServer) relayUDP(conn net.Conn, onClose N.CloseHandlerFunc) {
	defer conn.Close()
	finish := func(err error) {
		if onClose != nil {
			onClose(err)
		}
	}
	fail := func(err error) { // N.CloseOnHandshakeFailure: SYNACK with the error text, then close
		s.udpErr.Store(err.Error())
		if reporter, ok := conn.(N.HandshakeFailure); ok {
			reporter.HandshakeFailure(err)
		}
		finish(err)
	}
	// No read deadline, as in sing-box: the stream ends with its session (the client's FIN or
	// SYNACK timeout, or this server's cleanup closing every connection).
	request, err := uot.ReadRequest(conn)
	if err != nil {
		fail(fmt.Errorf("UoT read request: %w", err))
		return
	}
	var target *net.UDPConn
	if request.IsConnect {
		destination, err := resolveLoopback(request.Destination)
		if err == nil {
			target, err = net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(destination))
		}
		if err != nil {
			fail(err)
			return
		}
	} else if target, err = net.ListenUDP("udp", &net.UDPAddr{}); err != nil {
		fail(err)
		return
	}
	defer target.Close()
	if reporter, ok := conn.(N.HandshakeSuccess); ok {
		if err := reporter.HandshakeSuccess(); err != nil {
			finish(err)
			return
		}
	}
	s.udpStreams.Add(1)
	if !request.IsConnect {
		s.udpPerPacketStreams.Add(1)
	}
	packets := uot.NewConn(conn, *request)
	download := make(chan struct{})
	go func() {
		defer close(download)
		data := make([]byte, 65535)
		for {
			n, source, err := target.ReadFromUDPAddrPort(data)
			if err != nil {
				return
			}
			source = netip.AddrPortFrom(source.Addr().Unmap(), source.Port())
			if _, err := packets.WriteTo(data[:n], net.UDPAddrFromAddrPort(source)); err != nil {
				return
			}
		}
	}()
	for {
		buffer := buf.NewSize(65535)
		destination, err := packets.ReadPacket(buffer)
		if err != nil {
			buffer.Release()
			break
		}
		s.udpPackets.Add(1)
		if request.IsConnect {
			_, err = target.Write(buffer.Bytes())
		} else {
			var address netip.AddrPort
			if address, err = resolveLoopback(destination); err == nil {
				_, err = target.WriteToUDPAddrPort(buffer.Bytes(), address)
			}
		}
		buffer.Release()
		if err != nil { // dropped, as UDP would; the stream goes on
			s.udpErr.Store(err.Error())
		}
	}
	target.Close()
	<-download
	finish(nil)
}

// resolveLoopback turns a destination into an address, resolving a name (first answer, as
// sing-box's ResolvePacketConn), and refuses anything but loopback.
func resolveLoopback(destination M.Socksaddr) (netip.AddrPort, error) {
	address := destination.Addr
	if destination.IsFqdn() {
		ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
		defer cancel()
		addresses, err := net.DefaultResolver.LookupNetIP(ctx, "ip", destination.Fqdn)
		if err != nil {
			return netip.AddrPort{}, err
		}
		if len(addresses) == 0 {
			return netip.AddrPort{}, fmt.Errorf("no address for %s", destination.Fqdn)
		}
		address = addresses[0]
	}
	address = address.Unmap()
	if !address.IsLoopback() {
		return netip.AddrPort{}, fmt.Errorf("destination %s is not loopback: this test sends nowhere else", destination)
	}
	return netip.AddrPortFrom(address, destination.Port), nil
}

func startRefServer(t *testing.T, pki *testPKI, scheme []byte) *refServer {
	t.Helper()
	s := &refServer{}
	service, err := anytls.NewService(anytls.ServiceConfig{
		PaddingScheme: scheme,
		Users:         []anytls.User{{Name: "interop", Password: password}},
		Handler:       s,
		Logger:        logger.NOP(),
	})
	if err != nil {
		t.Fatalf("sing-anytls NewService: %v", err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pki.cert}})
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	serveEach(t, ln, func(c net.Conn) {
		service.NewConnection(ctx, &frameSniffingConn{Conn: c, server: s}, M.SocksaddrFromNet(c.RemoteAddr()), nil)
	})
	return s
}

// --- our client (peer client) -------------------------------------------------------------

type clientReport struct {
	OK                        bool   `json:"ok"`
	Error                     string `json:"error"`
	Seed                      uint64 `json:"seed"`
	StreamsOK                 int    `json:"streams_ok"`
	SequentialOK              int    `json:"sequential_ok"`
	ConcurrentOK              int    `json:"concurrent_ok"`
	SessionsCreatedSequential int    `json:"sessions_created_sequential"`
	WarmOpensSequential       int    `json:"warm_opens_sequential"`
	SessionsCreated           int    `json:"sessions_created"`
	WarmOpens                 int    `json:"warm_opens"`
	ColdOpens                 int    `json:"cold_opens"`
	RetriedOpens              int    `json:"retried_opens"`
	CreationFailures          int    `json:"creation_failures"`
	ClosedError               int    `json:"closed_error"`
	RefusedCode               int    `json:"refused_code"`
	RefusedTargetRefused      bool   `json:"refused_target_refused"`
	RefusedError              string `json:"refused_error"`
	PaddingMD5Initial         string `json:"padding_md5_initial"`
	PaddingMD5Current         string `json:"padding_md5_current"`
	PaddingUpdates            int    `json:"padding_updates"`
	SettingsPaddingMD5        string `json:"settings_padding_md5"`
	UDPOK                     int    `json:"udp_ok"`
}

// lastJSONLine decodes the last line of out that starts with '{'.
func lastJSONLine(out string, v any) error {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], "{") {
			return json.Unmarshal([]byte(lines[i]), v)
		}
	}
	return errors.New("no JSON line in the output")
}

// runOurClient runs `peer client` and returns its report; a failed run fails the test.
func runOurClient(t *testing.T, pki *testPKI, server, target string, sequential, concurrent int,
	refused string, extra ...string) clientReport {
	t.Helper()
	args := []string{"client", "--server", server, "--password", password, "--ca", pki.certFile,
		"--sni", "localhost", "--target", target,
		"--sequential", fmt.Sprint(sequential), "--concurrent", fmt.Sprint(concurrent)}
	if refused != "" {
		args = append(args, "--refused-target", refused)
	}
	args = append(args, extra...)
	ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, peerPath(t), args...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	runErr := cmd.Run()
	t.Logf("peer %s (%v)\nstdout: %s\nstderr: %s", strings.Join(args, " "), time.Since(start).Round(time.Millisecond),
		stdout.String(), tail(stderr.String(), 4000))
	var report clientReport
	if err := lastJSONLine(stdout.String(), &report); err != nil {
		t.Fatalf("peer client: %v (exit: %v)", err, runErr)
	}
	if runErr != nil || !report.OK {
		t.Fatalf("peer client failed (exit: %v): %s", runErr, report.Error)
	}
	return report
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// (a) Our client against their server.
func TestOurClientAgainstReferenceServer(t *testing.T) {
	peerPath(t)
	pki := newPKI(t)
	echo := startEcho(t)
	server := startRefServer(t, pki, padding.DefaultPaddingScheme)
	refused := closedPort(t)

	const sequential, concurrent = 200, 20
	r := runOurClient(t, pki, server.addr, echo, sequential, concurrent, refused)

	if r.StreamsOK != sequential+concurrent {
		t.Errorf("streams ok = %d, want %d", r.StreamsOK, sequential+concurrent)
	}
	// One stream at a time on a session: each sequential stream finds the previous one's
	// session idle again, so one session carries all of them.
	if r.SessionsCreatedSequential != 1 {
		t.Errorf("%d sequential streams created %d sessions, want 1 (reused)", sequential, r.SessionsCreatedSequential)
	}
	if r.WarmOpensSequential != sequential-1 {
		t.Errorf("warm opens after the sequential phase = %d, want %d", r.WarmOpensSequential, sequential-1)
	}
	// K streams at once need K sessions: the idle one plus K-1 new ones.
	if r.SessionsCreated != concurrent {
		t.Errorf("sessions created in all = %d, want %d (1 reused + %d new for the concurrent phase)",
			r.SessionsCreated, concurrent, concurrent-1)
	}
	if r.RetriedOpens != 0 || r.CreationFailures != 0 || r.ClosedError != 0 {
		t.Errorf("retried opens %d, creation failures %d, sessions closed on error %d; want none",
			r.RetriedOpens, r.CreationFailures, r.ClosedError)
	}

	server.mu.Lock()
	refusals := append([]string(nil), server.refusals...)
	server.mu.Unlock()
	if len(refusals) != 1 {
		t.Fatalf("the reference server refused %d streams (%q), want 1", len(refusals), refusals)
	}
	if !r.RefusedTargetRefused {
		t.Errorf("refused target: code %d (%q), want errc::target_refused", r.RefusedCode, r.RefusedError)
	}
	if r.RefusedError != refusals[0] {
		t.Errorf("refused target text = %q, want the server's SYNACK text %q", r.RefusedError, refusals[0])
	}

	// The default scheme everywhere: same md5 on both sides, nothing pushed.
	defaultMD5 := md5Hex(padding.DefaultPaddingScheme)
	if r.PaddingMD5Initial != defaultMD5 || r.SettingsPaddingMD5 != defaultMD5 {
		t.Errorf("padding md5 initial %q, in Settings %q; want the reference default %q",
			r.PaddingMD5Initial, r.SettingsPaddingMD5, defaultMD5)
	}
	if pushes := server.paddingPushes.Load(); pushes != 0 || r.PaddingUpdates != 0 {
		t.Errorf("the server pushed %d schemes and our client adopted %d; want none (same default scheme)",
			pushes, r.PaddingUpdates)
	}
}

// Our UDP-over-TCP client against their server, whose handler reads the request header
// before it acknowledges the stream: the header must travel with the SYN.
func TestOurUDPOverTCPAgainstReferenceServer(t *testing.T) {
	peerPath(t)
	pki := newPKI(t)
	echo := startEcho(t)
	udpEcho := startUDPEcho(t)
	server := startRefServer(t, pki, padding.DefaultPaddingScheme)

	// A client that waited for the SYNACK first would fail here with "no SYNACK" after the
	// peer's 5 s synack timeout.
	const datagrams = 50
	r := runOurClient(t, pki, server.addr, echo, 1, 0, "", "--udp-target", udpEcho,
		"--udp-datagrams", fmt.Sprint(datagrams))
	if r.UDPOK != datagrams {
		t.Errorf("datagrams echoed intact = %d, want %d", r.UDPOK, datagrams)
	}
	if n := server.udpStreams.Load(); n != 1 {
		t.Errorf("the reference server relayed %d UDP-over-TCP streams, want 1 (last error: %v)", n, server.udpErr.Load())
	}
}

// (c) Their server pushes a custom padding scheme; our client adopts it.
func TestOurClientAdoptsReferencePaddingScheme(t *testing.T) {
	peerPath(t)
	pki := newPKI(t)
	echo := startEcho(t)
	server := startRefServer(t, pki, customScheme)

	const sequential, concurrent = 5, 5
	r := runOurClient(t, pki, server.addr, echo, sequential, concurrent, "")

	customMD5 := md5Hex(customScheme)
	if r.PaddingMD5Initial != md5Hex(padding.DefaultPaddingScheme) {
		t.Errorf("initial padding md5 = %q, want the default's", r.PaddingMD5Initial)
	}
	if r.PaddingUpdates != 1 || r.PaddingMD5Current != customMD5 {
		t.Errorf("our client adopted %d schemes, current md5 %q; want 1 and %q", r.PaddingUpdates,
			r.PaddingMD5Current, customMD5)
	}
	if r.SettingsPaddingMD5 != customMD5 {
		t.Errorf("a later session's Settings carried padding-md5 %q, want md5(custom scheme) %q",
			r.SettingsPaddingMD5, customMD5)
	}
	// Only the first session announced the old md5; every later one (the concurrent phase's
	// new sessions and the last fresh one) already matched, so the server pushed exactly once.
	if pushes := server.paddingPushes.Load(); pushes != 1 {
		t.Errorf("the reference server pushed its scheme %d times over %d sessions, want 1",
			pushes, r.SessionsCreated+1)
	}
	if r.StreamsOK != sequential+concurrent {
		t.Errorf("streams ok = %d, want %d", r.StreamsOK, sequential+concurrent)
	}
}

// --- our server (peer server) -------------------------------------------------------------

type serverReport struct {
	ConnectionsAccepted   int `json:"connections_accepted"`
	SessionsAuthenticated int `json:"sessions_authenticated"`
	AuthFailures          int `json:"auth_failures"`
	PaddingUpdatesSent    int `json:"padding_updates_sent"`
	StreamsOpened         int `json:"streams_opened"`
	AlertsSent            int `json:"alerts_sent"`
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// lineProcess is a started command whose stdout arrives line by line on lines (closed at EOF;
// then exited gets cmd.Wait's result) and whose stderr is kept for failure messages.
type lineProcess struct {
	lines  chan string
	exited chan error
	stderr *lockedBuffer
}

// startWithLines starts cmd. With keepAll, every stdout line waits for its reader; without, a
// line nobody is reading is dropped, so a process that keeps printing never blocks on a full pipe.
func startWithLines(t *testing.T, cmd *exec.Cmd, keepAll bool) lineProcess {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := lineProcess{lines: make(chan string, 16), exited: make(chan error, 1), stderr: &lockedBuffer{}}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			if keepAll {
				p.lines <- scanner.Text()
				continue
			}
			select {
			case p.lines <- scanner.Text():
			default: // nobody reads after start-up
			}
		}
		close(p.lines)
		p.exited <- cmd.Wait()
	}()
	return p
}

type ourServer struct {
	addr  string
	stop  func() serverReport
	lines chan string
}

// startOurServer runs `peer server` and waits for its "listening on" line. stop() closes its
// stdin, waits for it to exit and returns the stats it printed.
func startOurServer(t *testing.T, pki *testPKI, schemeFile string) *ourServer {
	t.Helper()
	args := []string{"server", "--listen", "127.0.0.1:0", "--password", password,
		"--cert", pki.certFile, "--key", pki.keyFile}
	if schemeFile != "" {
		args = append(args, "--padding-scheme-file", schemeFile)
	}
	cmd := exec.Command(peerPath(t), args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	proc := startWithLines(t, cmd, true)
	lines, exited, stderr := proc.lines, proc.exited, proc.stderr
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("peer server stderr: %s", tail(stderr.String(), 4000))
		}
	})

	s := &ourServer{lines: lines}
	select {
	case line, ok := <-lines:
		if !ok || !strings.HasPrefix(line, "listening on ") {
			t.Fatalf("peer server did not start (first line %q); stderr: %s", line, stderr.String())
		}
		s.addr = strings.TrimPrefix(line, "listening on ")
	case <-time.After(stepTimeout):
		t.Fatalf("peer server printed no address within %v; stderr: %s", stepTimeout, stderr.String())
	}
	s.stop = func() serverReport {
		t.Helper()
		stdin.Close()
		var out []string
		timeout := time.After(15 * time.Second)
		for done := false; !done; {
			select {
			case line, ok := <-lines:
				if !ok {
					done = true
				} else {
					out = append(out, line)
				}
			case <-timeout:
				cmd.Process.Kill()
				t.Fatalf("peer server did not exit within 15 s of stdin closing")
			}
		}
		stopped = true
		if err := <-exited; err != nil {
			t.Errorf("peer server exited with %v; stderr: %s", err, tail(stderr.String(), 4000))
		}
		var report serverReport
		if err := lastJSONLine(strings.Join(out, "\n"), &report); err != nil {
			t.Fatalf("peer server stats: %v (output %q)", err, out)
		}
		t.Logf("peer server stats: %+v", report)
		return report
	}
	return s
}

// refClient is sing-anytls' Client dialing our server; dials counts its TLS connections,
// i.e. the sessions it created.
func refClient(t *testing.T, pki *testPKI, server string, dials *atomic.Int64) *anytls.Client {
	t.Helper()
	dialer := &tls.Dialer{
		NetDialer: &net.Dialer{Timeout: stepTimeout},
		Config:    &tls.Config{RootCAs: pki.roots, ServerName: "localhost"},
	}
	client, err := anytls.NewClient(context.Background(), anytls.ClientConfig{
		Password: password,
		DialOut: func(ctx context.Context) (net.Conn, error) {
			dials.Add(1)
			ctx, cancel := context.WithTimeout(ctx, stepTimeout)
			defer cancel()
			return dialer.DialContext(ctx, "tcp", server)
		},
		Logger: logger.NOP(),
	})
	if err != nil {
		t.Fatalf("sing-anytls NewClient: %v", err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

// echoThrough writes random bytes (1..64 KiB) on conn while reading them back, and compares.
func echoThrough(conn net.Conn, rng *rand.Rand) error {
	data := make([]byte, 1+rng.IntN(maxEchoSize))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	conn.SetDeadline(time.Now().Add(stepTimeout))
	readDone := make(chan error, 1)
	go func() {
		back := make([]byte, len(data))
		if n, err := io.ReadFull(conn, back); err != nil {
			readDone <- fmt.Errorf("read %d of %d echoed bytes: %w", n, len(data), err)
		} else if !bytes.Equal(back, data) {
			readDone <- errors.New("echoed bytes differ")
		} else {
			readDone <- nil
		}
	}()
	for rest := data; len(rest) > 0; {
		n := min(len(rest), maxFrameData)
		if _, err := conn.Write(rest[:n]); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		rest = rest[n:]
	}
	return <-readDone
}

// runReferenceClient: `sequential` streams one after another, then `concurrent` at once (each
// held open until all have echoed), through one sing-anytls Client.
func runReferenceClient(t *testing.T, client *anytls.Client, target string, sequential, concurrent int,
	dials *atomic.Int64) (sequentialDials int64) {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	t.Logf("random seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	destination := M.ParseSocksaddr(target)

	for i := 0; i < sequential; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
		conn, err := client.CreateProxy(ctx, destination)
		cancel()
		if err != nil {
			t.Fatalf("sequential stream %d: CreateProxy: %v", i, err)
		}
		err = echoThrough(conn, rng)
		conn.Close()
		if err != nil {
			t.Fatalf("sequential stream %d: %v", i, err)
		}
	}
	sequentialDials = dials.Load()

	var echoed, finished sync.WaitGroup
	echoed.Add(concurrent)
	allEchoed := make(chan struct{})
	errs := make(chan error, concurrent)
	for i := 0; i < concurrent; i++ {
		finished.Add(1)
		streamRng := rand.New(rand.NewPCG(seed, uint64(i)+2))
		go func(index int) {
			defer finished.Done()
			ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
			conn, err := client.CreateProxy(ctx, destination)
			cancel()
			if err != nil {
				echoed.Done()
				errs <- fmt.Errorf("concurrent stream %d: CreateProxy: %w", index, err)
				return
			}
			defer conn.Close()
			err = echoThrough(conn, streamRng)
			echoed.Done()
			if err != nil {
				errs <- fmt.Errorf("concurrent stream %d: %w", index, err)
				return
			}
			select { // hold the stream so all of them are open at once
			case <-allEchoed:
			case <-time.After(2 * stepTimeout):
			}
		}(i)
	}
	echoed.Wait()
	close(allEchoed)
	finished.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	return sequentialDials
}

// (b) Their client against our server.
func TestReferenceClientAgainstOurServer(t *testing.T) {
	peerPath(t)
	pki := newPKI(t)
	echo := startEcho(t)
	server := startOurServer(t, pki, "")

	var dials atomic.Int64
	client := refClient(t, pki, server.addr, &dials)
	const sequential, concurrent = 200, 20
	sequentialDials := runReferenceClient(t, client, echo, sequential, concurrent, &dials)
	client.Close()
	if t.Failed() {
		return
	}

	// The reference client puts a session back in its idle list when the stream closes and
	// takes the newest idle one for the next stream: one session for the sequential phase.
	if sequentialDials != 1 {
		t.Errorf("the reference client created %d sessions for %d sequential streams, want 1", sequentialDials, sequential)
	}
	if total := dials.Load(); total != concurrent {
		t.Errorf("the reference client created %d sessions in all, want %d (1 reused + %d new)", total, concurrent, concurrent-1)
	}

	stats := server.stop()
	if int64(stats.SessionsAuthenticated) != dials.Load() || stats.AuthFailures != 0 {
		t.Errorf("our server authenticated %d sessions (%d failures); the client dialed %d",
			stats.SessionsAuthenticated, stats.AuthFailures, dials.Load())
	}
	if stats.StreamsOpened != sequential+concurrent {
		t.Errorf("our server opened %d streams, want %d", stats.StreamsOpened, sequential+concurrent)
	}
	// The reference client announces the default scheme's md5; ours must compute the same.
	if stats.PaddingUpdatesSent != 0 || stats.AlertsSent != 0 {
		t.Errorf("our server sent %d padding updates and %d alerts, want none", stats.PaddingUpdatesSent, stats.AlertsSent)
	}
}

// (c, reverse) Our server pushes a custom scheme; their client adopts it, so only its first
// session's Settings differ from ours, and its padded writes follow the new scheme.
func TestReferenceClientAdoptsOurPaddingScheme(t *testing.T) {
	peerPath(t)
	pki := newPKI(t)
	echo := startEcho(t)
	schemeFile := filepath.Join(t.TempDir(), "scheme.txt")
	if err := os.WriteFile(schemeFile, customScheme, 0o600); err != nil {
		t.Fatal(err)
	}
	server := startOurServer(t, pki, schemeFile)

	var dials atomic.Int64
	client := refClient(t, pki, server.addr, &dials)
	const sequential, concurrent = 5, 5
	runReferenceClient(t, client, echo, sequential, concurrent, &dials)
	client.Close()
	if t.Failed() {
		return
	}

	stats := server.stop()
	if stats.SessionsAuthenticated != concurrent || stats.StreamsOpened != sequential+concurrent {
		t.Errorf("our server: %d sessions, %d streams; want %d and %d", stats.SessionsAuthenticated,
			stats.StreamsOpened, concurrent, sequential+concurrent)
	}
	if stats.PaddingUpdatesSent != 1 {
		t.Errorf("our server pushed its scheme %d times over %d sessions, want 1 (the client adopts it)",
			stats.PaddingUpdatesSent, stats.SessionsAuthenticated)
	}
}
