package pipeline

import (
	"slices"
	"strconv"
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
func (p *parser) retry(ctx string, n *node) *Retry {
	switch n.kind {
	case scalarNode:
		max, ok := p.retryMax(ctx, "retry", n)
		if !ok {
			return nil
		}
		return &Retry{Max: max}
	case mapNode:
	default:
		p.d.errorf(n.pos, "%sretry must be a number from 0 to %d or a mapping with max, when and exit_codes, got %s", prefix(ctx), maxRetry, describe(n))
		return nil
	}
	r := &Retry{}
	for _, kv := range n.pairs {
		switch kv.key.value {
		case "max":
			max, ok := p.retryMax(ctx, "retry:max", kv.value)
			if !ok {
				return nil
			}
			r.Max = max
		case "when":
			whens, ok := p.stringList(ctx, "retry:when", kv.value, true)
			if !ok {
				return nil
			}
			for _, w := range whens {
				if !slices.Contains(RetryReasons, w.value) {
					p.d.errorf(w.pos, "%sretry:when %q is not a failure reason; use one of %v", prefix(ctx), w.value, RetryReasons)
					return nil
				}
				r.When = append(r.When, w.value)
			}
		case "exit_codes":
			codes, ok := p.stringList(ctx, "retry:exit_codes", kv.value, true)
			if !ok {
				return nil
			}
			for _, c := range codes {
				code, err := strconv.Atoi(c.value)
				if err != nil || code < 0 || code > 255 {
					p.d.errorf(c.pos, "%sretry:exit_codes entries must be exit codes (0 to 255), got %q", prefix(ctx), c.value)
					return nil
				}
				r.ExitCodes = append(r.ExitCodes, code)
			}
		default:
			p.otherKeyword(ctx+" retry", kv.key, retryKeywords)
		}
	}
	return r
}

func (p *parser) retryMax(ctx, what string, n *node) (int, bool) {
	s, ok := p.scalar(ctx, what, n)
	if !ok {
		return 0, false
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 || v > maxRetry {
		p.d.errorf(n.pos, "%s%s must be a whole number from 0 to %d, got %q", prefix(ctx), what, maxRetry, s)
		return 0, false
	}
	return v, true
}
