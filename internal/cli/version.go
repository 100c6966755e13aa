package cli

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/meshcert/meshcert/internal/version"
)

func newVersionCommand(s *settings) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and commit of meshcert",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			v, commit := version.Get()
			_, err := fmt.Fprintf(s.streams.Out, "meshcert %s (commit %s, %s)\n", v, commit, runtime.Version())
			return err
		},
	}
}
