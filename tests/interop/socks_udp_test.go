// SOCKS5 UDP ASSOCIATE through `anytls socks` (tools/anytls/cmd_socks.cpp,
// lib/inbound/proxy_inbound.cpp), end to end: a Go SOCKS5 client asks our CLI entry for a UDP
// association, and the entry carries it over one UDP-over-TCP v2 stream (per-packet mode) to
//
//	(1) the reference server (sing-anytls Service with relayUDP, which follows sing-box's
//	    order: it reads the UoT request header before it sends the SYNACK), and
//	(2) our own `anytls server`, for comparison.
//
// Datagrams go to a UDP echo on loopback by IPv4 literal, by the name "localhost" and, when
// ::1 can be bound, by IPv6 literal; each echo must come back with the target's address in its
// SOCKS5 header. The entry is the built CLI, found through ANYTLS_CLI (tests/interop/run sets
// it). Every port comes from the kernel and every wait has a deadline.
package interop

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/anytls/sing-anytls/padding"
)

const (
	// The association must be granted well before the client's 10 s SYNACK timeout: an entry
	// that waits for a SYNACK the server sends only after the UoT header fails this.
	associateTimeout = 5 * time.Second
	// After a late or missing grant, how long to keep waiting to see what the entry answers.
	associateDiagnosis = 25 * time.Second
	// All datagrams of one test, resends included.
	datagramBudget = 10 * time.Second
	resendInterval = 500 * time.Millisecond
	datagramsEach  = 20 // per target
)

func cliPath(t *testing.T) string {
	return binaryFromEnv(t, "ANYTLS_CLI", "tools/anytls/anytls")
}

// --- a UDP echo on both loopbacks ------------------------------------------------------------

// loopbackUDPEcho answers every datagram with the same bytes, on 127.0.0.1:port and, if it can
// be bound, on [::1]:port too (same port), so that "localhost" works whichever family the
// resolver lists first.
type loopbackUDPEcho struct {
	port int
	ipv6 bool
}

func startLoopbackUDPEcho(t *testing.T) loopbackUDPEcho {
	t.Helper()
	serve := func(pc net.PacketConn) { serveUDPEcho(t, pc) }
	for attempt := 0; attempt < 20; attempt++ {
		v4, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := v4.LocalAddr().(*net.UDPAddr).Port
		v6, err := net.ListenPacket("udp6", fmt.Sprintf("[::1]:%d", port))
		if err == nil {
			serve(v4)
			serve(v6)
			return loopbackUDPEcho{port: port, ipv6: true}
		}
		if !errors.Is(err, syscall.EADDRINUSE) { // no IPv6 loopback here
			serve(v4)
			t.Logf("no UDP echo on [::1] (%v): IPv6 targets are left out", err)
			return loopbackUDPEcho{port: port}
		}
		v4.Close() // [::1]:port is someone else's: try another port
	}
	v4, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serve(v4)
	t.Logf("[::1]:port was taken for 20 kernel-chosen ports: IPv6 targets are left out")
	return loopbackUDPEcho{port: v4.LocalAddr().(*net.UDPAddr).Port}
}

// --- processes -------------------------------------------------------------------------------

// cliProcess is a running `anytls` command whose stdout lines up to "listening on ..." were read.
type cliProcess struct {
	addr   string // from "listening on HOST:PORT"
	stderr *lockedBuffer
	stop   func() // SIGTERM, then at most 10 s for it to exit (killed after); idempotent
}

func startCLI(t *testing.T, args ...string) *cliProcess {
	t.Helper()
	cmd := exec.Command(cliPath(t), args...)
	proc := startWithLines(t, cmd, false)
	lines, exited, stderr := proc.lines, proc.exited, proc.stderr
	name := args[0]
	stopped := false
	p := &cliProcess{stderr: stderr}
	p.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("anytls %s exited with %v; stderr: %s", name, err, tail(stderr.String(), 4000))
			}
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Errorf("anytls %s did not exit within 10 s of SIGTERM", name)
		}
	}
	t.Cleanup(p.stop)
	timeout := time.After(stepTimeout)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("anytls %s exited before it listened; stderr: %s", name, stderr.String())
			}
			if strings.HasPrefix(line, "listening on ") {
				p.addr = strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
				return p
			}
		case <-timeout:
			t.Fatalf("anytls %s printed no \"listening on\" within %v; stderr: %s", name, stepTimeout, stderr.String())
		}
	}
}

