package pipeline

import (
	"slices"
	"strconv"

	"github.com/gantry-ci/gantry/pkg/yamlpos"
)

// Retry is a job's `retry:`: how many times to retry it automatically, and
// for which failures.
type Retry struct {
	// Max is 0, 1 or 2 (GitLab's bounds).
	Max int `json:"max"`
	// When lists the failure reasons that are retried; empty means
	// `always` (every reason).
	When []string `json:"when,omitempty"`
	// ExitCodes, when set, limits retries of script failures to these exit
	// codes.
	ExitCodes []int `json:"exit_codes,omitempty"`
}

// Covers reports whether a failure with reason (one of RetryReasons) is
// retried.
func (r *Retry) Covers(reason string) bool {
	if r == nil {
		return false
	}
	return len(r.When) == 0 || slices.Contains(r.When, "always") || slices.Contains(r.When, reason)
}

// RetryReasons are the values GitLab accepts in `retry:when`.
var RetryReasons = []string{
	"always", "unknown_failure", "script_failure", "api_failure", "stuck_or_timeout_failure",
	"runner_system_failure", "runner_unsupported", "stale_schedule", "job_execution_timeout",
	"archived_failure", "unmet_prerequisites", "scheduler_failure", "data_integrity_failure",
}

const maxRetry = 2

var retryKeywords = keywords{supported: []string{"max", "when", "exit_codes"}}

// retry reads `retry:` as a number or as a mapping of max, when and
// exit_codes.
func (p *parser) retry(ctx string, n *yamlpos.Node) *Retry {
	switch n.Kind {
	case yamlpos.Scalar:
		max, ok := p.retryMax(ctx, "retry", n)
		if !ok {
			return nil
		}
		return &Retry{Max: max}
	case yamlpos.Mapping:
	default:
		p.d.Errorf(n.Pos, "%sretry must be a number from 0 to %d or a mapping with max, when and exit_codes, got %s", prefix(ctx), maxRetry, yamlpos.Describe(n))
		return nil
	}
	r := &Retry{}
	for _, kv := range n.Pairs {
		switch kv.Key.Value {
		case "max":
			max, ok := p.retryMax(ctx, "retry:max", kv.Value)
			if !ok {
				return nil
			}
			r.Max = max
		case "when":
			whens, ok := p.stringList(ctx, "retry:when", kv.Value, true)
			if !ok {
				return nil
			}
			for _, w := range whens {
				if !slices.Contains(RetryReasons, w.Value) {
					p.d.Errorf(w.Pos, "%sretry:when %q is not a failure reason; use one of %v", prefix(ctx), w.Value, RetryReasons)
					return nil
				}
				r.When = append(r.When, w.Value)
			}
		case "exit_codes":
			codes, ok := p.stringList(ctx, "retry:exit_codes", kv.Value, true)
			if !ok {
				return nil
			}
			for _, c := range codes {
				code, err := strconv.Atoi(c.Value)
				if err != nil || code < 0 || code > 255 {
					p.d.Errorf(c.Pos, "%sretry:exit_codes entries must be exit codes (0 to 255), got %q", prefix(ctx), c.Value)
					return nil
				}
				r.ExitCodes = append(r.ExitCodes, code)
			}
		default:
			p.otherKeyword(ctx+" retry", kv.Key, retryKeywords)
		}
	}
	return r
}

func (p *parser) retryMax(ctx, what string, n *yamlpos.Node) (int, bool) {
	s, ok := p.scalar(ctx, what, n)
	if !ok {
		return 0, false
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 || v > maxRetry {
		p.d.Errorf(n.Pos, "%s%s must be a whole number from 0 to %d, got %q", prefix(ctx), what, maxRetry, s)
		return 0, false
	}
	return v, true
}
