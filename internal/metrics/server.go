package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Server timeouts. A scrape of a large cluster writes megabytes, so the
// write timeout is generous; the header timeout stops slow clients early.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = time.Minute
	idleTimeout       = 2 * time.Minute
	shutdownTimeout   = 10 * time.Second
)

// ServerOptions configure the HTTP server.
type ServerOptions struct {
	// Address is the listen address, such as ":9219".
	Address string
	// TelemetryPath serves the metrics, such as "/metrics".
	TelemetryPath string
}

// Handler returns the exporter's HTTP handler: metrics at telemetryPath,
// liveness at /healthz and readiness at /readyz.
func (e *Exporter) Handler(telemetryPath string) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(telemetryPath, e.metricsHandler())
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !e.Ready() {
			http.Error(w, "not ready: the sources have not synced yet", http.StatusServiceUnavailable)
			return
		}
		_, _ = fmt.Fprintln(w, "ok")
	})
	return mux
}

// Serve serves the exporter's handler until ctx ends, then shuts down
// gracefully.
func (e *Exporter) Serve(ctx context.Context, opts ServerOptions) error {
	listener, err := net.Listen("tcp", opts.Address)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", opts.Address, err)
	}
	server := &http.Server{
		Handler:           e.Handler(opts.TelemetryPath),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
	}
	served := make(chan error, 1)
	go func() { served <- server.Serve(listener) }()
	e.logger.Info("Serving metrics", "address", listener.Addr().String(), "path", opts.TelemetryPath)

	select {
	case err := <-served:
		return fmt.Errorf("serve metrics: %w", err)
	case <-ctx.Done():
	}
	e.logger.Info("Shutting down the metrics server")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := server.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shut down the metrics server: %w", err)
	}
	return nil
}
