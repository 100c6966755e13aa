package webhook

import (
	"context"
	"fmt"
	"maps"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/meshcert/meshcert/internal/validate"
)

// DefaultGatewayNamespaces lists the namespaces searched for an Istio
// Gateway's credentials when no pod matches its selector: Istio's
// default ingress namespace.
var DefaultGatewayNamespaces = []string{"istio-system"}

// GatewayOptions configure the Gateway webhooks and the checks of Secret
// writes against the Gateways using them.
type GatewayOptions struct {
	// FallbackNamespaces are checked for an Istio Gateway's credentials
	// when its selector matches no pod.
	FallbackNamespaces []string
	// DenyDeleteInUse denies the deletion of a Secret that Gateways use,
	// instead of warning.
	DenyDeleteInUse bool
}

// AddFlags registers the options on fs.
func (o *GatewayOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringSliceVar(&o.FallbackNamespaces, "gateway-namespaces", DefaultGatewayNamespaces,
		"Namespaces where an Istio Gateway's credentials are checked when its selector matches no pod.")
	fs.BoolVar(&o.DenyDeleteInUse, "deny-delete-in-use", false,
		"Deny the deletion of a Secret that Gateways use, instead of warning (rule delete-in-use); "+
			"deletions in a terminating namespace are always allowed.")
}

// RegisterGatewayWebhooks registers the Istio and Gateway API Gateway
// handlers on the manager's webhook server, the cache indexes they read,
// and the Gateway types on its scheme. It returns the checker of Secret
// writes against their Gateways, for the Secret webhook.
func RegisterGatewayWebhooks(ctx context.Context, mgr manager.Manager, policy validate.Policy, opts GatewayOptions) (*SecretUsers, error) {
	for _, install := range []func(*runtime.Scheme) error{gatewayv1.Install, gatewayv1beta1.Install} {
		if err := install(mgr.GetScheme()); err != nil {
			return nil, fmt.Errorf("add Gateway API types to the scheme: %w", err)
		}
	}

	policy = gatewayPolicy(policy, opts)
	lookups := &Lookups{Cache: mgr.GetCache(), API: mgr.GetAPIReader(), FallbackNamespaces: opts.FallbackNamespaces}
	if len(lookups.FallbackNamespaces) == 0 {
		lookups.FallbackNamespaces = DefaultGatewayNamespaces
	}
	if err := lookups.AddIndexes(ctx, mgr.GetFieldIndexer()); err != nil {
		return nil, err
	}
	logger := mgr.GetLogger()
	if lookups.NoIstio {
		logger.Info("Istio Gateway CRD not served; Secret writes are not checked against Istio Gateways")
	}
	if lookups.NoGatewayAPI {
		logger.Info("Gateway API Gateway CRD not served; Secret writes are not checked against Gateway API Gateways")
	}

	decoder := admission.NewDecoder(mgr.GetScheme())
	server := mgr.GetWebhookServer()
	server.Register(ValidateIstioGatewayPath, (&admission.Webhook{
		Handler: &IstioGatewayValidator{Policy: policy, Lookups: lookups},
	}).WithRecoverPanic(true))
	server.Register(ValidateGatewayAPIPath, (&admission.Webhook{
		Handler: &GatewayAPIValidator{Policy: policy, Lookups: lookups, Decoder: decoder},
	}).WithRecoverPanic(true))
	InitMetrics(ValidateIstioGatewayName, policy, validate.GatewayRules)
	InitMetrics(ValidateGatewayAPIName, policy, validate.GatewayRules)
	return &SecretUsers{Policy: policy, Lookups: lookups, Decoder: decoder}, nil
}

// gatewayPolicy returns policy with the options applied, leaving the
// caller's action map untouched.
func gatewayPolicy(policy validate.Policy, opts GatewayOptions) validate.Policy {
	policy.Actions = maps.Clone(policy.Actions)
	if policy.Actions == nil {
		policy.Actions = map[validate.RuleID]validate.Action{}
	}
	if opts.DenyDeleteInUse {
		policy.Actions[validate.RuleDeleteInUse] = validate.Deny
	}
	return policy
}
