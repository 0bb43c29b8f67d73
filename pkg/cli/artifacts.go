package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/gantry-ci/gantry/pkg/source"
	gantryv1 "github.com/gantry-ci/gantry/proto/gantry/v1"
)

func (a *app) artifactsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "artifacts",
		Short: "List and download the artifacts jobs left",
		Example: `  gantry artifacts list 42
  gantry artifacts download 42 build --extract ./out`,
	}
	cmd.AddCommand(a.artifactsListCommand(), a.artifactsDownloadCommand())
	return cmd
}

func (a *app) artifactsListCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "list RUN [JOB]",
		Short: "List a run's artifact archives (or one job's), with when they expire",
		Example: `  gantry artifacts list 42
  gantry artifacts list 42 build -o json`,
		Args: usageArgs(cobra.RangeArgs(1, 2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			id, err := parseRunID(args[0])
			if err != nil {
				return err
			}
			client, err := a.pipelineClient()
			if err != nil {
				return err
			}
			resp, err := client.ListArtifacts(cmd.Context(), &gantryv1.ListArtifactsRequest{RunId: id})
			if err != nil {
				return err
			}
			if len(args) == 2 {
				resp.Artifacts = slices.DeleteFunc(resp.Artifacts, func(art *gantryv1.Artifact) bool { return art.GetJobName() != args[1] })
			}
			if output == "json" {
				return a.printJSON(resp)
			}
			now := a.now()
			t := newTable(a.stdout, "JOB", "NAME", "SIZE", "EXPIRES", "SHA256")
			n := 0
			for _, art := range resp.GetArtifacts() {
				t.row(art.GetJobName(), art.GetName(), strconv.FormatInt(art.GetSize(), 10), expiryText(art, now), art.GetSha256())
				n++
			}
			if n == 0 {
				what := fmt.Sprintf("run #%d", id)
				if len(args) == 2 {
					what = fmt.Sprintf("job %q of run #%d", args[1], id)
				}
				_, err := fmt.Fprintf(a.stdout, "%s has no artifacts\n", what)
				return err
			}
			return t.flush()
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "table or json")
	return cmd
}

// expiryText says when an artifact expires, or that it did.
func expiryText(art *gantryv1.Artifact, now time.Time) string {
	switch {
	case art.GetDeletedAt() != nil:
		return "deleted " + ago(art.GetDeletedAt(), now)
	case art.GetExpireAt() == nil:
		return "never"
	}
	switch d := art.GetExpireAt().AsTime().Sub(now); {
	case d >= 48*time.Hour:
		return fmt.Sprintf("in %dd", int(d.Hours()/24))
	case d >= time.Hour:
		return fmt.Sprintf("in %dh", int(d.Hours()))
	case d > 0:
		return fmt.Sprintf("in %dm", int(d.Minutes())+1)
	}
	return "due now"
}

func (a *app) artifactsDownloadCommand() *cobra.Command {
	var out, extract string
	cmd := &cobra.Command{
		Use:   "download RUN JOB",
		Short: "Download a job's artifact archive (tar.gz), or unpack it with --extract",
		Long: `Download writes the job's artifact archive as it was uploaded (a tar.gz)
to -o FILE (default <name>.tar.gz in the current directory; - for stdout),
checking its sha256; --extract DIR unpacks it instead.`,
		Example: `  gantry artifacts download 42 build                 # to a file named after the archive
  gantry artifacts download 42 build -o - | tar tz
  gantry artifacts download 42 build --extract ./out`,
		Args: usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseRunID(args[0])
			if err != nil {
				return err
			}
			client, err := a.pipelineClient()
			if err != nil {
				return err
			}
			stream, err := client.DownloadArtifact(cmd.Context(), &gantryv1.DownloadArtifactRequest{RunId: id, JobName: args[1]})
			if err != nil {
				return err
			}
			first, err := stream.Recv()
			if err != nil {
				return err
			}
			art := first.GetArtifact()
			if art == nil {
				return errors.New("the coordinator sent no artifact description")
			}
			pr, pw := io.Pipe()
			go func() {
				for {
					m, err := stream.Recv()
					if errors.Is(err, io.EOF) {
						pw.Close()
						return
					}
					if err != nil {
						pw.CloseWithError(err)
						return
					}
					if _, err := pw.Write(m.GetChunk()); err != nil {
						return
					}
				}
			}()
			defer pr.Close()
			h := sha256.New()
			body := io.TeeReader(pr, h)
			var dest string
			switch {
			case extract != "":
				if err := source.Unpack(cmd.Context(), body, extract, source.UnpackOptions{}); err != nil {
					return fmt.Errorf("unpack artifacts of %s into %s: %w", args[1], extract, err)
				}
				if _, err := io.Copy(io.Discard, body); err != nil {
					return err
				}
				dest = extract
			case out == "-":
				if _, err := io.Copy(a.stdout, body); err != nil {
					return err
				}
			default:
				dest = out
				if dest == "" {
					dest = filepath.Base(art.GetName()) + ".tar.gz"
				}
				f, err := os.Create(dest)
				if err != nil {
					return err
				}
				if _, err := io.Copy(f, body); err != nil {
					f.Close()
					return err
				}
				if err := f.Close(); err != nil {
					return err
				}
			}
			if got := hex.EncodeToString(h.Sum(nil)); got != art.GetSha256() {
				return fmt.Errorf("artifacts of %s: sha256 %s, but the coordinator recorded %s; download again", args[1], got, art.GetSha256())
			}
			if dest != "" {
				fmt.Fprintf(a.stderr, "artifacts of %s (%d bytes, sha256 %s) -> %s\n", args[1], art.GetSize(), art.GetSha256(), dest)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "file to write the archive to (- for stdout)")
	cmd.Flags().StringVar(&extract, "extract", "", "unpack the archive into this directory instead")
	return cmd
}
