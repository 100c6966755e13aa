package validate

import (
	"fmt"
	"time"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// GatewayAPIEnv is the cluster state a Gateway API Gateway check reads.
type GatewayAPIEnv struct {
	GetSecret SecretGetter
	// SecretReferenceGranted reports whether a ReferenceGrant in the
	// Secret's namespace lets Gateways of the Gateway's namespace use it.
	SecretReferenceGranted func(secretNamespace, secretName string) (bool, error)
}

// GatewayAPIObjectName returns "Gateway.gateway.networking.k8s.io
// NAMESPACE/NAME" for findings, distinct from Istio's Gateway.
func GatewayAPIObjectName(namespace, name string) string {
	return "Gateway.gateway.networking.k8s.io " + namespace + "/" + name
}

// SecretRef is a core Secret a Gateway API listener names.
type SecretRef struct {
	Namespace string
	Name      string
}

// ListenerSecretRefs returns the core Secrets a listener's certificateRefs
// name, with the namespace defaulted to the Gateway's, and the refs of
// other kinds.
func ListenerSecretRefs(namespace string, listener *gatewayv1.Listener) (secrets []SecretRef, other []gatewayv1.SecretObjectReference) {
	if listener.TLS == nil {
		return nil, nil
	}
	for _, ref := range listener.TLS.CertificateRefs {
		if !isCoreSecret(ref) {
			other = append(other, ref)
			continue
		}
		secretNamespace := namespace
		if ref.Namespace != nil && *ref.Namespace != "" {
			secretNamespace = string(*ref.Namespace)
		}
		secrets = append(secrets, SecretRef{Namespace: secretNamespace, Name: string(ref.Name)})
	}
	return secrets, other
}

func isCoreSecret(ref gatewayv1.SecretObjectReference) bool {
	group := ref.Group == nil || *ref.Group == "" || *ref.Group == "core"
	kind := ref.Kind == nil || *ref.Kind == "Secret"
	return group && kind
}

// CheckGatewayAPIGateway checks the certificateRefs of every listener of
// gw. It returns an error only when a lookup fails.
func CheckGatewayAPIGateway(gw *gatewayv1.Gateway, env GatewayAPIEnv, policy Policy, now time.Time) (Findings, error) {
	check := newGatewayCheck(GatewayAPIObjectName(gw.Namespace, gw.Name), env.GetSecret, policy, now)
	for i := range gw.Spec.Listeners {
		if err := checkListener(check, gw.Namespace, &gw.Spec.Listeners[i], env); err != nil {
			return nil, err
		}
	}
	return check.findings, nil
}

func checkListener(check *gatewayCheck, namespace string, listener *gatewayv1.Listener, env GatewayAPIEnv) error {
	label := listenerLabel(listener)
	secrets, other := ListenerSecretRefs(namespace, listener)
	for _, ref := range other {
		check.add(RuleUnsupportedCertificate, "%s: certificateRef %s %s is not a core Secret and is not checked",
			label, describeKind(ref), string(ref.Name))
	}
	if len(secrets) == 0 {
		return nil
	}
	if listener.TLS.Mode != nil && *listener.TLS.Mode == gatewayv1.TLSModePassthrough {
		check.add(RuleIgnoredCredential, "%s: Passthrough does not terminate TLS, so certificateRefs are ignored",
			label)
		return nil
	}
	var hosts []string
	if listener.Hostname != nil {
		hosts = []string{ServedHost(string(*listener.Hostname))}
	}
	for _, ref := range secrets {
		if err := checkListenerSecret(check, namespace, label, ref, hosts, env); err != nil {
			return err
		}
	}
	return nil
}

func checkListenerSecret(check *gatewayCheck, namespace, label string, ref SecretRef, hosts []string, env GatewayAPIEnv) error {
	secretName := ref.Namespace + "/" + ref.Name
	if ref.Namespace != namespace {
		granted, err := env.SecretReferenceGranted(ref.Namespace, ref.Name)
		if err != nil {
			return fmt.Errorf("look up ReferenceGrants for Secret %s: %w", secretName, err)
		}
		if !granted {
			// The message must not say whether the Secret exists: the
			// writer of the Gateway may not be allowed to know.
			check.add(RuleMissingReferenceGrant, "%s: Secret %s needs a ReferenceGrant for Gateways of %s",
				label, secretName, namespace)
			return nil
		}
	}
	result, err := check.lookup(ref.Namespace, ref.Name)
	if err != nil {
		return err
	}
	if result.secret == nil {
		check.add(RuleCredentialNotFound, "%s: Secret %s not found", label, secretName)
		return nil
	}
	check.reportSecret(label, secretName, result, scopeServed)
	check.reportHosts(label, secretName, result, hosts)
	return nil
}

func describeKind(ref gatewayv1.SecretObjectReference) string {
	kind := "Secret"
	if ref.Kind != nil {
		kind = string(*ref.Kind)
	}
	if ref.Group != nil && *ref.Group != "" {
		return kind + "." + string(*ref.Group)
	}
	return kind
}

// listenerLabel names a listener in messages: `listener "https" (port 443)`.
func listenerLabel(listener *gatewayv1.Listener) string {
	return fmt.Sprintf("listener %q (port %d)", listener.Name, listener.Port)
}
