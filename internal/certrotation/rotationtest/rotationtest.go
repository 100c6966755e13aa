// Package rotationtest runs meshcert's certificate rotation in tests.
package rotationtest

import (
	"context"
	"testing"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/meshcert/meshcert/internal/certrotation"
	"github.com/meshcert/meshcert/internal/testenv"
)

// Run starts a manager with only certificate rotation against the API
// server of config, and returns once the first certificate is written.
// The manager runs until ctx ends.
func Run(ctx context.Context, tb testing.TB, config *rest.Config, opts certrotation.Options) {
	tb.Helper()
	mgr, err := manager.New(config, manager.Options{
		Scheme:                 testenv.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	})
	if err != nil {
		tb.Fatalf("create manager: %v", err)
	}
	ready, err := certrotation.Add(mgr, opts)
	if err != nil {
		tb.Fatalf("add certificate rotation: %v", err)
	}
	go func() {
		if err := mgr.Start(ctx); err != nil {
			tb.Errorf("manager stopped: %v", err)
		}
	}()
	select {
	case <-ready:
	case <-ctx.Done():
		tb.Fatalf("certificate rotation not ready before the test context ended: %v", ctx.Err())
	}
}
