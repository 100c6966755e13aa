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
		Short: "Print the version and commit of meshcert (the same as --version)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintf(s.streams.Out, "meshcert %s\n", versionText())
			return err
		},
	}
}

// versionText returns the version, commit and Go version that the version
// command and --version print.
func versionText() string {
	v, commit := version.Get()
	return fmt.Sprintf("%s (commit %s, %s)", v, commit, runtime.Version())
}
