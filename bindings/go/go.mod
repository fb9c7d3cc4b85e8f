module github.com/libanytls/anytls-go-binding

go 1.22
