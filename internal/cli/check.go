package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshcert/meshcert/internal/validate"
)

type checkOptions struct {
	policy        validate.Policy
	caFiles       []string
	failOnWarning bool
	// requireKey denies a certificate file given without a key file.
	requireKey bool
}

func newCheckCommand(s *settings) *cobra.Command {
	opts := &checkOptions{}
	cmd := &cobra.Command{
		Use:   "check FILE...",
		Short: "Check PEM files or Secret manifests with the admission webhook's rules",
		Long: "check runs the rules of the admission webhook on files before anything is created: " +
			"a certificate file, its key file and a CA file (told apart by their content), or " +
			"Secret manifests in YAML or JSON. '-' reads standard input.\n\n" +
			"Exit status: 0 when nothing is denied, 1 for warnings with --fail-on-warning, " +
			"2 when a rule denies, 3 for a usage error (an unknown flag or command, an invalid value) " +
			"or when an input cannot be read or decoded.",
		Example: "  meshcert check server.crt server.key --ca ca.crt\n" +
			"  kubectl create secret tls web --cert=server.crt --key=server.key --dry-run=client -o yaml | meshcert check -",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && len(opts.caFiles) == 0 {
				return fmt.Errorf("no file to check: name certificate, key or manifest files, or - for standard input")
			}
			return nil
		},
		RunE: func(_ *cobra.Command, args []string) error {
			return runCheck(s, opts, args)
		},
	}
	opts.policy.AddFlags(cmd.Flags())
	cmd.Flags().StringArrayVar(&opts.caFiles, "ca", nil,
		"File of CA certificates to store as ca.crt, whatever its content (repeatable).")
	cmd.Flags().BoolVar(&opts.failOnWarning, "fail-on-warning", false,
		"Exit with status 1 when a rule warns and none denies.")
	cmd.Flags().BoolVar(&opts.requireKey, "require-key", false,
		"Deny a certificate file given without its key file (rule missing-key), as the webhook denies "+
			"a Secret without a key; by default the key checks are skipped with a note.")
	return cmd
}

func runCheck(s *settings, opts *checkOptions, args []string) error {
	if err := opts.policy.Validate(); err != nil {
		return err
	}
	now, err := s.now()
	if err != nil {
		return err
	}
	files, err := readInputs(args, opts.caFiles, s.streams.In)
	if err != nil {
		return err
	}
	targets, notes, err := decodeInputs(files)
	if err != nil {
		return err
	}
	for _, note := range notes {
		fmt.Fprintln(s.streams.ErrOut, note)
	}

	var all validate.Findings
	var counts tally
	color := s.color()
	for _, target := range targets {
		findings := runTarget(s, target, opts, now, color)
		if target.skip != "" {
			counts.skipped++
			continue
		}
		counts.add(findings)
		all = append(all, findings...)
	}
	fmt.Fprintf(s.streams.Out, "\n%s\n", counts)
	if code := verdict(all, opts.failOnWarning); code != ExitOK {
		return exitError{code}
	}
	return nil
}

// runTarget checks one target and prints its findings under its label.
func runTarget(s *settings, target checkTarget, opts *checkOptions, now time.Time, color bool) validate.Findings {
	out := s.streams.Out
	fmt.Fprintln(out, target.label)
	if target.skip != "" {
		fmt.Fprintf(out, "  SKIPPED  %s\n", target.skip)
		return nil
	}
	_, findings := validate.CheckSecret(target.secret, opts.policy, now)
	if withoutKeyFile(target) && !opts.requireKey {
		var note string
		findings, note = skipKeyChecks(findings)
		fmt.Fprintf(out, "  NOTE  %s\n", note)
	}
	if len(findings) == 0 {
		fmt.Fprintf(out, "  %s\n", paint(color, colorGreen, "OK"))
	}
	for _, f := range findings {
		location := locationInObject(f)
		if target.origins != nil {
			location = locateInFiles(target.origins, f)
			f.Message = fileMessage(target.origins, f)
		}
		writeFinding(out, color, f, location)
	}
	return findings
}
