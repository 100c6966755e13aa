package app

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/meshcert/meshcert/internal/certrotation"
	"github.com/meshcert/meshcert/internal/mirror"
	"github.com/meshcert/meshcert/internal/validate"
	"github.com/meshcert/meshcert/internal/webhook"
)

// Options are the webhook server's settings, one flag each.
type Options struct {
	CertDir                string
	WebhookHost            string
	WebhookPort            int
	MetricsBindAddress     string
	HealthProbeBindAddress string
	LeaderElect            bool
	Namespace              string
	EnableHTTP2            bool
	// ShutdownDelay is how long the webhooks keep serving after a stop
	// signal before the server shuts down.
	ShutdownDelay time.Duration
	// AnnotateCertManager also annotates Secrets cert-manager manages.
	AnnotateCertManager bool
	Policy              validate.Policy
	Gateway             webhook.GatewayOptions
	// CertRotation creates and rotates the serving certificate; its
	// Namespace and CertDir come from the fields above.
	CertRotation certrotation.Options
	// MirrorEnabled runs the mirror controller on the elected leader.
	MirrorEnabled bool
	// Mirror configures it; its Namespace comes from Namespace above.
	Mirror mirror.Options
}

// DefaultCertDir is the directory the serving certificate is mounted in.
const DefaultCertDir = "/tmp/k8s-webhook-server/serving-certs"

// AddFlags registers the options on fs.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.CertDir, "cert-dir", DefaultCertDir,
		"Directory of the serving certificate, as tls.crt and tls.key; changes are reloaded without a restart.")
	fs.StringVar(&o.WebhookHost, "webhook-host", "", "Address the webhook server listens on; empty means all.")
	fs.IntVar(&o.WebhookPort, "webhook-port", 9443, "Port of the HTTPS webhook server.")
	fs.StringVar(&o.MetricsBindAddress, "metrics-bind-address", ":8080",
		"Address of the Prometheus /metrics endpoint; 0 disables it.")
	fs.StringVar(&o.HealthProbeBindAddress, "health-probe-bind-address", ":8081",
		"Address of the /healthz and /readyz endpoints; 0 disables them.")
	fs.BoolVar(&o.LeaderElect, "leader-elect", false,
		"Elect one replica to run the controllers; every replica serves the webhooks.")
	fs.StringVar(&o.Namespace, "namespace", os.Getenv("POD_NAMESPACE"),
		"Namespace meshcert runs in, for its leader-election lease (default: $POD_NAMESPACE).")
	fs.BoolVar(&o.EnableHTTP2, "enable-http2", false,
		"Serve the webhooks over HTTP/2 as well; off by default because of HTTP/2 stream-reset attacks.")
	fs.DurationVar(&o.ShutdownDelay, "shutdown-delay", 5*time.Second,
		"How long to keep serving after SIGTERM before shutting down, so that the API server stops sending "+
			"admission requests to this pod first; 0 shuts down at once.")
	fs.BoolVar(&o.AnnotateCertManager, "annotate-cert-manager-secrets", false,
		"Annotate Secrets managed by cert-manager (annotation cert-manager.io/certificate-name) too.")
	o.Policy.AddFlags(fs)
	o.Gateway.AddFlags(fs)
	o.CertRotation.AddFlags(fs)
	fs.BoolVar(&o.MirrorEnabled, "mirror", true,
		"Copy Secrets labelled meshcert.io/mirror=true to the peer clusters configured in --namespace.")
	o.Mirror = mirror.DefaultOptions()
	o.Mirror.AddFlags(fs)
}

// Validate reports options that cannot work together.
func (o *Options) Validate() error {
	if o.LeaderElect && o.Namespace == "" {
		return errors.New("--leader-elect needs --namespace or the POD_NAMESPACE environment variable")
	}
	if o.ShutdownDelay < 0 {
		return fmt.Errorf("invalid --shutdown-delay %s: it must not be negative", o.ShutdownDelay)
	}
	if o.WebhookPort <= 0 || o.WebhookPort > 65535 {
		return fmt.Errorf("invalid --webhook-port %d: use 1 to 65535", o.WebhookPort)
	}
	if err := o.Policy.Validate(); err != nil {
		return fmt.Errorf("invalid policy: %w", err)
	}
	return nil
}
