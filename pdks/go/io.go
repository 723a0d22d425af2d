//go:build wasip1

package pdk

import (
	"encoding/binary"
	"encoding/json"
	"unsafe"
)

// Input returns a copy of the call's input.
//
//	data := pdk.Input()
func Input() []byte {
	n := extismInputLength()
	buf := make([]byte, n)
	i := uint64(0)
	for ; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(buf[i:], extismInputLoadU64(i))
	}
	for ; i < n; i++ {
		buf[i] = byte(extismInputLoadU8(i))
	}
	return buf
}

// InputString returns the call's input as a string (not checked for UTF-8).
//
//	name := pdk.InputString()
func InputString() string {
	buf := Input()
	return unsafe.String(unsafe.SliceData(buf), len(buf))
}

// InputJSON decodes the call's input, a JSON document, into v (see json.Unmarshal).
//
//	var args struct{ A, B int64 }
//	err := pdk.InputJSON(&args)
func InputJSON(v any) error {
	return json.Unmarshal(Input(), v)
}

// Output sets the call's output to a copy of data. The last call wins.
//
//	pdk.Output([]byte{0, 1, 2})
func Output(data []byte) {
	OutputMemory(AllocateBytes(data))
}

// OutputString sets the call's output to the bytes of s.
//
//	pdk.OutputString("done")
func OutputString(s string) {
	OutputMemory(AllocateString(s))
}

// OutputJSON sets the call's output to v encoded as JSON (see json.Marshal).
//
//	err := pdk.OutputJSON(map[string]int64{"sum": 3})
func OutputJSON(v any) error {
	m, err := AllocateJSON(v)
	if err != nil {
		return err
	}
	OutputMemory(m)
	return nil
}

// OutputMemory sets the call's output to the block m, which then belongs to the host.
//
//	pdk.OutputMemory(pdk.FindMemory(offset))
func OutputMemory(m Memory) {
	extismOutputSet(m.offset, m.length)
}

// SetError sets the call's error message to err.Error(). The export must then
// return a non-zero status; Return does both.
//
//	pdk.SetError(errors.New("bad input")); return 1
func SetError(err error) {
	SetErrorString(err.Error())
}

// SetErrorString sets the call's error message to msg (an empty msg clears it:
// the kernel has no empty blocks).
//
//	pdk.SetErrorString("bad input"); return 1
func SetErrorString(msg string) {
	extismErrorSet(AllocateString(msg).offset)
}

// Return turns a Go error into an export's status: nil gives 0; any other
// error becomes the call's error message and gives 1. It lets an export be
// written as an ordinary function returning error:
//
//	//go:wasmexport run
//	func run() int32 { return pdk.Return(doRun()) }
func Return(err error) int32 {
	if err == nil {
		return 0
	}
	SetError(err)
	return 1
}
