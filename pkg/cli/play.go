package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

func (a *app) playCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "play RUN JOB",
		Short: "Start a manual job of a run (or a delayed one now)",
		Long: `Play starts a job that waits with when: manual (or when: delayed, without
waiting for its time). JOB is the job's name as 'gantry runs RUN' shows it,
quoted when it has spaces: gantry play 12 "deploy: [production]".`,
		Example: `  gantry play 42 deploy-production`,
		Args:    usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseRunID(args[0])
			if err != nil {
				return err
			}
			client, err := a.pipelineClient()
			if err != nil {
				return err
			}
			resp, err := client.PlayJob(cmd.Context(), &gantryv1.PlayJobRequest{RunId: id, JobName: args[1]})
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(a.stdout, "Run #%d: job %q is %s; follow it with: gantry logs %d %q -f\n",
				id, resp.GetJob().GetName(), jobStatusText(resp.GetJob().GetStatus()), id, resp.GetJob().GetName())
			return err
		},
	}
}
