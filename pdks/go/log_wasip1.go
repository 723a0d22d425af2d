//go:build wasip1

package pdk

// Log sends msg to the host's log at level. Messages below the host's
// current level are dropped before any kernel memory is used; the kernel
// frees the message block itself.
//
//	pdk.Log(pdk.LevelInfo, "starting")
func Log(level LogLevel, msg string) {
	if !LogEnabled(level) {
		return
	}
	offset := AllocateString(msg).offset
	switch level {
	case LevelTrace:
		extismLogTrace(offset)
	case LevelDebug:
		extismLogDebug(offset)
	case LevelInfo:
		extismLogInfo(offset)
	case LevelWarn:
		extismLogWarn(offset)
	default:
		extismLogError(offset)
	}
}

// LogEnabled reports whether the host records messages at level, so that
// expensive messages can be skipped.
//
//	if pdk.LogEnabled(pdk.LevelDebug) { pdk.Log(pdk.LevelDebug, dump()) }
func LogEnabled(level LogLevel) bool {
	return level >= LogLevel(extismGetLogLevel())
}
