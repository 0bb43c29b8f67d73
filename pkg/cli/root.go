// Package cli is the gantry command-line client: it submits pipelines to a
// coordinator, follows runs and their logs, and lists runs and runners.
//
// Main runs one command line in-process and returns the exit code, so tests
// drive the CLI exactly as a user would, against a real gRPC server.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	"github.com/gantry-ci/gantry/pkg/config"
	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

// Exit codes.
const (
	// ExitOK means the command succeeded (for submit: the run passed).
	ExitOK = 0
	// ExitRunFailed means the followed run failed or was canceled.
	ExitRunFailed = 1
	// ExitError covers usage errors, invalid pipelines, an unreachable
	// coordinator and every other error.
	ExitError = 2
	// ExitBlocked: the run waits for a manual job to be played.
	ExitBlocked = 3
	// ExitInterrupted means the user pressed Ctrl-C (128 + SIGINT).
	ExitInterrupted = 130
)

// exitError ends a command with a given exit code. msg, if set, goes to
// stderr as is; the command has already printed everything else.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string {
	if e.msg == "" {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.msg
}

// usageError marks a mistake in the command line itself.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// Main runs the gantry command line args (without the program name) and
// returns the process exit code. ctx is cancelled on Ctrl-C.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return newApp(stdout, stderr).main(ctx, args)
}

func newApp(stdout, stderr io.Writer) *app {
	return &app{stdout: stdout, stderr: stderr, stdoutTTY: isTerminal(stdout), now: time.Now}
}

// main runs one command line on a.
func (a *app) main(ctx context.Context, args []string) int {
	defer a.close()
	root := a.rootCommand()
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	return a.report(ctx, cmd, err)
}

// app holds what every command shares: the global flags, the output streams
// and the coordinator connection, dialled on first use.
type app struct {
	stdout, stderr io.Writer
	stdoutTTY      bool
	// now is the clock for relative times ("3m ago"); tests fix it.
	now func() time.Time

	coordinator string
	timeout     time.Duration
	token       string
	colorMode   string
	color       bool

	conn *grpc.ClientConn
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "gantry",
		Short: "Submit pipelines to a Gantry coordinator and follow their runs",
		Example: `  gantry submit                       # run the pipeline of . and watch it
  gantry watch 42                     # follow a run already going
  gantry runs                         # recent runs
  gantry queue                        # what waits, by runner tags
  GANTRY_COORDINATOR=ci.example.com:7420 gantry runners -o json`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return a.configure(cmd.Root())
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&a.coordinator, "coordinator", "localhost:7420", "coordinator address host:port; a comma-separated list is tried in order")
	pf.DurationVar(&a.timeout, "timeout", 30*time.Second, "timeout of each request that is not a stream")
	pf.StringVar(&a.token, "token", "", "the coordinator's admin token, for what needs it (downloading artifacts that are not public)")
	pf.StringVar(&a.colorMode, "color", "auto", "colour output: auto (when stdout is a terminal and NO_COLOR is unset), always or never")
	root.AddCommand(
		a.submitCommand(),
		a.watchCommand(),
		a.runsCommand(),
		a.runCommand(),
		a.logsCommand(),
		a.cancelCommand(),
		a.playCommand(),
		a.artifactsCommand(),
		a.testsCommand(),
		a.coverageCommand(),
		a.runnersCommand(),
		a.jobsCommand(),
		a.queueCommand(),
		a.lintCommand(),
		a.planCommand(),
		a.versionCommand(),
	)
	// Before addBuiltinCommands: cobra's completion command takes its
	// output stream when it is created.
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	addBuiltinCommands(root)
	a.addArgCompletions(root)
	return root
}

// configure fills the global flags from GANTRY_* variables and resolves the
// colour mode. Only the global flags get environment fallbacks: a stray
// GANTRY_VAR or GANTRY_DETACH silently changing a submit would surprise.
func (a *app) configure(root *cobra.Command) error {
	if err := config.Apply(root.PersistentFlags(), ""); err != nil {
		return &usageError{err}
	}
	switch a.colorMode {
	case "always":
		a.color = true
	case "never":
		a.color = false
	case "auto":
		// https://no-color.org: an explicit --color=always still wins.
		a.color = a.stdoutTTY && os.Getenv("NO_COLOR") == ""
	default:
		return usagef("--color must be auto, always or never, not %q", a.colorMode)
	}
	return nil
}

// pipelineClient returns a PipelineService client, dialling on first use.
func (a *app) pipelineClient() (gantryv1.PipelineServiceClient, error) {
	conn, err := a.dial()
	if err != nil {
		return nil, err
	}
	return gantryv1.NewPipelineServiceClient(conn), nil
}

// adminClient returns an AdminService client, dialling on first use.
func (a *app) adminClient() (gantryv1.AdminServiceClient, error) {
	conn, err := a.dial()
	if err != nil {
		return nil, err
	}
	return gantryv1.NewAdminServiceClient(conn), nil
}

func (a *app) dial() (*grpc.ClientConn, error) {
	if a.conn != nil {
		return a.conn, nil
	}
	conn, err := dial(a.coordinator, a.timeout, a.token)
	if err != nil {
		return nil, &usageError{err}
	}
	a.conn = conn
	return conn, nil
}

func (a *app) close() {
	if a.conn != nil {
		_ = a.conn.Close()
	}
}

// report prints err, if any, and turns it into the exit code.
func (a *app) report(ctx context.Context, cmd *cobra.Command, err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(a.stderr, ee.msg)
		}
		return ee.code
	}
	if ctx.Err() != nil {
		return ExitInterrupted
	}
	fmt.Fprintf(a.stderr, "gantry: %s\n", a.errorText(err))
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(a.stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return ExitError
}

// usageArgs wraps a cobra argument check so its failure is a usage error.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return &usageError{fmt.Errorf("%s: %w", cmd.CommandPath(), err)}
		}
		return nil
	}
}

// isTerminal reports whether w is a character device, which is what a
// terminal looks like without pulling in golang.org/x/term.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
