package certrotation

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"

	"github.com/open-policy-agent/cert-controller/pkg/rotator"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// FieldOwner is the field manager of the CA bundles written into the
// webhook configurations.
const FieldOwner = "meshcert-cert-rotation"

// Add registers certificate rotation with mgr. The returned channel closes
// once the certificate files are in opts.CertDir and the CA bundle is in
// every named webhook configuration. When rotation is disabled, it is
// closed already. Start the webhook server only after it closes (see
// StartAfter), because the server fails when its certificate files are
// missing.
func Add(mgr manager.Manager, opts Options) (<-chan struct{}, error) {
	ready := make(chan struct{})
	if !opts.Enabled {
		close(ready)
		return ready, nil
	}
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("certificate rotation options: %w", err)
	}
	if err := addFileWriter(mgr, opts); err != nil {
		return nil, fmt.Errorf("add certificate file writer: %w", err)
	}
	if err := rotator.AddRotator(mgr, newRotator(opts, ready)); err != nil {
		return nil, fmt.Errorf("add certificate rotator: %w", err)
	}
	return ready, nil
}

func newRotator(opts Options, ready chan struct{}) *rotator.CertRotator {
	names := opts.dnsNames()
	return &rotator.CertRotator{
		SecretKey:      types.NamespacedName{Namespace: opts.Namespace, Name: opts.SecretName},
		CertDir:        opts.CertDir,
		CAName:         "meshcert-webhook-ca",
		CAOrganization: "meshcert",
		DNSName:        names[0],
		ExtraDNSNames:  names[1:],
		IsReady:        ready,
		Webhooks:       webhooks(opts),
		FieldOwner:     FieldOwner,
		ExtKeyUsages:   &[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		// Every replica serves admission requests, so every replica needs
		// the files; see the package documentation.
		RequireLeaderElection: false,
		CaCertDuration:        opts.CAValidity,
		ServerCertDuration:    opts.CertValidity,
		LookaheadInterval:     opts.RenewBefore,
		EnableReadinessCheck:  true,
	}
}

func webhooks(opts Options) []rotator.WebhookInfo {
	var infos []rotator.WebhookInfo
	if opts.ValidatingWebhook != "" {
		infos = append(infos, rotator.WebhookInfo{Name: opts.ValidatingWebhook, Type: rotator.Validating})
	}
	if opts.MutatingWebhook != "" {
		infos = append(infos, rotator.WebhookInfo{Name: opts.MutatingWebhook, Type: rotator.Mutating})
	}
	return infos
}

// ReadyCheck returns a readiness check that fails until ready closes, for
// mgr.AddReadyzCheck.
func ReadyCheck(ready <-chan struct{}) healthz.Checker {
	return func(_ *http.Request) error {
		select {
		case <-ready:
			return nil
		default:
			return errors.New("webhook serving certificate is not ready")
		}
	}
}

// StartAfter returns a runnable that starts r once ready closes, so the
// webhook server starts only when its certificate files exist. It runs on
// every replica, like the webhook server.
func StartAfter(ready <-chan struct{}, r manager.Runnable) manager.Runnable {
	return waitingRunnable{ready: ready, runnable: r}
}

type waitingRunnable struct {
	ready    <-chan struct{}
	runnable manager.Runnable
}

func (w waitingRunnable) Start(ctx context.Context) error {
	select {
	case <-w.ready:
		return w.runnable.Start(ctx)
	case <-ctx.Done():
		return nil
	}
}

func (waitingRunnable) NeedLeaderElection() bool { return false }
