// The Go binding (bindings/go, over libanytls) against github.com/anytls/sing-anytls used
// directly, as a Go user would pick between them: the same AnyTLS server, the same target, the
// same work, in interleaved rounds.
//
// tools/bench/go-binding/run starts the server (`anytls server`) and the target
// (bench_loadgen target) and runs this program; see there for the usage.
//
// Parts, each run by both clients in every round:
//   - parallel: 16 streams at once, each uploading its share of -bytes to the sink and then
//     downloading as much from the source, on a stream of its own each way: aggregate MB/s;
//   - single: the same with one stream;
//   - CPU: this process's user + sys time (getrusage) over the two throughput parts, per GiB
//     moved: the binding's figure includes the library's reactor thread, which runs in this
//     process as sing-anytls's goroutines do;
//   - opens: -opens streams one after another, each opened, one byte echoed, closed: p50
//     and p99 in microseconds (after 20 warm-up streams, so both reuse idle sessions).
package main

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	anytls "github.com/libanytls/anytls-go-binding"

	singanytls "github.com/anytls/sing-anytls"
	"github.com/sagernet/sing/common/logger"
	M "github.com/sagernet/sing/common/metadata"
)

const stepTimeout = 60 * time.Second

type client struct {
	name  string
	dial  func(ctx context.Context, target string) (net.Conn, error)
	close func()
}

func bindingClient(server, password string) (*client, error) {
	host, port, err := net.SplitHostPort(server)
	if err != nil {
		return nil, err
	}
	config := fmt.Sprintf("log-level = \"error\"\n\n[[proxies]]\nname = \"bench\"\ntype = \"anytls\"\n"+
		"server = %q\nport = %s\npassword = %q\nskip-cert-verify = true\n", host, port, password)
	c, err := anytls.Open(config)
	if err != nil {
		return nil, err
	}
	return &client{
		name: "binding",
		dial: func(ctx context.Context, target string) (net.Conn, error) {
			return c.DialContext(ctx, "bench", "tcp", target)
		},
		close: func() { c.Close() },
	}, nil
}

func singAnytlsClient(server, password string) (*client, error) {
	dialer := &tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"}}
	c, err := singanytls.NewClient(context.Background(), singanytls.ClientConfig{
		Password: password,
		DialOut: func(ctx context.Context) (net.Conn, error) {
			return dialer.DialContext(ctx, "tcp", server)
		},
		Logger: logger.NOP(),
	})
	if err != nil {
		return nil, err
	}
	return &client{
		name: "sing-anytls",
		dial: func(ctx context.Context, target string) (net.Conn, error) {
			return c.CreateProxy(ctx, M.ParseSocksaddr(target))
		},
		close: func() { c.Close() },
	}, nil
}

// command sends the target's 9-byte command: a mode byte and a big-endian u64.
func command(conn net.Conn, mode byte, n uint64) error {
	var b [9]byte
	b[0] = mode
	binary.BigEndian.PutUint64(b[1:], n)
	_, err := conn.Write(b[:])
	return err
}

// openCommand dials the target through c and sends it a command; done closes the stream (the
// dial's context stays alive until then, as each client may tie the stream to it).
func openCommand(c *client, target string, mode byte, n uint64) (conn net.Conn, done func(), err error) {
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	conn, err = c.dial(ctx, target)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	done = func() {
		conn.Close()
		cancel()
	}
	conn.SetDeadline(time.Now().Add(stepTimeout))
	if err := command(conn, mode, n); err != nil {
		done()
		return nil, nil, err
	}
	return conn, done, nil
}

func upload(c *client, target string, n uint64, chunk []byte) error {
	conn, done, err := openCommand(c, target, 'S', n)
	if err != nil {
		return err
	}
	defer done()
	for left := n; left > 0; {
		part := chunk[:min(uint64(len(chunk)), left)]
		if _, err := conn.Write(part); err != nil {
			return fmt.Errorf("upload: %w", err)
		}
		left -= uint64(len(part))
	}
	var ack [1]byte
	if _, err := io.ReadFull(conn, ack[:]); err != nil {
		return fmt.Errorf("the sink's answer: %w", err)
	}
	return nil
}

func download(c *client, target string, n uint64, chunk []byte) error {
	conn, done, err := openCommand(c, target, 'D', n)
	if err != nil {
		return err
	}
	defer done()
	got, err := io.CopyBuffer(io.Discard, io.LimitReader(conn, int64(n)), chunk)
	if err != nil || uint64(got) != n {
		return fmt.Errorf("download: %d of %d bytes: %v", got, n, err)
	}
	return nil
}

func cpuSeconds() float64 {
	var u syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &u)
	return float64(u.Utime.Sec+u.Stime.Sec) + float64(u.Utime.Usec+u.Stime.Usec)/1e6
}

