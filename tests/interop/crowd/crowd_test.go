// What the crowd sends: the first bytes of a session from mihomo's and sing-box's AnyTLS
// clients, built from the Go module proxy, captured beside ours on loopback.
//
// A capture server (crypto/tls, a throwaway certificate) records two things from every
// session that reaches it: the ClientHello (the first TLS record on the wire) and the data of
// the Settings frame (the first frame after the auth preamble), then closes the connection.
// The clients are the real ones:
//   - mihomo v1.19.30: adapter/outbound.NewAnyTLS, the proxy a mihomo YAML entry builds,
//     with and without `client-fingerprint: chrome` (uTLS);
//   - sing-box v1.14.1: protocol/anytls.NewOutbound, its anytls outbound;
//   - ours: the `anytls smoke` CLI (ANYTLS_CLI), with a TOML file of mihomo's keys.
//
// Checks (docs/CONFIG.md, "Client metadata"; docs/FINGERPRINT.md):
//   - by default every Settings frame of ours is, byte for byte, one that mihomo and sing-box
//     send (Go's map order makes theirs one of a few orders of the same lines), and ours is
//     not stuck on one order;
//   - with client-metadata set, the same holds with the value on the `client=` line;
//   - our ClientHello offers Go crypto/tls's cipher suites in Go's order and Go's groups, as
//     mihomo sends it without a fingerprint.
//
// With ANYTLS_CAPTURE_DIR set, the captured hellos are written there as <client>.bin, for
// tools/fingerprint/clienthello.py parse.
package crowd

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	mihomo "github.com/metacubex/mihomo/adapter/outbound"
	C "github.com/metacubex/mihomo/constant"
	"github.com/sagernet/sing-box/adapter"
	sblog "github.com/sagernet/sing-box/log"
	"github.com/sagernet/sing-box/option"
	singbox "github.com/sagernet/sing-box/protocol/anytls"
	M "github.com/sagernet/sing/common/metadata"
)

const (
	password    = "crowd test password"
	stepTimeout = 10 * time.Second
	// Samples of the Go clients' Settings until every order has shown up: Go's map iteration
	// gives 3 keys in one of 3 orders, the rarest at 1/8, so 200 draws miss one with
	// probability (7/8)^200 < 1e-11.
	maxGoSamples = 200
	ourSamples   = 40

	cmdSettings = 4
)

// One session as the capture server saw it.
type capture struct {
	hello    []byte // the first TLS record: the ClientHello
	settings string // the data of the first frame, which must be Settings
	err      error
}

// recordingConn keeps the bytes read from the wire until the handshake is done.
type recordingConn struct {
	net.Conn
	mu       sync.Mutex
	recorded []byte
	stop     bool
}

func (c *recordingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.mu.Lock()
	if !c.stop {
		c.recorded = append(c.recorded, b[:n]...)
	}
	c.mu.Unlock()
	return n, err
}

func (c *recordingConn) firstRecord() ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stop = true
	if len(c.recorded) < 5 || c.recorded[0] != 22 {
		return nil, errors.New("the first bytes are not a TLS handshake record")
	}
	end := 5 + int(binary.BigEndian.Uint16(c.recorded[3:5]))
	if end > len(c.recorded) {
		return nil, errors.New("the first TLS record is incomplete")
	}
	return append([]byte(nil), c.recorded[:end]...), nil
}

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(crand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

type captureServer struct {
	port     uint16
	sessions chan capture
}

func startCapture(t *testing.T) *captureServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	config := &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}}
	s := &captureServer{port: uint16(ln.Addr().(*net.TCPAddr).Port), sessions: make(chan capture, 64)}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { s.sessions <- readSession(conn, config) }()
		}
	}()
	return s
}

