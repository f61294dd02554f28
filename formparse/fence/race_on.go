//go:build race

package fence

// raceFactor scales the default memory budget of a race-instrumented binary
// (the tests): ThreadSanitizer's shadow memory, several times the heap,
// counts against RLIMIT_AS too.
const raceFactor = 8

// raceEnv is added to a race-instrumented worker's environment:
// ThreadSanitizer sleeps a second at every exit (atexit_sleep_ms, for
// other threads' reports), which would make each form read in the tests
// take a second.
var raceEnv = []string{"GORACE=atexit_sleep_ms=0"}
