package anytls_test

import (
	"fmt"
	"io"
	"log"
	"net"
	"os"

	anytls "github.com/libanytls/anytls-go-binding"
)

// An embedded AnyTLS server, a client with one proxy, and a connection through it to a
// local echo service.
func Example() {
	dir, err := os.MkdirTemp("", "anytls-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	caFile, certFile, keyFile, err := writeTestPKI(dir) // crypto/x509, see helpers_test.go
	if err != nil {
		log.Fatal(err)
	}

	server, err := anytls.StartServer(fmt.Sprintf(`listen = "127.0.0.1:0"
certificate = %q
private-key = %q
[[users]]
name = "alice"
password = "secret"
`, certFile, keyFile))
	if err != nil {
		log.Fatal(err)
	}
	defer server.Close()

	client, err := anytls.Open(fmt.Sprintf(`[[proxies]]
name = "example"
type = "anytls"
server = "127.0.0.1"
port = %d
password = "secret"
ca-file = %q
`, server.Port(), caFile))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	// A target: a TCP echo service.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()

	conn, err := client.Dialer("example").Dial("tcp", l.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "hello through AnyTLS")
	reply := make([]byte, len("hello through AnyTLS"))
	if _, err := io.ReadFull(conn, reply); err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(reply))
	// Output: hello through AnyTLS
}