// readSession reads the auth preamble (sha256 of the password, u16 padding length, padding)
// and the first frame, and closes the connection.
func readSession(raw net.Conn, config *tls.Config) capture {
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(stepTimeout))
	recording := &recordingConn{Conn: raw}
	conn := tls.Server(recording, config)
	if err := conn.Handshake(); err != nil {
		return capture{err: fmt.Errorf("handshake: %w", err)}
	}
	hello, err := recording.firstRecord()
	if err != nil {
		return capture{err: err}
	}
	preamble := make([]byte, 34)
	if _, err := io.ReadFull(conn, preamble); err != nil {
		return capture{hello: hello, err: fmt.Errorf("auth preamble: %w", err)}
	}
	if _, err := io.CopyN(io.Discard, conn, int64(binary.BigEndian.Uint16(preamble[32:]))); err != nil {
		return capture{hello: hello, err: fmt.Errorf("auth padding: %w", err)}
	}
	header := make([]byte, 7)
	if _, err := io.ReadFull(conn, header); err != nil {
		return capture{hello: hello, err: fmt.Errorf("first frame: %w", err)}
	}
	data := make([]byte, binary.BigEndian.Uint16(header[5:]))
	if _, err := io.ReadFull(conn, data); err != nil {
		return capture{hello: hello, err: fmt.Errorf("first frame's data: %w", err)}
	}
	if header[0] != cmdSettings {
		return capture{hello: hello, err: fmt.Errorf("the first frame is command %d, not Settings", header[0])}
	}
	return capture{hello: hello, settings: string(data)}
}

// next waits for the session that `dial` starts. The dial's own error is not the point: the
// capture server closes every session after its first frame.
func (s *captureServer) next(t *testing.T, who string, dial func() error) capture {
	t.Helper()
	dialed := make(chan error, 1)
	go func() { dialed <- dial() }()
	var dialErr error
	deadline := time.After(stepTimeout)
	for {
		select {
		case c := <-s.sessions:
			if c.err != nil {
				t.Fatalf("%s: %v", who, c.err)
			}
			if dialed != nil {
				<-dialed
			}
			return c
		case dialErr = <-dialed:
			// A session may still be on its way; give it a moment, not the whole timeout.
			dialed = nil
			deadline = time.After(2 * time.Second)
		case <-deadline:
			t.Fatalf("%s: no session reached the capture server (the dial: %v)", who, dialErr)
		}
	}
}

// The destination of every stream: nothing listens there, and nothing is dialed.
var target = netip.MustParseAddrPort("127.0.0.1:9")

func mihomoClient(t *testing.T, s *captureServer, metadata, fingerprint string) func() error {
	return func() error {
		proxy, err := mihomo.NewAnyTLS(mihomo.AnyTLSOption{
			Name: "crowd", Server: "127.0.0.1", Port: int(s.port), Password: password,
			SNI: "localhost", SkipCertVerify: true, ClientMetadata: metadata,
			ClientFingerprint: fingerprint,
		})
		if err != nil {
			t.Errorf("mihomo NewAnyTLS: %v", err)
			return err
		}
		defer proxy.Close()
		ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
		defer cancel()
		conn, err := proxy.DialContext(ctx, &C.Metadata{NetWork: C.TCP, DstIP: target.Addr(), DstPort: target.Port()})
		if err == nil {
			conn.Close()
		}
		return err
	}
}

func singBoxClient(t *testing.T, s *captureServer, metadata string) func() error {
	return func() error {
		options := option.AnyTLSOutboundOptions{
			ServerOptions:  option.ServerOptions{Server: "127.0.0.1", ServerPort: s.port},
			Password:       password,
			ClientMetadata: metadata,
		}
		options.TLS = &option.OutboundTLSOptions{Enabled: true, Insecure: true, ServerName: "localhost"}
		ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
		defer cancel()
		outbound, err := singbox.NewOutbound(ctx, nil, sblog.NewNOPFactory().NewLogger("crowd"), "crowd", options)
		if err != nil {
			t.Errorf("sing-box NewOutbound: %v", err)
			return err
		}
		defer outbound.(io.Closer).Close()
		if err := outbound.(adapter.Lifecycle).Start(adapter.StartStateInitialize); err != nil {
			t.Errorf("sing-box Start: %v", err)
			return err
		}
		conn, err := outbound.DialContext(ctx, "tcp", M.SocksaddrFromNetIP(target))
		if err == nil {
			conn.Close()
		}
		return err
	}
}

