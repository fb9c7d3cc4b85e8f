package anytls_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	anytls "github.com/libanytls/anytls-go-binding"
)

func TestVersion(t *testing.T) {
	if anytls.ABIVersion() != 1 {
		t.Fatalf("ABIVersion = %d", anytls.ABIVersion())
	}
	if anytls.Version() == "" {
		t.Fatal("empty Version")
	}
	if !strings.Contains(anytls.ErrTimeout.Error(), "time") {
		t.Errorf("ErrTimeout text %q", anytls.ErrTimeout.Error())
	}
}

// 1,000 connections open at once, each echoing random data checked by SHA-256, while the OS
// thread count of the process stays under 100.
func TestConcurrentEcho1000(t *testing.T) {
	const n = 1000
	e := newEnv(t, nil)
	d := e.client.Dialer("test")

	var maxThreads atomic.Int64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			if v := int64(osThreads()); v > maxThreads.Load() {
				maxThreads.Store(v)
			}
			select {
			case <-stopSampling:
				return
			case <-tick.C:
			}
		}
	}()
	startThreads := osThreads()

	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	var dialed, failures sync.WaitGroup
	dialed.Add(n)
	allOpen := make(chan struct{})
	var errs atomic.Int64
	var firstErr atomic.Value
	fail := func(err error) {
		if errs.Add(1) == 1 {
			firstErr.Store(err)
		}
	}
	var open atomic.Int64
	var maxOpen atomic.Int64
	for i := 0; i < n; i++ {
		failures.Add(1)
		go func(i int) {
			defer failures.Done()
			c, err := d.DialContext(ctx, "tcp", e.echo)
			dialed.Done()
			if err != nil {
				fail(fmt.Errorf("dial %d: %w", i, err))
				return
			}
			defer c.Close()
			if v := open.Add(1); v > maxOpen.Load() {
				maxOpen.Store(v) // approximate maximum; exact enough for the log
			}
			defer open.Add(-1)
			<-allOpen
			rng := rand.New(rand.NewSource(int64(i)))
			data := make([]byte, 1+rng.Intn(32*1024))
			rng.Read(data)
			want := sha256.Sum256(data)
			_ = c.SetDeadline(time.Now().Add(60 * time.Second))
			werr := make(chan error, 1)
			go func() { _, err := c.Write(data); werr <- err }()
			got := make([]byte, len(data))
			if _, err := io.ReadFull(c, got); err != nil {
				fail(fmt.Errorf("conn %d read: %w", i, err))
				return
			}
			if err := <-werr; err != nil {
				fail(fmt.Errorf("conn %d write: %w", i, err))
				return
			}
			if sha256.Sum256(got) != want {
				fail(fmt.Errorf("conn %d: checksum mismatch", i))
			}
		}(i)
	}
	dialed.Wait()
	close(allOpen)
	failures.Wait()
	close(stopSampling)
	<-sampled
	st, err := e.client.Stats("test")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("threads: %d at start, max %d during the run; open at once: %d; stats: %+v",
		startThreads, maxThreads.Load(), maxOpen.Load(), st)
	if errs.Load() != 0 {
		t.Fatalf("%d of %d connections failed; first: %v", errs.Load(), n, firstErr.Load())
	}
	if maxOpen.Load() != n {
		t.Errorf("only %d connections were open at once", maxOpen.Load())
	}
	if st.StreamsOpened < n {
		t.Errorf("StreamsOpened = %d", st.StreamsOpened)
	}
	if m := maxThreads.Load(); m >= 100 || m <= 0 {
		t.Errorf("OS threads reached %d (want < 100)", m)
	}
}

