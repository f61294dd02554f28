//go:build race

package fence

// raceFactor scales the default memory budget of a race-instrumented binary
// (the tests): ThreadSanitizer's shadow memory, several times the heap,
// counts against RLIMIT_AS too.
const raceFactor = 8
