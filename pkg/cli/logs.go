package cli

import (
	"errors"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

func (a *app) logsCommand() *cobra.Command {
	var follow bool
	cmd := &cobra.Command{
		Use:   "logs RUN JOB",
		Short: "Print a job's log; JOB is its name or numeric id",
		Example: `  gantry logs 42 unit-tests       # the log so far
  gantry logs 42 unit-tests -f    # and follow it until the job ends`,
		Args: usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			runID, err := parseRunID(args[0])
			if err != nil {
				return err
			}
			req := &gantryv1.FollowLogRequest{RunId: runID, Follow: follow}
			// A job named only with digits is taken for an id; such
			// names are rare and the id is shown by "gantry runs RUN".
			if id, err := strconv.ParseInt(args[1], 10, 64); err == nil && id > 0 {
				req.JobId = id
			} else {
				req.JobName = args[1]
			}
			client, err := a.pipelineClient()
			if err != nil {
				return err
			}
			stream, err := client.FollowLog(cmd.Context(), req)
			if err != nil {
				return err
			}
			for {
				msg, err := stream.Recv()
				if errors.Is(err, io.EOF) {
					return nil
				}
				if err != nil {
					return err
				}
				if _, err := a.stdout.Write(msg.GetData()); err != nil {
					return err
				}
			}
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing until the job ends")
	return cmd
}
