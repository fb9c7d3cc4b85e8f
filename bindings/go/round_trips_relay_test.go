//go:build roundtrips

// The flight relay (tests/support/flight_relay, one C++ program for every language) driven
// from Go, and the counting rule of the round-trip tests (tests/round_trips/README.md). The
// same rule is in tests/support/round_trip_count.hpp and tests/round_trips/round_trip_count.py;
// the three must stay alike. Built only with -tags roundtrips (run-tests <build> round-trips).

package anytls_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// flightStats is the relay's `stats` line.
type flightStats struct {
	Accepted, Open, Flights, HeldS2C, ForwardedS2C, ForwardedC2S, RecordsC2S, RecordsS2C int
}

type flightRelay struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	replies *bufio.Reader
	Port    int
}

// startFlightRelay runs the relay (ANYTLS_FLIGHT_RELAY) in front of 127.0.0.1:upstreamPort.
func startFlightRelay(t testing.TB, upstreamPort int) *flightRelay {
	t.Helper()
	exe := os.Getenv("ANYTLS_FLIGHT_RELAY")
	if exe == "" {
		t.Fatal("ANYTLS_FLIGHT_RELAY must name the flight_relay binary (meson sets it)")
	}
	r := &flightRelay{cmd: exec.Command(exe, strconv.Itoa(upstreamPort))}
	var err error
	if r.stdin, err = r.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := r.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	r.cmd.Stderr = os.Stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("flight_relay: %v", err)
	}
	r.replies = bufio.NewReader(stdout)
	t.Cleanup(func() {
		r.stdin.Close() // the end of stdin ends the relay
		_ = r.cmd.Wait()
	})
	first, _ := r.replies.ReadString('\n')
	if !strings.HasPrefix(first, "port ") {
		t.Fatalf("flight_relay did not report its port: %q", first)
	}
	if r.Port, err = strconv.Atoi(strings.TrimSpace(first[5:])); err != nil {
		t.Fatal(err)
	}
	return r
}

// command sends one line and returns the reply's key=value fields.
func (r *flightRelay) command(t testing.TB, line string) map[string]int {
	t.Helper()
	if _, err := io.WriteString(r.stdin, line+"\n"); err != nil {
		t.Fatalf("flight_relay %s: %v", line, err)
	}
	reply, err := r.replies.ReadString('\n')
	if err != nil {
		t.Fatalf("flight_relay gave no reply to %s: %v", line, err)
	}
	fields := map[string]int{}
	for _, word := range strings.Fields(reply)[1:] {
		if key, value, ok := strings.Cut(word, "="); ok {
			fields[key], _ = strconv.Atoi(value)
		}
	}
	return fields
}

func (r *flightRelay) Hold(t testing.TB) { r.command(t, "hold") }
func (r *flightRelay) Pass(t testing.TB) { r.command(t, "pass") }

// Release lets one flight through and returns the number of releases so far.
func (r *flightRelay) Release(t testing.TB) int { return r.command(t, "release")["flight"] }

func (r *flightRelay) Stats(t testing.TB) flightStats {
	f := r.command(t, "stats")
	return flightStats{f["accepted"], f["open"], f["flights"], f["held_s2c"], f["forwarded_s2c"],
		f["forwarded_c2s"], f["records_c2s"], f["records_s2c"]}
}

type openKind string

const (
	warmOpen openKind = "warm"
	coldOpen openKind = "cold"
)

// payloadWait: how long the payload may take to reach the target before a flight is released
// for it. On code that needs no flight it arrives within milliseconds; only a run that does
// need one waits this long. Well under the client's 10 s SYNACK timeout, so that on code that
// waits for the SYNACK the flight released next still reaches the session before it gives up
// on it (and retries on a new one, which would muddle the count it reports).
const payloadWait = 5 * time.Second

// milestoneWait: how long the other milestones (a new connection's ClientHello, an echoed
// byte after a release) may take. Generous: on code that works they come at once, and code
// that does not has already failed on the payload's wait.
const milestoneWait = 30 * time.Second

// flightCap: more flights than any open can need; a run that gets here is broken, not slow.
const flightCap = 6

type roundTripCount struct {
	FlightsBeforePayload int // flights released when the target had the payload
	Flights              int // flights released when the client had an echoed byte
	NewConnections       int
	Error                string
}

func (c roundTripCount) RoundTrips() int { return c.NewConnections + c.Flights }

func (c roundTripCount) Summary() string {
	return fmt.Sprintf("%d round trips (%d new connections, %d flights; %d flights before the payload reached the target)",
		c.RoundTrips(), c.NewConnections, c.Flights, c.FlightsBeforePayload)
}

// Verdict is what the test asserts; "" when the count is as expected: warm 1 (no new
// connection, the payload goes out with the open), cold 3 (the TCP connection, the TLS
// handshake's flight, the echo).
func (c roundTripCount) Verdict(kind openKind) string {
	expected, beforePayload, connections := 1, 0, 0
	what := "the payload did not reach the target before a server->client flight"
	if kind == coldOpen {
		expected, beforePayload, connections = 3, 1, 1
		what = "the payload did not reach the target with the TLS handshake's flight alone"
	}
	var problems []string
	if c.Error != "" {
		problems = append(problems, fmt.Sprintf("%s (after %d flights)", c.Error, c.Flights))
	}
	if c.FlightsBeforePayload != beforePayload {
		problems = append(problems, what+": the open waits for the SYNACK")
	}
	if c.NewConnections != connections {
		problems = append(problems, fmt.Sprintf("the open made %d new connections, expected %d", c.NewConnections, connections))
	}
	if c.RoundTrips() != expected {
		problems = append(problems, fmt.Sprintf("measured %d round trips to the first echoed byte, expected %d",
			c.RoundTrips(), expected))
	}
	return strings.Join(problems, "; ")
}

// countRoundTrips is called right after Hold and the start of the open (on another
// goroutine). payloadAtTarget / echoAtClient wait up to the given time for their milestone
// and say whether it happened (a later call returns true at once). It waits for milestones,
// never for quiet, and lets a flight through only when the stream cannot go on without one.
func countRoundTrips(t testing.TB, relay *flightRelay, kind openKind, payloadAtTarget, echoAtClient func(time.Duration) bool,
	before flightStats) roundTripCount {
	var count roundTripCount
	finish := func() roundTripCount {
		count.NewConnections = relay.Stats(t).Accepted - before.Accepted
		return count
	}
	if kind == coldOpen {
		// The handshake's flight is released once the ClientHello has begun on a new
		// connection: before that there is no client to answer, and the gate would close on
		// the ClientHello itself.
		deadline := time.Now().Add(milestoneWait)
		for {
			now := relay.Stats(t)
			if now.Accepted > before.Accepted && now.RecordsC2S > before.RecordsC2S {
				break
			}
			if time.Now().After(deadline) {
				count.Error = "the cold open made no new connection through the relay"
				return finish()
			}
			time.Sleep(5 * time.Millisecond)
		}
		count.Flights = relay.Release(t) - before.Flights
	}
	for !payloadAtTarget(payloadWait) {
		if count.Flights >= flightCap {
			count.Error = "the payload never reached the target"
			return finish()
		}
		count.Flights = relay.Release(t) - before.Flights
	}
	count.FlightsBeforePayload = count.Flights
	for {
		if count.Flights >= flightCap {
			count.Error = "no echoed byte reached the client"
			return finish()
		}
		count.Flights = relay.Release(t) - before.Flights
		if echoAtClient(milestoneWait) {
			return finish()
		}
	}
}
