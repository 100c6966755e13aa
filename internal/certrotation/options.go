package certrotation

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/pflag"
)

// Default names match the objects that the Helm chart (charts/meshcert)
// and deploy/meshcert.yaml create for a release named "meshcert". The
// chart passes the names of other releases as flags.
const (
	DefaultSecretName  = "meshcert-webhook-cert"
	DefaultServiceName = "meshcert-webhook"
	DefaultWebhookName = "meshcert-webhook"
)

// Options configure the rotation of the webhook's serving certificate.
type Options struct {
	// Enabled turns rotation on. When off, another party (cert-manager, an
	// operator) provides tls.crt and tls.key in CertDir and the CA bundle.
	Enabled bool
	// Namespace contains the Secret and the Service. The webhook sets it
	// from --namespace.
	Namespace string
	// CertDir receives tls.crt and tls.key. The webhook sets it from
	// --cert-dir.
	CertDir string
	// SecretName is the Secret that stores the CA and serving key pairs.
	// It must exist: the chart creates it empty.
	SecretName string
	// ServiceName is the Service in front of the webhook. The serving
	// certificate names <service>.<namespace>.svc and its short forms.
	ServiceName string
	// ValidatingWebhook and MutatingWebhook name the webhook
	// configurations whose clientConfig.caBundle is kept current. An empty
	// name skips that configuration.
	ValidatingWebhook string
	MutatingWebhook   string
	// CAValidity and CertValidity are the lifetimes of a new CA and a new
	// serving certificate. RenewBefore is how long before expiry either is
	// replaced.
	CAValidity   time.Duration
	CertValidity time.Duration
	RenewBefore  time.Duration
}

// AddFlags registers the --cert-rotation.* flags on fs. Namespace and
// CertDir have no flags here because the webhook already has --namespace
// and --cert-dir.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.Enabled, "cert-rotation.enabled", true,
		"Create and rotate the webhook's CA and serving certificate and inject the CA bundle into the webhook configurations. "+
			"Disable when cert-manager or another party provides them.")
	fs.StringVar(&o.SecretName, "cert-rotation.secret-name", DefaultSecretName,
		"Secret in --namespace that stores the CA and the serving certificate; it must exist.")
	fs.StringVar(&o.ServiceName, "cert-rotation.service-name", DefaultServiceName,
		"Service in --namespace in front of the webhook; the serving certificate is issued for its DNS names.")
	fs.StringVar(&o.ValidatingWebhook, "cert-rotation.validating-webhook", DefaultWebhookName,
		"ValidatingWebhookConfiguration whose CA bundle is kept current; empty skips it.")
	fs.StringVar(&o.MutatingWebhook, "cert-rotation.mutating-webhook", DefaultWebhookName,
		"MutatingWebhookConfiguration whose CA bundle is kept current; empty skips it.")
	fs.DurationVar(&o.CAValidity, "cert-rotation.ca-validity", 10*365*24*time.Hour,
		"Lifetime of a newly created CA certificate.")
	fs.DurationVar(&o.CertValidity, "cert-rotation.cert-validity", 365*24*time.Hour,
		"Lifetime of a newly issued serving certificate.")
	fs.DurationVar(&o.RenewBefore, "cert-rotation.renew-before", 90*24*time.Hour,
		"Replace the CA or the serving certificate when it expires within this duration.")
}

// Validate returns an error naming every option that cannot work.
func (o Options) Validate() error {
	if !o.Enabled {
		return nil
	}
	var errs []error
	for _, required := range []struct{ flag, value string }{
		{"--namespace", o.Namespace},
		{"--cert-dir", o.CertDir},
		{"--cert-rotation.secret-name", o.SecretName},
		{"--cert-rotation.service-name", o.ServiceName},
	} {
		if required.value == "" {
			errs = append(errs, fmt.Errorf("%s is empty; certificate rotation needs it", required.flag))
		}
	}
	if o.ValidatingWebhook == "" && o.MutatingWebhook == "" {
		errs = append(errs, errors.New("--cert-rotation.validating-webhook and --cert-rotation.mutating-webhook are both empty; name at least one"))
	}
	if o.RenewBefore <= 0 {
		errs = append(errs, fmt.Errorf("--cert-rotation.renew-before %s must be positive", o.RenewBefore))
	}
	for _, validity := range []struct {
		flag  string
		value time.Duration
	}{{"--cert-rotation.ca-validity", o.CAValidity}, {"--cert-rotation.cert-validity", o.CertValidity}} {
		if validity.value <= o.RenewBefore {
			errs = append(errs, fmt.Errorf("%s %s must exceed --cert-rotation.renew-before %s, or every check renews",
				validity.flag, validity.value, o.RenewBefore))
		}
	}
	return errors.Join(errs...)
}

// dnsNames returns the names a client of the Service may dial, the
// canonical <service>.<namespace>.svc first.
func (o Options) dnsNames() []string {
	return []string{
		o.ServiceName + "." + o.Namespace + ".svc",
		o.ServiceName,
		o.ServiceName + "." + o.Namespace,
		o.ServiceName + "." + o.Namespace + ".svc.cluster.local",
	}
}