func ourClient(t *testing.T, s *captureServer, metadata string) func() error {
	cli := os.Getenv("ANYTLS_CLI")
	if cli == "" {
		t.Skip("ANYTLS_CLI is not set (tests/interop/crowd/run sets it)")
	}
	file := filepath.Join(t.TempDir(), "client.toml")
	text := fmt.Sprintf("[[proxies]]\nname = \"crowd\"\ntype = \"anytls\"\nserver = \"127.0.0.1\"\nport = %d\npassword = %q\n"+
		"sni = \"localhost\"\nskip-cert-verify = true\n", s.port, password)
	if metadata != "" {
		text += fmt.Sprintf("client-metadata = %q\n", metadata)
	}
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
		defer cancel()
		// The smoke fails (the capture server closes the session): only the bytes matter.
		output, err := exec.CommandContext(ctx, cli, "smoke", "--config", file, "--target", target.String(),
			"--timeout", "5s").CombinedOutput()
		if err != nil {
			return fmt.Errorf("%w: %s", err, bytes.TrimSpace(output))
		}
		return nil
	}
}

// goOrders samples a Go client's Settings until all of Go's orders of its three lines have
// shown up (or maxGoSamples), and returns how often each was seen.
func goOrders(t *testing.T, s *captureServer, who string, dial func() error) map[string]int {
	seen := map[string]int{}
	for i := 0; i < maxGoSamples && len(seen) < 3; i++ {
		seen[s.next(t, who, dial).settings]++
	}
	return seen
}

func describe(orders map[string]int) string {
	var lines []string
	for text, count := range orders {
		lines = append(lines, fmt.Sprintf("%dx %q", count, text))
	}
	sort.Strings(lines)
	return strings.Join(lines, ", ")
}

// checkSettings compares ours with mihomo's and sing-box's Settings for one client-metadata.
func checkSettings(t *testing.T, metadata string, ourRuns int) {
	s := startCapture(t)
	mihomoOrders := goOrders(t, s, "mihomo", mihomoClient(t, s, metadata, ""))
	singBoxOrders := goOrders(t, s, "sing-box", singBoxClient(t, s, metadata))
	t.Logf("mihomo: %s", describe(mihomoOrders))
	t.Logf("sing-box: %s", describe(singBoxOrders))
	for text := range mihomoOrders {
		if !strings.Contains("\n"+text+"\n", "\nclient="+metadata+"\n") {
			t.Errorf("mihomo's Settings %q lacks the line client=%s", text, metadata)
		}
		if singBoxOrders[text] == 0 {
			t.Errorf("mihomo sends Settings %q, which sing-box never sent", text)
		}
	}
	ours := map[string]int{}
	for i := 0; i < ourRuns; i++ {
		ours[s.next(t, "ours", ourClient(t, s, metadata)).settings]++
	}
	t.Logf("ours: %s", describe(ours))
	for text := range ours {
		if mihomoOrders[text] == 0 || singBoxOrders[text] == 0 {
			t.Errorf("our Settings %q is not one that mihomo (%s) and sing-box (%s) send", text,
				describe(mihomoOrders), describe(singBoxOrders))
		}
	}
	// Go's order changes from session to session; one fixed order of ours would stand out.
	// The most common of Go's orders comes 6 times in 8, so 40 sessions in one order happen
	// by chance with probability (3/4)^40 < 1e-5.
	if ourRuns >= ourSamples && len(ours) < 2 {
		t.Errorf("all %d of our sessions sent their Settings lines in one order; Go's clients vary it", ourRuns)
	}
}

func TestDefaultSettingsAreTheCrowds(t *testing.T) { checkSettings(t, "", ourSamples) }

func TestClientMetadataLikeMihomosAndSingBoxs(t *testing.T) {
	checkSettings(t, "crowd-test/1.0", 8)
}

