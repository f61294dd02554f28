//go:build !race

package fence

// raceFactor scales the default memory budget of a race-instrumented binary;
// this one is not.
const raceFactor = 1
