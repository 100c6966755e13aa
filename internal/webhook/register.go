package webhook

import (
	"k8s.io/apimachinery/pkg/runtime"
	ctrlwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/meshcert/meshcert/internal/validate"
)

// Paths the webhook server serves; the webhook configurations in
// config/webhook/webhooks.yaml name the same paths.
const (
	ValidateSecretPath       = "/validate-secret"
	MutateSecretPath         = "/mutate-secret"
	ValidateIstioGatewayPath = "/validate-istio-gateway"
	ValidateGatewayAPIPath   = "/validate-gateway-api"
)

// SecretOptions configure the certificate Secret webhooks.
type SecretOptions struct {
	Policy validate.Policy
	// AnnotateCertManager also annotates Secrets cert-manager manages.
	AnnotateCertManager bool
	// Users checks Secret writes against the Gateways using them; nil
	// skips that check.
	Users *SecretUsers
}

// RegisterSecretWebhooks registers the validating and mutating handlers
// of certificate Secrets on server and creates their metric series.
func RegisterSecretWebhooks(server ctrlwebhook.Server, scheme *runtime.Scheme, opts SecretOptions) {
	decoder := admission.NewDecoder(scheme)
	validator := &SecretValidator{Policy: opts.Policy, Decoder: decoder, Users: opts.Users}
	annotator := &SecretAnnotator{Policy: opts.Policy, Decoder: decoder, AnnotateCertManager: opts.AnnotateCertManager}

	server.Register(ValidateSecretPath, (&admission.Webhook{Handler: validator}).WithRecoverPanic(true))
	server.Register(MutateSecretPath, (&admission.Webhook{Handler: annotator}).WithRecoverPanic(true))

	InitMetrics(ValidateSecretName, opts.Policy, validate.Rules)
	InitMetrics(MutateSecretName, opts.Policy, nil)
	if opts.Users != nil {
		initSecretUseMetrics(opts.Users.Policy)
	}
}
