//go:build race

package pipeline

// raceEnabled slows timing assertions down to what the race detector allows.
const raceEnabled = true