// helloFields reads the cipher suites and the supported groups of a ClientHello record.
func helloFields(t *testing.T, who string, record []byte) (suites, groups []uint16) {
	t.Helper()
	fail := func(what string) { t.Fatalf("%s's ClientHello: %s", who, what) }
	b := record[5:]
	if len(b) < 4 || b[0] != 1 {
		fail("not a ClientHello")
	}
	b = b[4:]
	take := func(n int) []byte {
		if len(b) < n {
			fail("truncated")
		}
		out := b[:n]
		b = b[n:]
		return out
	}
	u16 := func() int { return int(binary.BigEndian.Uint16(take(2))) }
	take(2 + 32)          // legacy version, random
	take(int(take(1)[0])) // session id
	suiteBytes := take(u16())
	for i := 0; i+1 < len(suiteBytes); i += 2 {
		suites = append(suites, binary.BigEndian.Uint16(suiteBytes[i:]))
	}
	take(int(take(1)[0])) // compression methods
	extensions := take(u16())
	for len(extensions) >= 4 {
		kind := binary.BigEndian.Uint16(extensions)
		size := int(binary.BigEndian.Uint16(extensions[2:]))
		if len(extensions) < 4+size {
			fail("an extension runs past the end")
		}
		if body := extensions[4 : 4+size]; kind == 10 && len(body) >= 2 {
			for i := 2; i+1 < len(body); i += 2 {
				groups = append(groups, binary.BigEndian.Uint16(body[i:]))
			}
		}
		extensions = extensions[4+size:]
	}
	return suites, groups
}

// GREASE values (RFC 8701) are left out of a comparison: uTLS draws them per hello.
func withoutGrease(values []uint16) []uint16 {
	var out []uint16
	for _, v := range values {
		if v&0x0f0f != 0x0a0a {
			out = append(out, v)
		}
	}
	return out
}

func TestClientHelloBesideTheCrowds(t *testing.T) {
	s := startCapture(t)
	hellos := map[string][]byte{
		"mihomo-1.19.30":        s.next(t, "mihomo", mihomoClient(t, s, "", "")).hello,
		"mihomo-1.19.30-chrome": s.next(t, "mihomo chrome", mihomoClient(t, s, "", "chrome")).hello,
		"sing-box-1.14.1":       s.next(t, "sing-box", singBoxClient(t, s, "")).hello,
		"anytls":                s.next(t, "ours", ourClient(t, s, "")).hello,
	}
	if dir := os.Getenv("ANYTLS_CAPTURE_DIR"); dir != "" {
		for name, hello := range hellos {
			if err := os.WriteFile(filepath.Join(dir, name+".bin"), hello, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	goSuites, goGroups := helloFields(t, "mihomo", hellos["mihomo-1.19.30"])
	chromeSuites, _ := helloFields(t, "mihomo chrome", hellos["mihomo-1.19.30-chrome"])
	ourSuites, ourGroups := helloFields(t, "ours", hellos["anytls"])
	t.Logf("suites: mihomo %04x, ours %04x; groups: mihomo %04x, ours %04x", goSuites, ourSuites, goGroups, ourGroups)
	if !slices.Equal(ourSuites, goSuites) {
		t.Errorf("our cipher suites %04x differ from mihomo's (Go crypto/tls) %04x", ourSuites, goSuites)
	}
	// Go 1.24+ puts its post-quantum hybrids first (X25519MLKEM768 0x11ec; Go 1.26 adds
	// SecP256r1MLKEM768 0x11eb and SecP384r1MLKEM1024 0x11ed) when the main module says go
	// 1.24 or later; wolfSSL 5.5.4 has no ML-KEM (docs/FINGERPRINT.md).
	if want := withoutHybrids(goGroups); !slices.Equal(ourGroups, want) {
		t.Errorf("our groups %04x differ from mihomo's (Go crypto/tls) %04x without ML-KEM", ourGroups, want)
	}
	// uTLS chrome is a different hello: the check would be empty if the capture mixed them up.
	if slices.Equal(withoutGrease(chromeSuites), goSuites) {
		t.Errorf("mihomo's chrome hello offers Go's suites %04x: uTLS was not used", chromeSuites)
	}
	if !bytes.Equal(hellos["sing-box-1.14.1"][:5], hellos["mihomo-1.19.30"][:5]) {
		t.Logf("sing-box's and mihomo's hellos differ in size: %d and %d bytes",
			len(hellos["sing-box-1.14.1"]), len(hellos["mihomo-1.19.30"]))
	}
}

func withoutHybrids(groups []uint16) []uint16 {
	var out []uint16
	for _, g := range groups {
		if g < 0x11eb || g > 0x11ed {
			out = append(out, g)
		}
	}
	return out
}
