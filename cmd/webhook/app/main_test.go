package app_test

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"github.com/spf13/pflag"

	"github.com/meshcert/meshcert/cmd/webhook/app"
	"github.com/meshcert/meshcert/internal/logging"
)

// replicaEnv, when set in the environment, makes the test binary run as
// one webhook replica instead of running tests (see runReplica).
const replicaEnv = "MESHCERT_TEST_REPLICA"

func TestMain(m *testing.M) {
	if os.Getenv(replicaEnv) != "" {
		os.Exit(runReplica(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// runReplica runs the webhook as cmd/webhook does. It parses args as the
// binary's flags and serves until SIGTERM. Tests start replicas as separate
// processes because controller-runtime accepts each controller name once
// per process, and because every replica needs its own metrics registry.
func runReplica(args []string) int {
	flags, logOpts, opts := newWebhookFlagSet()
	if err := flags.Parse(args); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	logger, err := logging.New(*logOpts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := app.Run(ctx, *opts, logger); err != nil {
		logger.Error(err, "Exited with error")
		return 1
	}
	return 0
}

// newWebhookFlagSet returns the flags of cmd/webhook and the options they
// fill.
func newWebhookFlagSet() (*pflag.FlagSet, *logging.Options, *app.Options) {
	var (
		logOpts logging.Options
		opts    app.Options
	)
	flags := pflag.NewFlagSet("webhook", pflag.ContinueOnError)
	logOpts.AddFlags(flags)
	opts.AddFlags(flags)
	return flags, &logOpts, &opts
}
