// Command exporter publishes per-certificate expiry metrics for Prometheus.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/meshcert/meshcert/internal/metrics/app"
)

func main() {
	var opts app.Options
	opts.AddFlags(pflag.CommandLine)
	pflag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := app.Run(ctx, &opts, pflag.CommandLine); err != nil {
		if !app.Logged(err) {
			fmt.Fprintln(os.Stderr, err)
		}
		os.Exit(1)
	}
}