// startSocksEntry runs `anytls socks` with one proxy: the AnyTLS server at server (which must
// present pki's certificate for "localhost").
func startSocksEntry(t *testing.T, pki *testPKI, server string) *cliProcess {
	t.Helper()
	host, port, err := net.SplitHostPort(server)
	if err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(t.TempDir(), "client.toml")
	text := fmt.Sprintf(`log-level = "debug"
[[proxies]]
name = "interop"
type = "anytls"
server = %q
port = %s
password = %q
sni = "localhost"
ca-file = %q
`, host, port, password, pki.certFile)
	if err := os.WriteFile(config, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startCLI(t, "socks", "--config", config, "--listen", "127.0.0.1:0", "--verbose")
	t.Cleanup(func() {
		if t.Failed() {
			p.stop() // its last lines come on the way out
			t.Logf("anytls socks stderr: %s", tail(p.stderr.String(), 6000))
		}
	})
	return p
}

// startCLIServer runs our `anytls server` with pki's certificate and the test password.
func startCLIServer(t *testing.T, pki *testPKI) *cliProcess {
	t.Helper()
	config := filepath.Join(t.TempDir(), "server.toml")
	text := fmt.Sprintf(`listen = "127.0.0.1:0"
certificate = %q
private-key = %q
log-level = "debug"
[[users]]
name = "interop"
password = %q
`, pki.certFile, pki.keyFile, password)
	if err := os.WriteFile(config, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startCLI(t, "server", "--config", config)
	t.Cleanup(func() {
		if t.Failed() {
			p.stop()
			t.Logf("anytls server stderr: %s", tail(p.stderr.String(), 6000))
		}
	})
	return p
}

// --- a SOCKS5 client (RFC 1928) ----------------------------------------------------------------

// A SOCKS5 address: IPv4 (0x01), IPv6 (0x04) or a name (0x03).
type socksAddr struct {
	ip   netip.Addr // valid unless name is set
	name string
	port uint16
}

func (a socksAddr) String() string {
	if a.name != "" {
		return net.JoinHostPort(a.name, fmt.Sprint(a.port))
	}
	return netip.AddrPortFrom(a.ip, a.port).String()
}

func (a socksAddr) append(b []byte) []byte {
	switch {
	case a.name != "":
		b = append(b, 0x03, byte(len(a.name)))
		b = append(b, a.name...)
	case a.ip.Is4():
		b = append(b, 0x01)
		b = append(b, a.ip.AsSlice()...)
	default:
		b = append(b, 0x04)
		b = append(b, a.ip.AsSlice()...)
	}
	return binary.BigEndian.AppendUint16(b, a.port)
}

// readSocksAddr reads ATYP ADDR PORT from r.
func readSocksAddr(r io.Reader) (socksAddr, error) {
	var atyp [1]byte
	if _, err := io.ReadFull(r, atyp[:]); err != nil {
		return socksAddr{}, err
	}
	var a socksAddr
	switch atyp[0] {
	case 0x01, 0x04:
		ip := make([]byte, 4)
		if atyp[0] == 0x04 {
			ip = make([]byte, 16)
		}
		if _, err := io.ReadFull(r, ip); err != nil {
			return socksAddr{}, err
		}
		a.ip, _ = netip.AddrFromSlice(ip)
	case 0x03:
		var n [1]byte
		if _, err := io.ReadFull(r, n[:]); err != nil {
			return socksAddr{}, err
		}
		name := make([]byte, n[0])
		if _, err := io.ReadFull(r, name); err != nil {
			return socksAddr{}, err
		}
		a.name = string(name)
	default:
		return socksAddr{}, fmt.Errorf("unknown SOCKS5 address type 0x%02x", atyp[0])
	}
	var port [2]byte
	if _, err := io.ReadFull(r, port[:]); err != nil {
		return socksAddr{}, err
	}
	a.port = binary.BigEndian.Uint16(port[:])
	return a, nil
}

// socksAssociation is a granted UDP ASSOCIATE: the control connection (the association lives
// as long as it does) and the entry's relay address.
type socksAssociation struct {
	control net.Conn
	relay   *net.UDPAddr
}

// associateUDP greets the SOCKS5 entry without authentication and asks for UDP ASSOCIATE.
// The grant must come within associateTimeout; when it does not, this waits up to
// associateDiagnosis more to log what the entry finally answered (and when), then fails.
func associateUDP(t *testing.T, entry string) *socksAssociation {
	t.Helper()
	start := time.Now()
	control, err := net.DialTimeout("tcp", entry, stepTimeout)
	if err != nil {
		t.Fatalf("connect to the SOCKS5 entry %s: %v", entry, err)
	}
	t.Cleanup(func() { control.Close() })
	control.SetDeadline(start.Add(stepTimeout))
	if _, err := control.Write([]byte{0x05, 0x01, 0x00}); err != nil {
		t.Fatalf("SOCKS5 greeting: %v", err)
	}
	var choice [2]byte
	if _, err := io.ReadFull(control, choice[:]); err != nil || choice != [2]byte{0x05, 0x00} {
		t.Fatalf("SOCKS5 method choice %x (%v), want 0500", choice, err)
	}
	// DST.ADDR/DST.PORT 0.0.0.0:0: the client does not know its UDP source yet (RFC 1928 s. 7).
	asked := time.Now()
	if _, err := control.Write([]byte{0x05, 0x03, 0x00, 0x01, 0, 0, 0, 0, 0, 0}); err != nil {
		t.Fatalf("SOCKS5 UDP ASSOCIATE request: %v", err)
	}
	control.SetDeadline(asked.Add(associateTimeout))
	var head [3]byte
	_, err = io.ReadFull(control, head[:])
	if err != nil {
		var timeout net.Error
		if !errors.As(err, &timeout) || !timeout.Timeout() {
			t.Fatalf("UDP ASSOCIATE: no reply, the entry closed the connection after %v: %v",
				time.Since(asked).Round(time.Millisecond), err)
		}
		t.Errorf("UDP ASSOCIATE: no reply within %v", associateTimeout)
		control.SetDeadline(asked.Add(associateTimeout + associateDiagnosis))
		_, err = io.ReadFull(control, head[:])
		if err != nil {
			t.Fatalf("UDP ASSOCIATE: still no reply after %v: %v", time.Since(asked).Round(time.Millisecond), err)
		}
		t.Fatalf("UDP ASSOCIATE: the reply came after %v with code 0x%02x (0x00 granted)",
			time.Since(asked).Round(time.Millisecond), head[1])
	}
	if head[0] != 0x05 || head[1] != 0x00 {
		t.Fatalf("UDP ASSOCIATE refused after %v: reply %x (code 0x%02x)", time.Since(asked).Round(time.Millisecond),
			head, head[1])
	}
	bound, err := readSocksAddr(control)
	if err != nil {
		t.Fatalf("UDP ASSOCIATE reply address: %v", err)
	}
	control.SetDeadline(time.Time{})
	t.Logf("UDP ASSOCIATE granted after %v (connection set up in %v): relay %s",
		time.Since(asked).Round(time.Millisecond), asked.Sub(start).Round(time.Millisecond), bound)
	relayIP := bound.ip
	if bound.name != "" || !relayIP.IsValid() || relayIP.IsUnspecified() {
		relayIP = netip.MustParseAddrPort(control.RemoteAddr().String()).Addr()
	}
	return &socksAssociation{control: control,
		relay: net.UDPAddrFromAddrPort(netip.AddrPortFrom(relayIP.Unmap(), bound.port))}
}

// udpTarget is where datagrams are sent and what source address their echoes may carry.
type udpTarget struct {
	label     string
	address   socksAddr
	replyFrom []socksAddr // acceptable reply addresses (a name may come back as its address)
}

func echoTargets(echo loopbackUDPEcho) []udpTarget {
	port := uint16(echo.port)
	v4 := socksAddr{ip: netip.MustParseAddr("127.0.0.1"), port: port}
	v6 := socksAddr{ip: netip.MustParseAddr("::1"), port: port}
	name := udpTarget{label: "name", address: socksAddr{name: "localhost", port: port},
		replyFrom: []socksAddr{{name: "localhost", port: port}, v4}}
	if echo.ipv6 {
		name.replyFrom = append(name.replyFrom, v6)
	}
	targets := []udpTarget{{label: "IPv4", address: v4, replyFrom: []socksAddr{v4}}, name}
	if echo.ipv6 {
		targets = append(targets, udpTarget{label: "IPv6", address: v6, replyFrom: []socksAddr{v6}})
	}
	return targets
}

// exchangeDatagrams sends datagramsEach datagrams of random sizes to every target through the
// association (interleaving the targets) and checks each echo: same payload, the target's
// address in the SOCKS5 header. A datagram without its echo within resendInterval is sent
// again (UDP may drop, even on loopback); all of it must finish within datagramBudget.
// Returns the number of datagrams echoed intact.
func exchangeDatagrams(t *testing.T, assoc *socksAssociation, targets []udpTarget) int {
	t.Helper()
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	seed := uint64(time.Now().UnixNano())
	t.Logf("datagram seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	sizes := []int{8, 9, 100, 512, 1200, 1400, 4000, 8192, 16000, 30000}
	start := time.Now()
	deadline := start.Add(datagramBudget)
	received := make([]byte, 65536)
	echoed, resends := 0, 0
	for i := 0; i < datagramsEach; i++ {
		for index, target := range targets {
			size := sizes[i%len(sizes)]
			if i >= len(sizes) {
				size = 8 + rng.IntN(2000)
			}
			payload := make([]byte, size)
			for j := range payload {
				payload[j] = byte(rng.Uint32())
			}
			binary.BigEndian.PutUint32(payload, uint32(index))
			binary.BigEndian.PutUint32(payload[4:], uint32(i))
			datagram := target.address.append([]byte{0, 0, 0})
			datagram = append(datagram, payload...)
		send:
			for {
				if time.Now().After(deadline) {
					t.Fatalf("%s datagram %d (%d bytes): no echo; %d datagrams echoed in %v (budget %v, %d resends)",
						target.label, i, size, echoed, time.Since(start).Round(time.Millisecond), datagramBudget, resends)
				}
				if _, err := udp.WriteToUDP(datagram, assoc.relay); err != nil {
					t.Fatalf("send to the relay %s: %v", assoc.relay, err)
				}
				wait := time.Now().Add(resendInterval)
				if wait.After(deadline) {
					wait = deadline
				}
				udp.SetReadDeadline(wait)
				for {
					n, from, err := udp.ReadFromUDPAddrPort(received)
					if err != nil {
						var timeout net.Error
						if errors.As(err, &timeout) && timeout.Timeout() {
							resends++
							continue send
						}
						t.Fatalf("receive from the relay: %v", err)
					}
					if from.Addr().Unmap() != assoc.relay.AddrPort().Addr().Unmap() || from.Port() != assoc.relay.AddrPort().Port() {
						t.Errorf("a datagram from %v, not from the relay %v", from, assoc.relay)
						continue
					}
					reader := bytes.NewReader(received[:n])
					var header [3]byte
					if _, err := io.ReadFull(reader, header[:]); err != nil || header != [3]byte{} {
						t.Fatalf("echo of %s datagram %d: bad SOCKS5 UDP header %x (%v)", target.label, i, header, err)
					}
					source, err := readSocksAddr(reader)
					if err != nil {
						t.Fatalf("echo of %s datagram %d: bad address: %v", target.label, i, err)
					}
					data := received[n-reader.Len() : n]
					if len(data) >= 8 && (binary.BigEndian.Uint32(data) != uint32(index) ||
						binary.BigEndian.Uint32(data[4:]) != uint32(i)) {
						continue // a late echo of an earlier, resent datagram
					}
					if !bytes.Equal(data, payload) {
						t.Fatalf("echo of %s datagram %d: %d bytes differ from the %d sent", target.label, i, len(data), size)
					}
					acceptable := false
					for _, want := range target.replyFrom {
						if source.name == want.name && source.port == want.port && source.ip.Unmap() == want.ip {
							acceptable = true
						}
					}
					if !acceptable {
						t.Errorf("echo of %s datagram %d came from %s, want one of %v", target.label, i, source,
							target.replyFrom)
					}
					echoed++
					break send
				}
			}
		}
	}
	t.Logf("%d datagrams to %d targets echoed in %v (%d resends)", echoed, len(targets),
		time.Since(start).Round(time.Millisecond), resends)
	return echoed
}

// endAssociation closes the control connection; the entry then ends the UoT stream.
func endAssociation(assoc *socksAssociation) { assoc.control.Close() }

// --- the tests ---------------------------------------------------------------------------------

// UDP ASSOCIATE through `anytls socks` to the reference server, which (like sing-box) reads the
// UoT request header before it sends the SYNACK: the entry must send the header without
// waiting for the SYNACK, or every association stalls until the 10 s SYNACK timeout.
func TestSocksUDPAssociateAgainstReferenceServer(t *testing.T) {
	cliPath(t)
	pki := newPKI(t)
	echo := startLoopbackUDPEcho(t)
	server := startRefServer(t, pki, padding.DefaultPaddingScheme)
	entry := startSocksEntry(t, pki, server.addr)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("reference server: %d streams, %d UoT streams acknowledged, %d UoT packets; last UoT error: %v",
				server.streams.Load(), server.udpStreams.Load(), server.udpPackets.Load(), server.udpErr.Load())
		}
	})

	echoed := associateAndEcho(t, entry.addr, echo)
	if n := server.udpStreams.Load(); n != 1 {
		t.Errorf("the reference server relayed %d UDP-over-TCP streams, want 1 (last error: %v)", n, server.udpErr.Load())
	}
	if n := server.udpPerPacketStreams.Load(); n != 1 {
		t.Errorf("%d of its UDP-over-TCP streams were in per-packet mode, want 1 (SOCKS5 UDP names each datagram's target)", n)
	}
	if n := server.udpPackets.Load(); n < int64(echoed) {
		t.Errorf("the reference server read %d UDP-over-TCP packets, fewer than the %d echoed", n, echoed)
	}
	if err := server.udpErr.Load(); err != nil {
		t.Errorf("the reference server's relay reported: %v", err)
	}
}

// The same through `anytls socks` to our own `anytls server`, which sends the SYNACK for a
// UoT stream at once (lib/server/udp_relay.hpp): passes whichever way the entry opens.
func TestSocksUDPAssociateAgainstOurServer(t *testing.T) {
	cliPath(t)
	pki := newPKI(t)
	echo := startLoopbackUDPEcho(t)
	server := startCLIServer(t, pki)
	entry := startSocksEntry(t, pki, server.addr)

	associateAndEcho(t, entry.addr, echo)
}

// associateAndEcho runs one UDP ASSOCIATE through the entry at addr, sends datagramsEach
// datagrams to each echo target, checks they all came back, and returns how many did.
func associateAndEcho(t *testing.T, addr string, echo loopbackUDPEcho) int {
	t.Helper()
	targets := echoTargets(echo)
	assoc := associateUDP(t, addr)
	echoed := exchangeDatagrams(t, assoc, targets)
	endAssociation(assoc)
	if want := datagramsEach * len(targets); echoed != want {
		t.Errorf("datagrams echoed = %d, want %d", echoed, want)
	}
	return echoed
}
