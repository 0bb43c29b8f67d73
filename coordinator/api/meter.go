package api

// Meter counts the bytes runners send, for metrics.
type Meter interface {
	// LogBytesReceived counts log bytes of a held attempt (resends
	// included).
	LogBytesReceived(n int)
	// ArtifactBytesReceived counts the bytes of a stored archive of kind
	// "artifacts", "reports" or "cache".
	ArtifactBytesReceived(kind string, n int64)
}

type noMeter struct{}

func (noMeter) LogBytesReceived(int)                {}
func (noMeter) ArtifactBytesReceived(string, int64) {}

// Metered makes h count the bytes runners send with m, and returns h.
func (h *RunnerHandler) Metered(m Meter) *RunnerHandler {
	h.meter = m
	return h
}
