//go:build race

package intake

// raceEnabled: the race detector slows every child several times over.
const raceEnabled = true
