package docker

import (
	"strings"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/runner/executor"
)

func TestServiceReachableByAliasesAndDerivedNames(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t, Config{})
	job := newJob(
		"wget -qO- http://web:8080/",
		"wget -qO- http://www2:8080/",
		"wget -qO- http://gantry-test__web:8080/",
		"wget -qO- http://gantry-test-web:8080/",
	)
	job.Services = []executor.Service{{Name: webImage, Alias: "web, www2"}}
	log := newLogBuffer("")
	res := runJob(t.Context(), t, e, job, log)
	assertOutcome(t, res, executor.OutcomeSuccess)
	if n := strings.Count(log.String(), "hello from gantry service\n"); n != 4 {
		t.Errorf("service answered %d times, want 4", n)
	}
	if strings.Contains(log.String(), "WARNING") {
		t.Error("a healthy service was reported as not started")
	}
}

func TestServiceCommandAndVariables(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t, Config{})
	job := newJob("wget -qO- http://site:8080/")
	job.Variables = []executor.Variable{{Key: "FROM_JOB", Value: "job-value"}, {Key: "BOTH", Value: "job"}}
	job.Services = []executor.Service{{
		Name:  webImage,
		Alias: "site",
		// The web image's CMD is replaced; its page now shows the variables.
		Command: []string{"sh", "-c",
			`echo "$FROM_JOB $BOTH" > /www/index.html && exec httpd -f -p 8080 -h /www`},
		Variables: []executor.Variable{{Key: "BOTH", Value: "service"}},
	}}
	log := newLogBuffer("")
	res := runJob(t.Context(), t, e, job, log)
	assertOutcome(t, res, executor.OutcomeSuccess)
	assertInOrder(t, log.String(), "job-value service\n")
}

func TestServiceEntrypointOverride(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t, Config{})
	job := newJob("wget -qO- http://ep:8080/")
	job.Services = []executor.Service{{
		Name:          busyboxImage,
		Alias:         "ep",
		Entrypoint:    []string{"sh", "-c"},
		EntrypointSet: true,
		Command:       []string{`mkdir /www && echo from-entrypoint > /www/index.html && exec httpd -f -p 8080 -h /www`},
	}}
	log := newLogBuffer("")
	res := runJob(t.Context(), t, e, job, log)
	assertOutcome(t, res, executor.OutcomeSuccess)
	assertInOrder(t, log.String(), "from-entrypoint\n")
}

func TestServiceThatExitsIsReportedAndJobContinues(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t, Config{})
	job := newJob("echo job-still-ran")
	job.Services = []executor.Service{{
		Name:    webImage,
		Command: []string{"sh", "-c", "echo service-broke >&2; exit 1"},
	}}
	log := newLogBuffer("")
	res := runJob(t.Context(), t, e, job, log)
	assertOutcome(t, res, executor.OutcomeSuccess)
	assertInOrder(t, log.String(),
		"*** WARNING: Service "+webImage+" probably didn't start properly.",
		"exited with code 1",
		"service-broke",
		"job-still-ran\n")
}

func TestServiceNeverReadyIsReportedAfterTimeout(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t, Config{ServiceWaitTimeout: 2 * time.Second})
	job := newJob("echo job-still-ran")
	// Exposes 8080 but never listens on it.
	job.Services = []executor.Service{{
		Name:    webImage,
		Command: []string{"sh", "-c", "echo not-listening; exec sleep 300"},
	}}
	log := newLogBuffer("")
	res := runJob(t.Context(), t, e, job, log)
	assertOutcome(t, res, executor.OutcomeSuccess)
	assertInOrder(t, log.String(),
		"probably didn't start properly.",
		"not ready within 2s",
		"not-listening",
		"job-still-ran\n")
}
