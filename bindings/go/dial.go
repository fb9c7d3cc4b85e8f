package anytls

import (
	"context"
	"errors"
	"math"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"
)

// Dialer opens connections through one proxy of a Client. Its DialContext has the
// signature of net.Dialer.DialContext and http.Transport.DialContext.
type Dialer struct {
	Client *Client
	Proxy  string // the name of a [[proxies]] entry
	// Timeout bounds a dial whose context has no deadline (0: Options.DialTimeout).
	Timeout time.Duration
}

// Dialer returns a Dialer for proxy.
func (c *Client) Dialer(proxy string) *Dialer { return &Dialer{Client: c, Proxy: proxy} }

// Dial is DialContext with context.Background().
func (d *Dialer) Dial(network, address string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, address)
}

// DialContext opens a proxied TCP connection to address ("host:port"; the host is
// resolved by the proxy server) through the Dialer's proxy.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	return d.Client.dial(ctx, d.Proxy, network, address, d.Timeout)
}

// DialContext opens a proxied TCP connection to address ("host:port") through proxy. network
// must be "tcp", "tcp4" or "tcp6" (the proxy server picks the address family).
//
// The connection is a socket relayed by the library to the AnyTLS stream: reads, writes and
// deadlines use Go's network poller. Closing it ends the stream. AnyTLS has no half-close, so
// the returned net.Conn offers no CloseWrite.
//
// Cancelling ctx (or its deadline passing) aborts the dial with ctx.Err(); the deadline is
// also passed to the library as the open's timeout. A target the proxy server cannot reach is
// an error wrapping ErrTargetRefused, whose message is the server's text.
func (c *Client) DialContext(ctx context.Context, proxy, network, address string) (net.Conn, error) {
	return c.dial(ctx, proxy, network, address, 0)
}

func (c *Client) dial(ctx context.Context, proxy, network, address string, timeout time.Duration) (net.Conn, error) {
	opErr := func(err error) error {
		return &net.OpError{Op: "dial", Net: network, Addr: stringAddr{network, address}, Err: err}
	}
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, opErr(net.UnknownNetworkError(network))
	}
	host, portText, err := net.SplitHostPort(address)
	if err != nil {
		return nil, opErr(err)
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		p, lerr := net.LookupPort(network, portText)
		if lerr != nil {
			return nil, opErr(lerr)
		}
		port = uint64(p)
	}
	if host == "" {
		return nil, opErr(errors.New("missing host"))
	}
	if err := ctx.Err(); err != nil {
		return nil, opErr(err)
	}

	// A slot: at most MaxConcurrentDials opens in flight at once.
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, opErr(ctx.Err())
	}
	if timeout <= 0 {
		timeout = c.opts.DialTimeout
	}
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
		if timeout <= 0 {
			<-c.slots
			return nil, opErr(context.DeadlineExceeded)
		}
	}
	ms := (timeout + time.Millisecond - 1) / time.Millisecond
	if ms > math.MaxInt32 {
		ms = math.MaxInt32
	}

	fd, err := c.openFD(ctx, proxy, host, uint16(port), int(ms))
	<-c.slots
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ErrCancelled) {
			return nil, opErr(ctxErr)
		}
		return nil, opErr(err)
	}
	f := os.NewFile(uintptr(fd), "anytls:"+proxy+":"+address)
	nc, err := net.FileConn(f) // dups the fd and registers it with the poller
	f.Close()
	if err != nil {
		return nil, opErr(err)
	}
	return &conn{Conn: nc, remote: stringAddr{"tcp", address}}, nil
}

// conn is the socket connection, reporting the proxied target as its remote address and
// hiding CloseWrite (AnyTLS has no half-close: shutdown would end the whole stream).
//
// The dial does not wait for the server's SYNACK, so a target the server refuses ends the
// stream after the conn was handed out. The socket can only show that as its end; Read and
// Write ask the library why the stream ended (anytls_stream_fd_error) and return that error
// instead, wrapped in a *net.OpError: errors.Is(err, ErrTargetRefused) holds for a refusal.
type conn struct {
	net.Conn
	remote net.Addr
}

func (c *conn) RemoteAddr() net.Addr { return c.remote }

func (c *conn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n == 0 && err != nil && !isTimeout(err) {
		if endErr := c.endError(); endErr != nil {
			return 0, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.remote, Err: endErr}
		}
	}
	return n, err
}

func (c *conn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if err != nil && !isTimeout(err) {
		if endErr := c.endError(); endErr != nil {
			return n, &net.OpError{Op: "write", Net: "tcp", Source: c.LocalAddr(), Addr: c.remote, Err: endErr}
		}
	}
	return n, err
}

// endError is why the library ended the stream behind this socket, or nil.
func (c *conn) endError() error {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	var endErr error
	_ = raw.Control(func(fd uintptr) { endErr = streamFDError(int(fd)) })
	return endErr
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// stringAddr is a net.Addr for an unresolved "host:port".
type stringAddr struct{ net, addr string }

func (a stringAddr) Network() string { return a.net }
func (a stringAddr) String() string  { return a.addr }
