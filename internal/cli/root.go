// Package cli implements the meshcert command line: check, list,
// describe, audit, demo and version. Installed as kubectl-meshcert, the
// same commands run as the kubectl plugin 'kubectl meshcert'.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/transport"
)

// Exit statuses of every command.
const (
	ExitOK       = 0
	ExitWarnings = 1
	ExitDenied   = 2
	// ExitError is every error: a usage error (an unknown flag or
	// command, an invalid value), an unreadable input or cluster.
	ExitError = 3
)

// exitError ends a command with a status other than ExitOK after its
// output has been written, so it prints nothing more.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// settings are the values every command shares.
type settings struct {
	streams genericiooptions.IOStreams
	config  *genericclioptions.ConfigFlags
	noColor bool
	nowFlag string
	// chunkSize is the page size of list requests.
	chunkSize int64
	process
}

// process is the part of the environment that tests replace.
type process struct {
	// isTerminal reports whether a writer is a terminal.
	isTerminal func(io.Writer) bool
	// wrapTransport, when set, wraps the HTTP transport of API requests.
	wrapTransport transport.WrapperFunc
}

// Main runs the command line args (without the program name) and returns
// the exit status.
func Main(ctx context.Context, args []string, streams genericiooptions.IOStreams) int {
	return run(ctx, programName(os.Args[0]), args, streams, process{isTerminal: fileIsTerminal})
}

func run(ctx context.Context, name string, args []string, streams genericiooptions.IOStreams, rt process) int {
	s := &settings{streams: streams, process: rt}
	root := newRootCommand(name, s)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	if exit, ok := errors.AsType[exitError](err); ok {
		return exit.code
	}
	fmt.Fprintf(streams.ErrOut, "Error: %v\n", err)
	return ExitError
}

// programName returns "kubectl meshcert" when the binary runs as the
// kubectl plugin kubectl-meshcert, and "meshcert" otherwise.
func programName(arg0 string) string {
	if strings.HasPrefix(filepath.Base(arg0), "kubectl-") {
		return "kubectl meshcert"
	}
	return "meshcert"
}

func newRootCommand(name string, s *settings) *cobra.Command {
	root := &cobra.Command{
		Use:   "meshcert",
		Short: "List, describe, check and audit the TLS certificates of service-mesh gateways",
		Long: "meshcert shows the certificate Secrets that Istio and Gateway API gateways serve, " +
			"checks PEM files and Secret manifests with the admission webhook's rules before they " +
			"are applied, and audits what is already in the cluster.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.Version = versionText()
	root.SetVersionTemplate("meshcert {{.Version}}\n")
	root.SetIn(s.streams.In)
	root.SetOut(s.streams.Out)
	root.SetErr(s.streams.ErrOut)

	s.config = genericclioptions.NewConfigFlags(true)
	if s.wrapTransport != nil {
		s.config.WithWrapConfigFn(func(config *rest.Config) *rest.Config {
			config.Wrap(s.wrapTransport)
			return config
		})
	}
	flags := root.PersistentFlags()
	s.config.AddFlags(flags)
	flags.BoolVar(&s.noColor, "no-color", false,
		"Print no colours, even on a terminal (the NO_COLOR environment variable does the same).")
	flags.StringVar(&s.nowFlag, "now", "",
		"Evaluate expiry at this time (RFC 3339, e.g. 2027-01-01T00:00:00Z) instead of the current time.")
	flags.Int64Var(&s.chunkSize, "chunk-size", 500,
		"Number of objects requested from the API server per list page.")

	root.AddCommand(
		newCheckCommand(s),
		newListCommand(s),
		newDescribeCommand(s),
		newAuditCommand(s),
		newDemoCommand(s),
		newVersionCommand(s),
	)
	setDisplayName(root, name)
	return root
}

// setDisplayName makes help text and examples name the program as it
// was run, such as "kubectl meshcert" for the kubectl plugin.
func setDisplayName(root *cobra.Command, name string) {
	root.Annotations = map[string]string{cobra.CommandDisplayNameAnnotation: name}
	for _, cmd := range root.Commands() {
		cmd.Example = strings.ReplaceAll(cmd.Example, "  meshcert ", "  "+name+" ")
	}
}

// now returns the time at which certificates are evaluated.
func (s *settings) now() (time.Time, error) {
	if s.nowFlag == "" {
		return time.Now(), nil
	}
	now, err := time.Parse(time.RFC3339, s.nowFlag)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid --now %q: use RFC 3339, e.g. 2027-01-01T00:00:00Z: %w", s.nowFlag, err)
	}
	return now, nil
}

// terminal reports whether standard output is a terminal, which selects
// aligned tables over tab-separated columns.
func (s *settings) terminal() bool { return s.isTerminal(s.streams.Out) }

// color reports whether output may be coloured: only on a terminal, and
// only when neither --no-color nor a non-empty NO_COLOR is set.
func (s *settings) color() bool {
	return s.terminal() && !s.noColor && os.Getenv("NO_COLOR") == ""
}

func fileIsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
