//go:build wasip1

package pdk

// The kernel takes ownership of (frees) every block passed to config_get,
// var_get and var_set, so none is freed here.

// GetConfig returns the value of the host-supplied config key, and whether it
// is set. An empty value reads as not set (the kernel has no empty blocks).
//
//	url, ok := pdk.GetConfig("url")
func GetConfig(key string) (string, bool) {
	value, ok := lookup(extismConfigGet, key)
	return string(value), ok
}

// GetVar returns the value of a var, and whether it is set. Vars are bytes
// that live as long as the plugin instance, across calls.
//
//	count, ok := pdk.GetVar("count")
func GetVar(key string) ([]byte, bool) {
	return lookup(extismVarGet, key)
}

// SetVar stores value under the var key. An empty value removes the var (the
// kernel has no empty blocks).
//
//	pdk.SetVar("count", []byte("1"))
func SetVar(key string, value []byte) {
	extismVarSet(AllocateString(key).offset, AllocateBytes(value).offset)
}

// RemoveVar deletes the var key; removing a missing var does nothing.
//
//	pdk.RemoveVar("count")
func RemoveVar(key string) {
	extismVarSet(AllocateString(key).offset, 0)
}

// lookup calls a kernel getter that takes a key block and returns a new
// value block (0 when absent), and copies the value out.
func lookup(get func(uint64) uint64, key string) ([]byte, bool) {
	offset := get(AllocateString(key).offset)
	if offset == 0 {
		return nil, false
	}
	m := FindMemory(offset)
	value := m.ReadBytes()
	m.Free()
	return value, true
}