// throughput moves `total` up and `total` down over `streams` streams at once; MB/s (10^6).
func throughput(c *client, target string, streams int, total uint64) (float64, error) {
	per := total / uint64(streams)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 2*streams)
	for i := 0; i < streams; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// 32 KiB: sing-anytls writes one frame per Write and a frame holds at most
			// 65,535 bytes, so a 64 KiB Write does not arrive whole (its users split writes).
			chunk := make([]byte, 32<<10)
			if err := upload(c, target, per, chunk); err != nil {
				errs <- err
				return
			}
			if err := download(c, target, per, chunk); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	return float64(2*per*uint64(streams)) / time.Since(start).Seconds() / 1e6, nil
}

func openEchoClose(c *client, target string) (time.Duration, error) {
	start := time.Now()
	conn, done, err := openCommand(c, target, 'E', 0)
	if err != nil {
		return 0, err
	}
	defer done()
	if _, err := conn.Write([]byte{42}); err != nil {
		return 0, err
	}
	var back [1]byte
	if _, err := io.ReadFull(conn, back[:]); err != nil || back[0] != 42 {
		return 0, fmt.Errorf("echo: %v", err)
	}
	return time.Since(start), nil
}

func percentile(sorted []time.Duration, q float64) float64 {
	i := int(q * float64(len(sorted)-1))
	return float64(sorted[i].Microseconds())
}

type result map[string]float64

func runParts(c *client, target string, total uint64, opens int) (result, error) {
	r := result{}
	cpu0 := cpuSeconds()
	var err error
	if r["parallel"], err = throughput(c, target, 16, total); err != nil {
		return nil, fmt.Errorf("parallel: %w", err)
	}
	if r["single"], err = throughput(c, target, 1, total); err != nil {
		return nil, fmt.Errorf("single: %w", err)
	}
	r["cpu_per_gib"] = (cpuSeconds() - cpu0) / (float64(4*total) / (1 << 30))
	for i := 0; i < 20; i++ {
		if _, err := openEchoClose(c, target); err != nil {
			return nil, fmt.Errorf("warm-up open: %w", err)
		}
	}
	samples := make([]time.Duration, 0, opens)
	for i := 0; i < opens; i++ {
		d, err := openEchoClose(c, target)
		if err != nil {
			return nil, fmt.Errorf("open: %w", err)
		}
		samples = append(samples, d)
	}
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	r["open_p50"], r["open_p99"] = percentile(samples, 0.5), percentile(samples, 0.99)
	return r, nil
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func cell(v []float64) string {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	m := median(s)
	if len(s) == 1 || s[0] == s[len(s)-1] {
		return format(m)
	}
	return fmt.Sprintf("%s [%s–%s]", format(m), format(s[0]), format(s[len(s)-1]))
}

func format(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func main() {
	server := flag.String("server", "", "the AnyTLS server, 127.0.0.1:PORT")
	target := flag.String("target", "", "bench_loadgen target, 127.0.0.1:PORT")
	password := flag.String("password", "", "the server's password")
	rounds := flag.Int("rounds", 3, "interleaved rounds")
	total := flag.Uint64("bytes", 512<<20, "bytes up (and as many down) per throughput part")
	opens := flag.Int("opens", 1000, "sequential opens per round")
	flag.Parse()
	if *server == "" || *target == "" || *password == "" {
		fmt.Fprintln(os.Stderr, "usage: go-binding -server 127.0.0.1:PORT -target 127.0.0.1:PORT -password P [-rounds N] [-bytes N] [-opens N]")
		os.Exit(2)
	}
	makers := []func(string, string) (*client, error){bindingClient, singAnytlsClient}
	names := []string{"binding", "sing-anytls"}
	results := map[string]map[string][]float64{}
	for round := 1; round <= *rounds; round++ {
		for i, make := range makers {
			c, err := make(*server, *password)
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", names[i], err)
				os.Exit(1)
			}
			r, err := runParts(c, *target, *total, *opens)
			c.close()
			if err != nil {
				fmt.Fprintf(os.Stderr, "round %d: %s: %v\n", round, c.name, err)
				os.Exit(1)
			}
			var parts []string
			for _, k := range []string{"parallel", "single", "cpu_per_gib", "open_p50", "open_p99"} {
				if results[c.name] == nil {
					results[c.name] = map[string][]float64{}
				}
				results[c.name][k] = append(results[c.name][k], r[k])
				parts = append(parts, k+" "+format(r[k]))
			}
			fmt.Fprintf(os.Stderr, "round %d/%d: %s: %s\n", round, *rounds, c.name, strings.Join(parts, ", "))
		}
	}
	keys := []string{"parallel", "single", "cpu_per_gib", "open_p50", "open_p99"}
	fmt.Printf("| client | 16 streams MB/s | 1 stream MB/s | CPU s per GiB | open p50 µs | open p99 µs |\n")
	fmt.Printf("|---|---:|---:|---:|---:|---:|\n")
	for _, name := range names {
		var cells []string
		for _, k := range keys {
			cells = append(cells, cell(results[name][k]))
		}
		fmt.Printf("| %s | %s |\n", name, strings.Join(cells, " | "))
	}
	var ratios []string
	for _, k := range keys {
		ratios = append(ratios, fmt.Sprintf("%.2f×", median(results["binding"][k])/median(results["sing-anytls"][k])))
	}
	fmt.Printf("| binding ÷ sing-anytls | %s |\n", strings.Join(ratios, " | "))
}
