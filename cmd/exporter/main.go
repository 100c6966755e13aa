// Command exporter publishes per-certificate expiry metrics for Prometheus.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-logr/logr"
	"github.com/spf13/pflag"

	"github.com/meshcert/meshcert/internal/logging"
	"github.com/meshcert/meshcert/internal/version"
)

func main() {
	var logOpts logging.Options
	logOpts.AddFlags(pflag.CommandLine)
	pflag.Parse()

	logger, err := logging.New(logOpts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, logger); err != nil {
		logger.Error(err, "Exited with error")
		os.Exit(1)
	}
}

func run(ctx context.Context, logger logr.Logger) error {
	v, commit := version.Get()
	logger.Info("Starting exporter", "version", v, "commit", commit)
	<-ctx.Done()
	logger.Info("Stopped exporter")
	return nil
}
