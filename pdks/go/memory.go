//go:build wasip1

package pdk

import (
	"encoding/binary"
	"encoding/json"
	"unsafe"
)

// Memory is a block of the Extism kernel's memory: the only way to hand bytes
// to the host (output, errors, config and var keys, host function arguments)
// or to receive them from it. The zero Memory is the "no block" value.
//
// Blocks are not garbage collected, but the kernel reclaims them all when the
// next call starts. A block handed to OutputMemory belongs to the host; free a
// block you allocated for a host function, and one a host function returned,
// with Free once done. An empty block is represented by offset 0.
type Memory struct {
	offset uint64
	length uint64
}

// Allocate reserves a kernel block of n bytes (n may be 0).
//
//	m := pdk.Allocate(1024)
func Allocate(n int) Memory {
	return Memory{offset: extismAlloc(uint64(n)), length: uint64(n)}
}

// AllocateBytes returns a new kernel block holding a copy of data.
//
//	m := pdk.AllocateBytes([]byte{1, 2, 3})
func AllocateBytes(data []byte) Memory {
	m := Allocate(len(data))
	m.Store(data)
	return m
}

// AllocateString returns a new kernel block holding the bytes of s.
//
//	m := pdk.AllocateString("hello")
func AllocateString(s string) Memory {
	return AllocateBytes(unsafe.Slice(unsafe.StringData(s), len(s)))
}

// AllocateJSON returns a new kernel block holding v encoded as JSON.
//
//	m, err := pdk.AllocateJSON(map[string]int{"a": 1})
func AllocateJSON(v any) (Memory, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return Memory{}, err
	}
	return AllocateBytes(data), nil
}

// FindMemory returns the block that starts at offset, as a host function
// returns it; offset 0 gives the zero Memory.
//
//	m := pdk.FindMemory(offset)
func FindMemory(offset uint64) Memory {
	if offset == 0 {
		return Memory{}
	}
	return Memory{offset: offset, length: extismLength(offset)}
}

// Offset is the block's address in kernel memory: what a host function takes.
func (m Memory) Offset() uint64 { return m.offset }

// Length is the block's size in bytes.
func (m Memory) Length() uint64 { return m.length }

// Load copies the first len(buf) bytes of the block (at most Length) into buf.
//
//	buf := make([]byte, m.Length()); m.Load(buf)
func (m Memory) Load(buf []byte) {
	n := min(uint64(len(buf)), m.length)
	i := uint64(0)
	for ; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(buf[i:], extismLoadU64(m.offset+i))
	}
	for ; i < n; i++ {
		buf[i] = byte(extismLoadU8(m.offset + i))
	}
}

// Store copies data into the start of the block (at most Length bytes).
//
//	m.Store([]byte("hi"))
func (m Memory) Store(data []byte) {
	n := min(uint64(len(data)), m.length)
	i := uint64(0)
	for ; i+8 <= n; i += 8 {
		extismStoreU64(m.offset+i, binary.LittleEndian.Uint64(data[i:]))
	}
	for ; i < n; i++ {
		extismStoreU8(m.offset+i, uint32(data[i]))
	}
}

// ReadBytes returns a copy of the whole block.
//
//	data := m.ReadBytes()
func (m Memory) ReadBytes() []byte {
	buf := make([]byte, m.length)
	m.Load(buf)
	return buf
}

// Free returns the block to the kernel. Freeing the zero Memory does nothing.
//
//	defer m.Free()
func (m Memory) Free() {
	if m.offset != 0 {
		extismFree(m.offset)
	}
}
