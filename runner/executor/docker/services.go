package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/strslice"
	"github.com/docker/docker/pkg/stdcopy"
	"go.uber.org/zap"

	"github.com/gantry-ci/gantry/runner/executor"
)

const (
	// servicePollInterval is how often a starting service is checked.
	servicePollInterval = 250 * time.Millisecond
	// serviceDialTimeout bounds one TCP probe. On a local bridge a probe
	// is answered (accepted or refused) at once; a timeout means the
	// runner cannot reach the job network at all.
	serviceDialTimeout = time.Second
	// serviceLogLines is how much of a failed service's log is shown.
	serviceLogLines = "50"
)

// service is a started service container.
type service struct {
	spec executor.Service
	id   string
	name string
}

// startServices creates and starts the job's services on its network.
// Creation is not interrupted by cancellation, so every container created
// is known (and removed by cleanup).
func (a *attempt) startServices(ctx context.Context) ([]service, error) {
	bg := context.WithoutCancel(ctx)
	var out []service
	for i, s := range a.job.Services {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		aliases := serviceAliases(s)
		name := a.names.service(i, aliases)
		a.logf("Starting service %s ...", s.Name)
		cfg := &container.Config{
			Image:      s.Name,
			Env:        envList(a.job.Variables, s.Variables),
			Labels:     a.names.labels(roleService),
			Entrypoint: entrypoint(s.Entrypoint, s.EntrypointSet),
		}
		if len(s.Command) > 0 {
			cfg.Cmd = strslice.StrSlice(s.Command)
		}
		netCfg := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			a.network: {Aliases: aliases},
		}}
		start := time.Now()
		created, err := a.cli.ContainerCreate(bg, cfg, a.hostConfig(), netCfg, nil, name)
		if err != nil {
			return nil, fmt.Errorf("creating service %s: %w", s.Name, err)
		}
		if err := a.cli.ContainerStart(bg, created.ID, container.StartOptions{}); err != nil {
			return nil, fmt.Errorf("starting service %s: %w", s.Name, err)
		}
		a.e.cfg.ContainerStarted(roleService, time.Since(start))
		out = append(out, service{spec: s, id: created.ID, name: name})
	}
	return out, nil
}

// waitServices waits, in parallel and up to ServiceWaitTimeout, for every
// service to be ready. As GitLab Runner does, a service that does not get
// ready only earns a warning in the job log: the job may not need it.
func (a *attempt) waitServices(ctx context.Context, svcs []service) {
	a.logf("Waiting for services to be up and running (timeout %v)...", a.e.cfg.ServiceWaitTimeout)
	ctx, cancel := context.WithTimeout(ctx, a.e.cfg.ServiceWaitTimeout)
	defer cancel()
	problems := make([]string, len(svcs))
	var wg sync.WaitGroup
	for i, s := range svcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			problems[i] = a.waitService(ctx, s)
		}()
	}
	wg.Wait()
	for i, p := range problems {
		if p != "" {
			a.warnService(ctx, svcs[i], p)
		}
	}
}

// waitService returns why service s is not ready, or "" once it is (or
// when ctx's parent is cancelled: the job is going away).
//
// A service with a HEALTHCHECK must become healthy. Otherwise each TCP
// port it exposes must accept a connection from the runner, when the
// runner can reach the job network (it runs on the Docker host); when it
// cannot, a running container is taken as ready.
func (a *attempt) waitService(ctx context.Context, s service) string {
	tick := time.NewTicker(servicePollInterval)
	defer tick.Stop()
	lastHealth := ""
	for {
		info, err := a.cli.ContainerInspect(ctx, s.id)
		switch {
		case ctx.Err() != nil:
			// Handled below.
		case err != nil:
			return fmt.Sprintf("inspecting the service container: %v", err)
		case info.State == nil:
			return "the service container has no state"
		case !info.State.Running:
			return fmt.Sprintf("the service container exited with code %d", info.State.ExitCode)
		case hasHealthcheck(info.Config):
			if h := info.State.Health; h != nil {
				if h.Status == container.Healthy {
					return ""
				}
				lastHealth = "health status " + h.Status
				if n := len(h.Log); n > 0 && h.Log[n-1] != nil {
					lastHealth += ": " + strings.TrimSpace(h.Log[n-1].Output)
				}
			}
		default:
			ports := tcpPorts(info.Config)
			if len(ports) == 0 {
				return ""
			}
			ip := ""
			if ep := info.NetworkSettings; ep != nil && ep.Networks[a.network] != nil {
				ip = ep.Networks[a.network].IPAddress
			}
			ready, reachable := probe(ctx, ip, ports)
			if ready {
				return ""
			}
			if !reachable {
				a.logger.Debug("service network unreachable from the runner; a running container counts as ready",
					zap.String("service", s.spec.Name), zap.String("ip", ip))
				return ""
			}
		}
		select {
		case <-ctx.Done():
			if context.Cause(ctx) != context.DeadlineExceeded {
				return "" // the job was cancelled
			}
			msg := fmt.Sprintf("the service was not ready within %v", a.e.cfg.ServiceWaitTimeout)
			if lastHealth != "" {
				msg += " (" + lastHealth + ")"
			}
			return msg
		case <-tick.C:
		}
	}
}

func hasHealthcheck(cfg *container.Config) bool {
	return cfg != nil && cfg.Healthcheck != nil &&
		len(cfg.Healthcheck.Test) > 0 && cfg.Healthcheck.Test[0] != "NONE"
}

// tcpPorts lists the TCP ports a container exposes.
func tcpPorts(cfg *container.Config) []string {
	if cfg == nil {
		return nil
	}
	var out []string
	for p := range cfg.ExposedPorts {
		if p.Proto() == "tcp" {
			out = append(out, p.Port())
		}
	}
	return out
}

// probe reports whether every port of ip accepts a TCP connection, and
// whether ip is reachable from here at all (a refused connection is
// reachable; a timeout or an unreachable network is not).
func probe(ctx context.Context, ip string, ports []string) (ready, reachable bool) {
	if ip == "" {
		return false, false
	}
	d := net.Dialer{Timeout: serviceDialTimeout}
	for _, p := range ports {
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ip, p))
		if err != nil {
			refused := errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET)
			return false, refused || ctx.Err() != nil
		}
		conn.Close()
	}
	return true, true
}

// warnService writes GitLab's warning for a service that did not start
// properly, with the end of its log.
func (a *attempt) warnService(ctx context.Context, s service, problem string) {
	a.logger.Info("service did not start properly", zap.String("service", s.spec.Name), zap.String("problem", problem))
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var logs bytes.Buffer
	rc, err := a.cli.ContainerLogs(ctx, s.id, container.LogsOptions{
		ShowStdout: true, ShowStderr: true, Tail: serviceLogLines,
	})
	if err == nil {
		_, err = stdcopy.StdCopy(&logs, &logs, rc)
		rc.Close()
	}
	if err != nil {
		fmt.Fprintf(&logs, "(could not read the service's log: %v)\n", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*** WARNING: Service %s probably didn't start properly.\n\n", s.spec.Name)
	fmt.Fprintf(&b, "Health check error:\n%s\n\n", problem)
	fmt.Fprintf(&b, "Service container logs:\n%s\n", strings.TrimRight(logs.String(), "\n"))
	b.WriteString("\n*********\n")
	fmt.Fprint(a.log, b.String())
}
