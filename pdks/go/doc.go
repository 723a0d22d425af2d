// Package pdk writes Extism plugins in Go.
//
// A plugin is a wasip1 module whose exported functions take no arguments and
// return an int32 status: 0 for success, non-zero after an error was set. The
// call's input, output and error, the plugin's config, its vars, logging and
// HTTP all go through the Extism kernel (the host module "extism:host/env");
// this package wraps every one of those imports.
//
//	package main
//
//	import "extism-platform.dev/pdk"
//
//	//go:wasmexport greet
//	func greet() int32 {
//		pdk.OutputString("Hello, " + pdk.InputString() + "!")
//		return 0
//	}
//
//	func main() {}
//
// Build with Go 1.24 or newer:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugin.wasm .
//
// and load the module with WASI enabled. Only the files that declare
// wasm imports are restricted to GOOS=wasip1; the rest of the package (request
// encoding, log levels) builds everywhere so that it can be unit tested with
// a plain `go test`.
package pdk
