//go:build !race

package fence

// raceFactor scales the default memory budget of a race-instrumented binary;
// this one is not.
const raceFactor = 1

// raceEnv is added to a race-instrumented worker's environment; none here.
var raceEnv []string
