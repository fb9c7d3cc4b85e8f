module anytls-bench-go-binding

go 1.23.1

require (
	github.com/anytls/sing-anytls v0.0.8
	github.com/libanytls/anytls-go-binding v0.0.0
	github.com/sagernet/sing v0.6.1
)

require golang.org/x/sys v0.30.0 // indirect

replace github.com/libanytls/anytls-go-binding => ../../../bindings/go
