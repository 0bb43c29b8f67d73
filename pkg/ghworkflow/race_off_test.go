//go:build !race

package ghworkflow

const raceEnabled = false
