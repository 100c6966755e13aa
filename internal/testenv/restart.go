package testenv

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
)

// RestartAPIServer stops the kube-apiserver process with SIGTERM and starts
// a new one while etcd keeps running, so every stored object survives. The
// new process listens on the same port and serves the same certificate,
// trusts the same client CA and signs service account tokens with the same
// key, so clients built from c.Config before the restart reconnect on
// their own. RestartAPIServer returns once /readyz reports ready.
//
// NOTE: the port is free while the old process is gone and the new one
// starts, so another process on the machine could take it in between.
func (c *Cluster) RestartAPIServer(tb testing.TB) {
	tb.Helper()
	if c.Env == nil {
		tb.Fatalf("restart API server %s: the cluster is stopped", c.Name)
	}
	apiServer := c.Env.ControlPlane.APIServer
	servingCA := apiServer.SecureServing.CA
	address := apiServer.SecureServing.HostPort()

	// APIServer.Start (controller-runtime v0.25.3) keeps the serving
	// certificate and keys that CertDir already contains, reuses its Authn
	// and thus the client CA, and listens on the port it chose first.
	if err := apiServer.Stop(); err != nil {
		tb.Fatalf("stop API server %s: %v", c.Name, err)
	}
	if err := apiServer.Start(); err != nil {
		tb.Fatalf("start API server %s again: %v", c.Name, err)
	}
	if got := apiServer.SecureServing.HostPort(); got != address {
		tb.Fatalf("API server %s listens on %s after the restart, want %s", c.Name, got, address)
	}
	if !bytes.Equal(apiServer.SecureServing.CA, servingCA) {
		tb.Fatalf("API server %s serves a certificate from a new CA after the restart: "+
			"check that envtest still keeps the certificates in APIServer.CertDir", c.Name)
	}
	if err := waitReady(c.Config, apiServer.StartTimeout); err != nil {
		tb.Fatalf("API server %s not ready after the restart: %v", c.Name, err)
	}
}

// waitReady polls /readyz with config's credentials until the API server
// returns 200 OK or timeout passes.
func waitReady(config *rest.Config, timeout time.Duration) error {
	httpClient, err := rest.HTTPClientFor(config)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	readyz, err := url.JoinPath(config.Host, "readyz")
	if err != nil {
		return err
	}
	var lastErr error
	err = wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		request, err := http.NewRequestWithContext(ctx, http.MethodGet, readyz, nil)
		if err != nil {
			return false, err
		}
		// A failed request is retried because the API server may still
		// close connections while it starts.
		response, err := httpClient.Do(request)
		if err != nil {
			lastErr = err
			return false, nil
		}
		_ = response.Body.Close()
		if response.StatusCode != http.StatusOK {
			lastErr = fmt.Errorf("GET %s: %s", readyz, response.Status)
			return false, nil
		}
		return true, nil
	})
	if err != nil && lastErr != nil {
		return fmt.Errorf("%w: last attempt: %w", err, lastErr)
	}
	return err
}
