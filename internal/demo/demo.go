// Package demo runs meshcert's whole system on two local control planes
// and walks through an operator's day, checking that every step behaves as
// described. 'meshcert demo' and 'make demo' run it.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// Options configure a demo run.
type Options struct {
	// BinDir holds the webhook, exporter and meshcert binaries.
	BinDir string
	// WebhookConfigs are the files with the webhook configurations to
	// install.
	WebhookConfigs []string
	// AlertRules is the Prometheus rules file to evaluate.
	AlertRules string
	// RuleEvaluator is the program that evaluates AlertRules on a scrape.
	RuleEvaluator string
	// KeepDir keeps the working folder (kubeconfigs, logs) after the run.
	KeepDir bool
	Out     io.Writer
}

// step is one stage of the operator's day. run returns the lines that
// show its outcome, or an error when the system did not behave as
// described.
type step struct {
	title string
	run   func(ctx context.Context) ([]string, error)
}

// ErrInterrupted is returned when ctx ends before the demo has finished.
var ErrInterrupted = errors.New("demo interrupted")

// Run starts the system, runs every step and stops everything again, also
// when ctx is cancelled. It returns an error when any step failed, and
// ErrInterrupted when ctx ended first. The working folder with the
// kubeconfigs and logs is kept only after a failure, or with KeepDir.
func Run(ctx context.Context, opts Options) (err error) {
	// envtest logs through controller-runtime's global logger; the demo
	// prints its own progress instead.
	ctrllog.SetLogger(logr.Discard())
	dir, err := os.MkdirTemp("", "meshcert-demo-")
	if err != nil {
		return fmt.Errorf("create working folder: %w", err)
	}
	defer func() {
		if ctx.Err() != nil {
			err = ErrInterrupted
		}
		if opts.KeepDir || (err != nil && !errors.Is(err, ErrInterrupted)) {
			fmt.Fprintf(opts.Out, "\nKubeconfigs and logs are kept in %s\n", dir)
			return
		}
		os.RemoveAll(dir)
	}()

	fmt.Fprintln(opts.Out, "Starting two control planes, the webhook and the exporter...")
	started := time.Now()
	sys, err := startSystem(ctx, opts, dir)
	defer func() {
		if ctx.Err() != nil {
			fmt.Fprintln(opts.Out, "\nInterrupted: stopping the webhook, the exporter and the control planes.")
		}
		if stopErr := sys.stop(); stopErr != nil {
			fmt.Fprintf(opts.Out, "Cleanup failed: %v\n", stopErr)
			err = errors.Join(err, stopErr)
		}
	}()
	if err != nil {
		return err
	}
	fmt.Fprintf(opts.Out, "Ready in %s.\n", time.Since(started).Round(100*time.Millisecond))

	return runSteps(ctx, opts.Out, sys.steps())
}

func runSteps(ctx context.Context, out io.Writer, steps []step) error {
	var failed []string
	for i, s := range steps {
		if ctx.Err() != nil {
			return ErrInterrupted
		}
		fmt.Fprintf(out, "\n[%d/%d] %s\n", i+1, len(steps), s.title)
		lines, err := s.run(ctx)
		if ctx.Err() != nil {
			// A step cut short by Ctrl-C did not misbehave.
			return ErrInterrupted
		}
		for _, line := range lines {
			fmt.Fprintf(out, "      %s\n", strings.ReplaceAll(line, "\n", "\n      "))
		}
		if err != nil {
			fmt.Fprintf(out, "  FAIL %v\n", err)
			failed = append(failed, s.title)
			continue
		}
		fmt.Fprintln(out, "  ok")
	}

	fmt.Fprintf(out, "\nSummary: %d of %d steps behaved as described.\n", len(steps)-len(failed), len(steps))
	if len(failed) > 0 {
		return fmt.Errorf("%d steps failed: %s", len(failed), strings.Join(failed, "; "))
	}
	return nil
}