func TestHTTPClientThroughProxy(t *testing.T) {
	e := newEnv(t, nil)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s", r.URL.Path)
	}))
	defer hs.Close()
	tr := &http.Transport{DialContext: e.client.Dialer("test").DialContext}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	for i := 0; i < 20; i++ {
		resp, err := hc.Get(fmt.Sprintf("%s/item/%d", hs.URL, i))
		if err != nil {
			t.Fatalf("GET: %v", err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("hello /item/%d", i); string(body) != want {
			t.Fatalf("body %q, want %q", body, want)
		}
	}
	st, err := e.client.Stats("test")
	if err != nil {
		t.Fatal(err)
	}
	if st.StreamsOpened == 0 {
		t.Errorf("no stream went through the proxy: %+v", st)
	}
}

func TestDeadlines(t *testing.T) {
	e := newEnv(t, nil)
	d := e.client.Dialer("test")
	c, err := d.Dial("tcp", e.silent)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("nobody answers")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	start := time.Now()
	_, err = c.Read(make([]byte, 16))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past deadline: %v, want a timeout", err)
	}
	if el := time.Since(start); el < 150*time.Millisecond || el > 5*time.Second {
		t.Errorf("deadline fired after %v", el)
	}

	// The connection stays usable after a timeout.
	ec, err := d.DialContext(context.Background(), "tcp", e.echo)
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	_ = ec.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := ec.Read(make([]byte, 4)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("echo read: %v", err)
	}
	_ = ec.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := ec.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(ec, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo after timeout: %q %v", buf, err)
	}
	if ec.RemoteAddr().String() != e.echo {
		t.Errorf("RemoteAddr %v, want %s", ec.RemoteAddr(), e.echo)
	}
}

// silentProxyClient opens a client whose proxy "hole" accepts TCP and never speaks TLS, and
// hangs up after hangUp (0: never).
func silentProxyClient(t *testing.T, e *env, hangUp time.Duration) *anytls.Client {
	t.Helper()
	hole := startTCP(t, func(c net.Conn) {
		if hangUp > 0 {
			_ = c.SetReadDeadline(time.Now().Add(hangUp))
		}
		_, _ = io.Copy(io.Discard, c)
	})
	_, port, _ := net.SplitHostPort(hole)
	var p int
	fmt.Sscan(port, &p)
	client, err := anytls.Open(proxyTOML("hole", "127.0.0.1", p, e.caFile))
	if err != nil {
		t.Fatal(err)
	}
	return client
}

