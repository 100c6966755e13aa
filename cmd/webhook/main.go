// Command webhook serves meshcert's admission webhooks for certificate Secrets and Gateways, and runs the mirror controller under leader election.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/meshcert/meshcert/cmd/webhook/app"
	"github.com/meshcert/meshcert/internal/logging"
	"github.com/meshcert/meshcert/internal/version"
)

func main() {
	var (
		logOpts logging.Options
		opts    app.Options
	)
	logOpts.AddFlags(pflag.CommandLine)
	opts.AddFlags(pflag.CommandLine)
	pflag.Parse()

	logger, err := logging.New(logOpts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	v, commit := version.Get()
	logger.Info("Starting webhook", "version", v, "commit", commit)
	if err := app.Run(ctx, opts, logger); err != nil {
		logger.Error(err, "Exited with error")
		os.Exit(1)
	}
}
