//go:build race

package ghworkflow

// raceEnabled loosens time limits for the race detector.
const raceEnabled = true
