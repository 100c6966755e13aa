// Package app wires the webhook binary: a controller-runtime manager that
// serves the admission webhooks over TLS, with metrics, health probes and
// leader election for the controllers added to it.
package app

import (
	"context"
	"crypto/tls"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	ctrlwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/meshcert/meshcert/internal/certrotation"
	"github.com/meshcert/meshcert/internal/mirror"
	"github.com/meshcert/meshcert/internal/webhook"
)

// leaderElectionID names the Lease the replicas elect a leader with.
const leaderElectionID = "meshcert-webhook"

// gracefulShutdownTimeout bounds how long in-flight requests and
// controllers get to finish after SIGTERM.
const gracefulShutdownTimeout = 20 * time.Second

// NewManager returns a manager that serves the webhooks of opts against
// the API server of config. Controllers join it with one call each, such
// as mirror.Add(mgr, options).
func NewManager(config *rest.Config, opts Options, logger logr.Logger) (manager.Manager, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("build scheme: %w", err)
	}
	server := ctrlwebhook.NewServer(ctrlwebhook.Options{
		Host:    opts.WebhookHost,
		Port:    opts.WebhookPort,
		CertDir: opts.CertDir,
		TLSOpts: tlsOptions(opts.EnableHTTP2),
	})
	shutdownTimeout := gracefulShutdownTimeout
	mgr, err := ctrl.NewManager(config, ctrl.Options{
		Scheme:                  scheme,
		Logger:                  logger,
		Cache:                   cacheOptions(opts.Namespace),
		Metrics:                 metricsserver.Options{BindAddress: opts.MetricsBindAddress},
		HealthProbeBindAddress:  opts.HealthProbeBindAddress,
		LeaderElection:          opts.LeaderElect,
		LeaderElectionID:        leaderElectionID,
		LeaderElectionNamespace: opts.Namespace,
		// The next leader takes over at once instead of waiting for the
		// lease to expire.
		LeaderElectionReleaseOnCancel: true,
		GracefulShutdownTimeout:       &shutdownTimeout,
		WebhookServer:                 server,
	})
	if err != nil {
		return nil, fmt.Errorf("create manager: %w", err)
	}

	users, err := webhook.RegisterGatewayWebhooks(context.Background(), mgr, server, opts.Policy, opts.Gateway)
	if err != nil {
		return nil, fmt.Errorf("register Gateway webhooks: %w", err)
	}
	webhook.RegisterSecretWebhooks(server, mgr.GetScheme(), webhook.SecretOptions{
		Policy:              opts.Policy,
		AnnotateCertManager: opts.AnnotateCertManager,
		Users:               users,
	})
	if err := addServer(mgr, server, opts); err != nil {
		return nil, err
	}
	if opts.MirrorEnabled {
		mirrorOpts := opts.Mirror
		mirrorOpts.Namespace = opts.Namespace
		if err := mirror.Add(mgr, mirrorOpts); err != nil {
			return nil, fmt.Errorf("add mirror controller: %w", err)
		}
	}
	return mgr, nil
}

// addServer starts the webhook server once its serving certificate is in
// the certificate directory: at once when another party provides it, after
// the first rotation otherwise. The server is never registered through
// mgr.GetWebhookServer, which would start it before the files exist.
func addServer(mgr manager.Manager, server ctrlwebhook.Server, opts Options) error {
	rotation := opts.CertRotation
	rotation.Namespace, rotation.CertDir = opts.Namespace, opts.CertDir
	ready, err := certrotation.Add(mgr, rotation)
	if err != nil {
		return err
	}
	if err := mgr.Add(certrotation.StartAfter(ready, server)); err != nil {
		return fmt.Errorf("add webhook server: %w", err)
	}

	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return fmt.Errorf("add health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("serving-certificate", certrotation.ReadyCheck(ready)); err != nil {
		return fmt.Errorf("add readiness check: %w", err)
	}
	if err := mgr.AddReadyzCheck("webhook", server.StartedChecker()); err != nil {
		return fmt.Errorf("add readiness check: %w", err)
	}
	return nil
}

func tlsOptions(enableHTTP2 bool) []func(*tls.Config) {
	return []func(*tls.Config){func(config *tls.Config) {
		config.MinVersion = tls.VersionTLS12
		if !enableHTTP2 {
			config.NextProtos = []string{"http/1.1"}
		}
	}}
}

// delayCancel returns a context that ends delay after ctx ends, or when
// cancel is called. A webhook pod that gets SIGTERM stays in its
// Service's endpoints for a moment: serving on meanwhile keeps admission
// requests from failing during a rollout, which matters with
// failurePolicy Fail.
func delayCancel(ctx context.Context, delay time.Duration, logger logr.Logger) (context.Context, context.CancelFunc) {
	if delay <= 0 {
		return context.WithCancel(ctx)
	}
	delayed, cancel := context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		select {
		case <-delayed.Done():
			return
		case <-ctx.Done():
		}
		logger.Info("Received a stop signal, serving on before shutting down", "delay", delay)
		select {
		case <-delayed.Done():
		case <-time.After(delay):
		}
		cancel()
	}()
	return delayed, cancel
}

// Run serves until ctx ends, then shuts down gracefully.
func Run(ctx context.Context, opts Options, logger logr.Logger) error {
	ctrl.SetLogger(logger)
	config, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("load kubeconfig: %w", err)
	}
	mgr, err := NewManager(config, opts, logger)
	if err != nil {
		return err
	}
	logger.Info("Starting manager", "webhookPort", opts.WebhookPort, "certDir", opts.CertDir,
		"leaderElect", opts.LeaderElect)
	ctx, cancel := delayCancel(ctx, opts.ShutdownDelay, logger)
	defer cancel()
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("run manager: %w", err)
	}
	logger.Info("Stopped manager")
	return nil
}
