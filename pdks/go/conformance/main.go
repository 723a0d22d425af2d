// Command conformance is the Go PDK's conformance plugin: every export of
// conformance/CONTRACT.md, written with the PDK's public API only.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -ldflags="-s -w" -o conformance.wasm .
package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"extism-platform.dev/pdk"
)

func main() {}

//go:wasmexport echo
func echo() int32 {
	pdk.Output(pdk.Input())
	return 0
}

//go:wasmexport greet
func greet() int32 {
	pdk.OutputString("Hello, " + pdk.InputString() + "!")
	return 0
}

//go:wasmexport reverse
func reverse() int32 {
	data := pdk.Input()
	for i, j := 0, len(data)-1; i < j; i, j = i+1, j-1 {
		data[i], data[j] = data[j], data[i]
	}
	pdk.Output(data)
	return 0
}

//go:wasmexport input_size
func inputSize() int32 {
	pdk.OutputString(strconv.Itoa(len(pdk.Input())))
	return 0
}

//go:wasmexport json_sum
func jsonSum() int32 {
	return pdk.Return(sum())
}

func sum() error {
	var args struct {
		A *int64 `json:"a"`
		B *int64 `json:"b"`
	}
	if err := pdk.InputJSON(&args); err != nil {
		return fmt.Errorf("json_sum: %w", err)
	}
	if args.A == nil || args.B == nil {
		return errors.New("json_sum: the input needs integer members \"a\" and \"b\"")
	}
	return pdk.OutputJSON(map[string]int64{"sum": *args.A + *args.B})
}

//go:wasmexport config
func config() int32 {
	key := pdk.InputString()
	value, ok := pdk.GetConfig(key)
	if !ok {
		return pdk.Return(fmt.Errorf("config key '%s' is not set", key))
	}
	pdk.OutputString(value)
	return 0
}

//go:wasmexport var_counter
func varCounter() int32 {
	count := 0
	if value, ok := pdk.GetVar("counter"); ok {
		n, err := strconv.Atoi(string(value))
		if err != nil {
			return pdk.Return(fmt.Errorf("var_counter: var 'counter' is not a number: %w", err))
		}
		count = n
	}
	next := strconv.Itoa(count + 1)
	pdk.SetVar("counter", []byte(next))
	pdk.OutputString(next)
	return 0
}

//go:wasmexport var_set
func varSet() int32 {
	key, value, _ := strings.Cut(pdk.InputString(), "=")
	pdk.SetVar(key, []byte(value))
	return 0
}

//go:wasmexport var_get
func varGet() int32 {
	key := pdk.InputString()
	value, ok := pdk.GetVar(key)
	if !ok {
		return pdk.Return(fmt.Errorf("var '%s' is not set", key))
	}
	pdk.Output(value)
	return 0
}

//go:wasmexport var_delete
func varDelete() int32 {
	pdk.RemoveVar(pdk.InputString())
	return 0
}

//go:wasmexport fail
func fail() int32 {
	pdk.SetErrorString(pdk.InputString())
	return 1
}

//go:wasmexport trap
func trap() int32 {
	panic("trap: the conformance plugin panics on purpose")
}

//go:wasmexport http_get
func httpGet() int32 {
	req := pdk.NewHTTPRequest("GET", pdk.InputString()).SetHeader("X-Conformance", "1")
	return pdk.Return(send(req))
}

//go:wasmexport http_post
func httpPost() int32 {
	url, ok := pdk.GetConfig("url")
	if !ok {
		return pdk.Return(errors.New("config key 'url' is not set"))
	}
	req := pdk.NewHTTPRequest("POST", url).
		SetHeader("X-Conformance", "1").
		SetHeader("Content-Type", "text/plain")
	req.Body = pdk.Input()
	return pdk.Return(send(req))
}

// send performs req and outputs "<status>\n<body>".
func send(req *pdk.HTTPRequest) error {
	res, err := req.Send()
	if err != nil {
		return err
	}
	pdk.Output(append([]byte(strconv.Itoa(res.Status)+"\n"), res.Body...))
	return nil
}

// reverseBytes is the host function the runner provides: a block in, a new
// block holding its bytes reversed out.
//
//go:wasmimport extism:host/user reverse_bytes
func reverseBytes(offset uint64) uint64

//go:wasmexport host_reverse
func hostReverse() int32 {
	in := pdk.AllocateBytes(pdk.Input())
	out := pdk.FindMemory(reverseBytes(in.Offset()))
	in.Free()
	pdk.OutputMemory(out)
	return 0
}

//go:wasmexport log
func log() int32 {
	msg := pdk.InputString()
	for _, level := range []pdk.LogLevel{pdk.LevelDebug, pdk.LevelInfo, pdk.LevelWarn, pdk.LevelError} {
		pdk.Log(level, level.String()+": "+msg)
	}
	return 0
}

//go:wasmexport spin
func spin() int32 {
	for {
	}
}

// grown keeps the last allocation of grow reachable, so that the memory is
// really taken.
var grown []byte

//go:wasmexport grow
func grow() int32 {
	pages, err := strconv.Atoi(pdk.InputString())
	if err != nil || pages < 0 {
		return pdk.Return(fmt.Errorf("grow: %q is not a page count", pdk.InputString()))
	}
	grown = make([]byte, pages*65536)
	for i := 0; i < len(grown); i += 4096 {
		grown[i] = 1
	}
	pdk.OutputString("ok")
	return 0
}

//go:wasmexport large_output
func largeOutput() int32 {
	n, err := strconv.Atoi(pdk.InputString())
	if err != nil || n < 0 {
		return pdk.Return(fmt.Errorf("large_output: %q is not a byte count", pdk.InputString()))
	}
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(i % 251)
	}
	pdk.Output(data)
	return 0
}
