package anytls_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	anytls "github.com/libanytls/anytls-go-binding"
)

// writeTestPKI writes ca.pem, server.pem and server.key into dir: a CA and a server
// certificate for localhost / 127.0.0.1 signed by it. It returns the three paths.
func writeTestPKI(dir string) (caFile, certFile, keyFile string, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "anytls-go-test-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return
	}
	caFile = filepath.Join(dir, "ca.pem")
	certFile = filepath.Join(dir, "server.pem")
	keyFile = filepath.Join(dir, "server.key")
	write := func(path, kind string, b []byte) error {
		return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: b}), 0o600)
	}
	if err = write(caFile, "CERTIFICATE", caDER); err != nil {
		return
	}
	if err = write(certFile, "CERTIFICATE", der); err != nil {
		return
	}
	err = write(keyFile, "EC PRIVATE KEY", keyDER)
	return
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string { return strconv.Quote(s) }

func serverTOML(certFile, keyFile string) string {
	return fmt.Sprintf("listen = \"127.0.0.1:0\"\ncertificate = %s\nprivate-key = %s\n"+
		"[[users]]\nname = \"tester\"\npassword = \"secret\"\n", tomlString(certFile), tomlString(keyFile))
}

func proxyTOML(name, server string, port int, caFile string) string {
	return fmt.Sprintf("[[proxies]]\nname = %s\ntype = \"anytls\"\nserver = %s\nport = %d\n"+
		"password = \"secret\"\nca-file = %s\n", tomlString(name), tomlString(server), port, tomlString(caFile))
}

// env is one test's world: a PKI, an AnyTLS server, an echo server, and a client with the
// proxies "test" and "live" (the latter with a 1s check interval).
type env struct {
	dir      string
	caFile   string
	server   *anytls.Server
	client   *anytls.Client
	echo     string // host:port of the echo server
	silent   string // accepts and never answers
	echoConn sync.WaitGroup
}

func newEnv(t testing.TB, opts *anytls.Options) *env {
	t.Helper()
	e := &env{dir: t.TempDir()}
	ca, cert, key, err := writeTestPKI(e.dir)
	if err != nil {
		t.Fatalf("test PKI: %v", err)
	}
	e.caFile = ca
	e.server, err = anytls.StartServer(serverTOML(cert, key))
	if err != nil {
		t.Fatalf("StartServer: %v", err)
	}
	t.Cleanup(func() {
		if err := e.server.Close(); err != nil {
			t.Errorf("server Close: %v", err)
		}
	})
	e.echo = startTCP(t, func(c net.Conn) { _, _ = io.Copy(c, c) })
	e.silent = startTCP(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
	toml := "log-level = \"warning\"\n" +
		proxyTOML("test", "127.0.0.1", e.server.Port(), ca) +
		proxyTOML("live", "localhost", e.server.Port(), ca) +
		"[proxies.session-override]\nidle-session-check-interval = \"1s\"\n"
	e.client, err = anytls.OpenWithOptions(toml, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := e.client.Close(); err != nil {
			t.Errorf("client Close: %v", err)
		}
	})
	return e
}

// startTCP runs a TCP server on 127.0.0.1:0 handling each connection with handle.
func startTCP(t testing.TB, handle func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]struct{}{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = struct{}{}
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				handle(c)
				c.Close()
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return l.Addr().String()
}

// closedPort is a 127.0.0.1 address nobody listens on.
func closedPort(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// osThreads reads Threads: from /proc/self/status (-1 if unavailable).
func osThreads() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err == nil {
				return n
			}
		}
	}
	return -1
}
