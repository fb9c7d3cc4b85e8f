//go:build roundtrips

// Round trips to the first echoed byte through the Go binding (Client.DialContext), counted
// by the flight relay (tests/round_trips/README.md): a warm stream must take 1, a cold one 3.
// The client talks to a real `anytls server` process (ANYTLS_EXE) through the relay.
// Built only with -tags roundtrips: run-tests <build> round-trips (meson: round_trips_go).

package anytls_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	anytls "github.com/libanytls/anytls-go-binding"
)

const roundTripsPassword = "round trips password"

// generous: on today's code the open waits for released flights
const roundTripsIOTimeout = 60 * time.Second

func roundTripsPayload() []byte {
	p := make([]byte, 1000)
	for i := range p {
		p[i] = byte(i*7 + 1)
	}
	return p
}

// startAnyTLSServer runs `anytls server` with a self-signed certificate; it returns the port
// and the certificate to trust.
func startAnyTLSServer(t *testing.T) (int, string) {
	t.Helper()
	exe := os.Getenv("ANYTLS_EXE")
	if exe == "" {
		t.Fatal("ANYTLS_EXE must name the anytls binary (meson sets it)")
	}
	dir := t.TempDir()
	config := filepath.Join(dir, "server.toml")
	ca := filepath.Join(dir, "ca.pem")
	toml := "listen = \"127.0.0.1:0\"\nself-signed = true\nself-signed-names = [\"localhost\", \"127.0.0.1\"]\n" +
		"synack = \"after-connect\"\nlog-level = \"warning\"\n[[users]]\nname = \"rtt\"\npassword = \"" +
		roundTripsPassword + "\"\n"
	if err := os.WriteFile(config, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "server", "--config", config, "--write-cert", ca)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		line := lines.Text()
		if strings.HasPrefix(line, "listening on ") {
			go func() { _, _ = io.Copy(io.Discard, stdout) }()
			port, err := strconv.Atoi(line[strings.LastIndex(line, ":")+1:])
			if err != nil {
				t.Fatal(err)
			}
			return port, ca
		}
	}
	t.Fatal("anytls server did not report its port")
	return 0, ""
}

// watchedEchoTarget echoes every connection and tells how many bytes it has received, so
// that a test knows the moment its payload reached the target without timing anything.
type watchedEchoTarget struct {
	addr     string
	mu       sync.Mutex
	received int
	changed  chan struct{} // closed and replaced at every change
}

func startWatchedEchoTarget(t *testing.T) *watchedEchoTarget {
	w := &watchedEchoTarget{changed: make(chan struct{})}
	w.addr = startTCP(t, func(c net.Conn) {
		buf := make([]byte, 64*1024)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				w.mu.Lock()
				w.received += n
				close(w.changed)
				w.changed = make(chan struct{})
				w.mu.Unlock()
				if _, werr := c.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	})
	return w
}

func (w *watchedEchoTarget) Received() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.received
}

func (w *watchedEchoTarget) WaitReceived(total int, limit time.Duration) bool {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		w.mu.Lock()
		done, changed := w.received >= total, w.changed
		w.mu.Unlock()
		if done {
			return true
		}
		select {
		case <-changed:
		case <-timer.C:
			return false
		}
	}
}

func roundTripsClient(t *testing.T, relayPort int, ca string) *anytls.Client {
	t.Helper()
	// No proactive sessions, nothing timed that could send bytes meanwhile (heartbeats are
	// off by default), and an idle session that stays for the whole test.
	toml := "log-level = \"warning\"\n" + fmt.Sprintf("[[proxies]]\nname = \"relay\"\ntype = \"anytls\"\n"+
		"server = \"127.0.0.1\"\nport = %d\npassword = %q\nsni = \"localhost\"\nca-file = %q\n", relayPort,
		roundTripsPassword, ca) +
		"[proxies.session-override]\nensure-idle-session = 0\nidle-session-timeout = \"10m\"\n" +
		"idle-session-check-interval = \"10m\"\n"
	client, err := anytls.Open(toml)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// echoThrough dials the target, writes the payload, calls firstEcho once an echoed byte
// arrived and returns the whole echo.
func echoThrough(client *anytls.Client, target string, payload []byte, firstEcho func()) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), roundTripsIOTimeout)
	defer cancel()
	conn, err := client.DialContext(ctx, "relay", "tcp", target)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(roundTripsIOTimeout))
	if _, err := conn.Write(payload); err != nil {
		return nil, err
	}
	echo := make([]byte, 0, len(payload))
	buf := make([]byte, 64*1024)
	for len(echo) < len(payload) {
		n, err := conn.Read(buf)
		echo = append(echo, buf[:n]...)
		if n > 0 {
			firstEcho()
		}
		if err != nil {
			return echo, err
		}
	}
	return echo, nil
}

func waitIdle(t *testing.T, client *anytls.Client, idle uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := client.Stats("relay")
		if err != nil {
			t.Fatal(err)
		}
		if st.Idle == idle && st.Busy == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pool did not settle at %d idle sessions: %+v", idle, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func measureRoundTrips(t *testing.T, kind openKind) {
	serverPort, ca := startAnyTLSServer(t)
	relay := startFlightRelay(t, serverPort)
	target := startWatchedEchoTarget(t)
	client := roundTripsClient(t, relay.Port, ca)
	payload := roundTripsPayload()
	if kind == warmOpen {
		// The warm session: one stream opened, echoed and closed, with the relay passing.
		echo, err := echoThrough(client, target.addr, payload, func() {})
		if err != nil || !bytes.Equal(echo, payload) {
			t.Fatalf("warm-up stream: %v", err)
		}
		waitIdle(t, client, 1)
	}

	relay.Hold(t)
	before := relay.Stats(t)
	receivedBefore := target.Received()
	echoed := make(chan struct{})
	var once sync.Once
	var echo []byte
	var streamErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		echo, streamErr = echoThrough(client, target.addr, payload, func() { once.Do(func() { close(echoed) }) })
		once.Do(func() { close(echoed) }) // a failed run must not keep the counter waiting
	}()
	count := countRoundTrips(t, relay, kind,
		func(limit time.Duration) bool { return target.WaitReceived(receivedBefore+len(payload), limit) },
		func(limit time.Duration) bool {
			select {
			case <-echoed:
				select {
				case <-done:
					return streamErr == nil
				default:
					return true // an echoed byte arrived and the stream is still reading
				}
			case <-time.After(limit):
				return false
			}
		}, before)
	relay.Pass(t) // the rest of the echo, whatever the count
	<-done
	t.Logf("round_trips go DialContext %s: %s", kind, count.Summary())
	if streamErr != nil {
		t.Fatalf("the stream failed: %v", streamErr)
	}
	if !bytes.Equal(echo, payload) {
		t.Fatal("the echo differs from the payload")
	}
	if verdict := count.Verdict(kind); verdict != "" {
		t.Errorf("Go DialContext, %s stream: %s", kind, verdict)
	}
}

func TestRoundTripsWarmDialContext(t *testing.T) { measureRoundTrips(t, warmOpen) }

func TestRoundTripsColdDialContext(t *testing.T) { measureRoundTrips(t, coldOpen) }
