package pdk

// LogLevel is the severity of a log message, from LevelTrace (most verbose)
// to LevelError.
type LogLevel int32

// The kernel's log levels, in the order the host filters them.
const (
	LevelTrace LogLevel = iota
	LevelDebug
	LevelInfo
	LevelWarn
	LevelError
)

// String returns the level's lower-case name ("info"), as the host prints it.
func (l LogLevel) String() string {
	switch l {
	case LevelTrace:
		return "trace"
	case LevelDebug:
		return "debug"
	case LevelInfo:
		return "info"
	case LevelWarn:
		return "warn"
	case LevelError:
		return "error"
	}
	return "unknown"
}