func TestContextCancellation(t *testing.T) {
	e := newEnv(t, nil)
	// The open hangs in the handshake. The proxy hangs up after a second, so that the pool's
	// background handshake ends soon too.
	client := silentProxyClient(t, e, time.Second)
	defer client.Close()

	// Cancelled while the open is in progress.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	go func() { time.Sleep(200 * time.Millisecond); cancel() }()
	start := time.Now()
	c, err := client.DialContext(ctx, "hole", "tcp", e.echo)
	if err == nil {
		c.Close()
		t.Fatal("dial through a silent proxy succeeded")
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled dial: %v", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("cancellation took %v", el)
	}

	// A context deadline.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	start = time.Now()
	if _, err = client.DialContext(ctx2, "hole", "tcp", e.echo); !errors.Is(err, context.DeadlineExceeded) &&
		!errors.Is(err, anytls.ErrTimeout) {
		t.Fatalf("dial past the deadline: %v", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("deadline took %v", el)
	}

	// Already cancelled: no open at all.
	ctx3, cancel3 := context.WithCancel(context.Background())
	cancel3()
	if _, err = e.client.DialContext(ctx3, "test", "tcp", e.echo); !errors.Is(err, context.Canceled) {
		t.Fatalf("dial with a cancelled context: %v", err)
	}
}

// Cancelled dials end in the library: nothing is left running on their behalf, so Close does
// not wait for them. Before, each cancelled dial left its blocking C open running until the
// open's timeout, and Close waited behind them.
func TestCancelledDialsLeaveNothingRunning(t *testing.T) {
	e := newEnv(t, nil)
	client := silentProxyClient(t, e, 0) // silent for as long as the test runs
	defer client.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := client.Dialer("hole")
			d.Timeout = 30 * time.Second
			if c, err := d.DialContext(ctx, "tcp", e.echo); err == nil {
				c.Close()
				errs <- errors.New("a dial through a silent proxy succeeded")
			} else if !errors.Is(err, context.Canceled) {
				errs <- err
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	start := time.Now()
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("Close took %v after the dials were cancelled", el)
	}
}

func TestTargetRefused(t *testing.T) {
	e := newEnv(t, nil)
	addr := closedPort(t)
	// The dial does not wait for the SYNACK: the refusal is the first read's error.
	c, err := e.client.DialContext(context.Background(), "test", "tcp", addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = c.Read(make([]byte, 16))
	var oe *net.OpError
	if !errors.As(err, &oe) {
		t.Fatalf("err = %v (%T), want a *net.OpError", err, err)
	}
	if !errors.Is(err, anytls.ErrTargetRefused) {
		t.Fatalf("err = %v, want ErrTargetRefused", err)
	}
	var ae *anytls.Error
	if !errors.As(err, &ae) || ae.Message == "" || !strings.Contains(err.Error(), ae.Message) {
		t.Fatalf("err %v carries no server text", err)
	}
	if !strings.Contains(strings.ToLower(err.Error()), "refused") {
		t.Errorf("err %q does not name the refusal", err)
	}
	t.Logf("refused: %v", err)

	if _, err := e.client.Dialer("nope").Dial("tcp", e.echo); !errors.Is(err, anytls.ErrUnknownProxy) {
		t.Errorf("unknown proxy: %v", err)
	}
	if _, err := e.client.Dialer("test").Dial("udp", e.echo); err == nil {
		t.Error("udp dial succeeded")
	}
}

func TestPoolReconfigure(t *testing.T) {
	e := newEnv(t, nil)
	cfg, err := e.client.PoolConfig("live")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.IdleSessionCheckInterval != time.Second || cfg.EnsureIdleSession != 0 || !cfg.SessionReuse {
		t.Fatalf("initial config %+v", cfg)
	}
	bad := cfg
	bad.IdleSessionCheckInterval = 0
	if err := e.client.SetPoolConfig("live", bad); !errors.Is(err, anytls.ErrConfig) ||
		!strings.Contains(err.Error(), "idle-session-check-interval") {
		t.Fatalf("bad config: %v", err)
	}
	cfg.EnsureIdleSession = 3
	if err := e.client.SetPoolConfig("live", cfg); err != nil {
		t.Fatal(err)
	}
	back, err := e.client.PoolConfig("live")
	if err != nil || back != cfg {
		t.Fatalf("read back %+v, %v; want %+v", back, err, cfg)
	}
	start := time.Now()
	var st anytls.PoolStats
	for time.Since(start) < 15*time.Second {
		if st, err = e.client.Stats("live"); err != nil {
			t.Fatal(err)
		}
		if st.Idle >= 3 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("idle %d after %v: %+v", st.Idle, time.Since(start).Round(time.Millisecond), st)
	if st.Idle != 3 {
		t.Fatalf("Idle = %d, want 3", st.Idle)
	}
	if err := e.client.Reset("live"); err != nil {
		t.Fatal(err)
	}
	if st, err = e.client.Stats("live"); err != nil || st.ClosedReset < 3 {
		t.Fatalf("after Reset: %+v %v", st, err)
	}
	if _, err := e.client.Stats("nope"); !errors.Is(err, anytls.ErrUnknownProxy) {
		t.Errorf("Stats of an unknown proxy: %v", err)
	}
}

func TestOpenErrorsAndClose(t *testing.T) {
	if _, err := anytls.Open("[[proxies]\nname = 1"); !errors.Is(err, anytls.ErrConfig) {
		t.Errorf("bad TOML: %v", err)
	}
	if _, err := anytls.OpenFile("/nonexistent/anytls.toml"); !errors.Is(err, anytls.ErrIO) ||
		!strings.Contains(err.Error(), "/nonexistent/anytls.toml") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := anytls.StartServer("lisen = 1"); !errors.Is(err, anytls.ErrConfig) {
		t.Errorf("bad server TOML: %v", err)
	}

	e := newEnv(t, nil)
	path := filepath.Join(e.dir, "client.toml")
	if err := os.WriteFile(path, []byte(proxyTOML("file", "127.0.0.1", e.server.Port(), e.caFile)), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := anytls.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := c.Dialer("file").Dial("tcp", e.echo)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	// The connection sees the end of the stream.
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := conn.Read(make([]byte, 8)); n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read after client Close: %d %v", n, err)
	}
	conn.Close()
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := c.Dialer("file").Dial("tcp", e.echo); !errors.Is(err, anytls.ErrClosed) {
		t.Errorf("dial on a closed client: %v", err)
	}
	if _, err := c.Stats("file"); !errors.Is(err, anytls.ErrClosed) {
		t.Errorf("Stats on a closed client: %v", err)
	}
}

func TestLogHook(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	if err := anytls.SetLogger(func(level anytls.LogLevel, msg string) {
		mu.Lock()
		lines = append(lines, level.String()+": "+msg)
		mu.Unlock()
	}, anytls.LogInfo); err != nil {
		t.Fatal(err)
	}
	defer anytls.SetLogger(nil, anytls.LogWarn)
	if err := anytls.SetLogger(nil, anytls.LogLevel(9)); !errors.Is(err, anytls.ErrInvalidArgument) {
		t.Errorf("bad level: %v", err)
	}
	e := newEnv(t, nil) // the server logs that it listens
	c, err := e.client.Dialer("test").Dial("tcp", e.echo)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(lines)
		mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(lines) == 0 {
		t.Fatal("no log line reached the Go callback")
	}
	t.Logf("%d log lines, first: %s", len(lines), lines[0])
}

func TestLargeTransfer(t *testing.T) {
	e := newEnv(t, nil)
	c, err := e.client.Dialer("live").Dial("tcp", e.echo)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	data := make([]byte, 4<<20)
	rand.New(rand.NewSource(7)).Read(data)
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	go func() { _, _ = c.Write(data) }()
	got := make([]byte, len(data))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("4 MiB echo mismatch")
	}
}

func TestWrongPasswordIsErrAuth(t *testing.T) {
	e := newEnv(t, nil)
	toml := strings.Replace(proxyTOML("bad", "127.0.0.1", e.server.Port(), e.caFile),
		"password = \"secret\"", "password = \"not the password\"", 1)
	c, err := anytls.Open(toml)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer c.Close()
	conn, err := c.DialContext(context.Background(), "bad", "tcp", e.echo)
	if err == nil {
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err = conn.Write([]byte("x")); err == nil {
			_, err = conn.Read(make([]byte, 1))
		}
	}
	if !errors.Is(err, anytls.ErrAuth) {
		t.Fatalf("err = %v, want one wrapping ErrAuth", err)
	}
	if !strings.Contains(err.Error(), "wrong password?") {
		t.Errorf("err %q does not name the inference", err)
	}
}

// Each failed call carries its own message although no OS thread is locked: 64 goroutines
// fail at once on one Client (each naming a proxy of its own) and on pending opens, while
// runtime.Gosched moves them between threads.
func TestErrorMessagesStayWithTheirCall(t *testing.T) {
	e := newEnv(t, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 64*20)
	for g := 0; g < 64; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				name := fmt.Sprintf("nope-%d-%d", g, i)
				runtime.Gosched()
				_, err := e.client.Stats(name)
				if !errors.Is(err, anytls.ErrUnknownProxy) ||
					!strings.Contains(err.Error(), `unknown proxy "`+name+`"`) {
					errs <- fmt.Errorf("Stats(%q): %v", name, err)
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// A pending open's failure comes from the open's own record: the refused port's text.
	closed := closedPort(t)
	c, err := anytls.Open(proxyTOML("down", "127.0.0.1", mustPort(t, closed), e.caFile))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Dialer("down").Dial("tcp", e.echo)
	if !errors.Is(err, anytls.ErrConnect) || !strings.Contains(err.Error(), "refused") {
		t.Errorf("dial through a proxy that is down: %v", err)
	}
}

func mustPort(t *testing.T, address string) int {
	t.Helper()
	_, port, err := net.SplitHostPort(address)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
