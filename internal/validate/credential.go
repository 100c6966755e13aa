package validate

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// CredentialScheme is the kind of source a credentialName names.
type CredentialScheme string

// Credential schemes, as Istio 1.2x to 1.32 spell their URI prefixes
// (pilot/pkg/model/credentials).
const (
	// SchemeKubernetes is a Secret the gateway reads from its own
	// namespace: a plain name, kubernetes://name or
	// kubernetes://namespace/name.
	SchemeKubernetes CredentialScheme = "kubernetes"
	// SchemeKubernetesGateway is kubernetes-gateway://namespace/name, the
	// form Istio generates for Gateway API listeners.
	SchemeKubernetesGateway CredentialScheme = "kubernetes-gateway"
	// SchemeSDS is sds://name, served by a custom SDS provider.
	SchemeSDS CredentialScheme = "sds"
	// SchemeBuiltin is builtin://, the proxy's own mesh certificate.
	SchemeBuiltin CredentialScheme = "builtin"
)

// CredentialRef is a parsed credentialName.
type CredentialRef struct {
	Scheme CredentialScheme
	// Namespace is empty when the name does not give one: the gateway
	// then reads the Secret from its own namespace.
	Namespace string
	Name      string
	// Raw is the credentialName as written.
	Raw string
}

// Checkable reports whether the reference names a Kubernetes Secret that
// admission can look up.
func (r CredentialRef) Checkable() bool {
	return r.Scheme == SchemeKubernetes || r.Scheme == SchemeKubernetesGateway
}

// maxCredentialNameLength bounds the input the parser looks at: a
// namespace, a slash and a Secret name are at most 63+1+253 characters,
// plus the longest scheme prefix.
const maxCredentialNameLength = 512

// ParseCredentialName parses an Istio credentialName: a plain Secret
// name, kubernetes://name, kubernetes://namespace/name,
// kubernetes-gateway://namespace/name, sds://name or builtin://. Names
// and namespaces must be valid Kubernetes object names, because Istio
// looks them up as such and never finds anything else.
func ParseCredentialName(raw string) (CredentialRef, error) {
	ref := CredentialRef{Raw: raw}
	if len(raw) > maxCredentialNameLength {
		return ref, fmt.Errorf("credential name of %d characters is longer than %d", len(raw), maxCredentialNameLength)
	}
	scheme, rest, hasScheme := strings.Cut(raw, "://")
	if !hasScheme {
		ref.Scheme, ref.Name = SchemeKubernetes, raw
		return ref, checkSecretName(raw)
	}
	ref.Scheme = CredentialScheme(scheme)
	switch ref.Scheme {
	case SchemeSDS:
		ref.Name = rest
		return ref, nil
	case SchemeBuiltin:
		return ref, nil
	case SchemeKubernetes, SchemeKubernetesGateway:
		return parseNamespacedName(ref, rest)
	default:
		return ref, fmt.Errorf("unknown scheme %q: use a plain Secret name, kubernetes:// or kubernetes-gateway://", scheme)
	}
}

// parseNamespacedName parses the NAME or NAMESPACE/NAME after a
// kubernetes:// or kubernetes-gateway:// prefix; the latter requires the
// namespace.
func parseNamespacedName(ref CredentialRef, rest string) (CredentialRef, error) {
	parts := strings.Split(rest, "/")
	switch {
	case len(parts) == 1 && ref.Scheme == SchemeKubernetesGateway:
		return ref, fmt.Errorf("%s:// needs NAMESPACE/NAME, not %q", ref.Scheme, rest)
	case len(parts) == 1:
		ref.Name = parts[0]
	case len(parts) == 2:
		ref.Namespace, ref.Name = parts[0], parts[1]
		if errs := validation.IsDNS1123Label(ref.Namespace); len(errs) > 0 {
			return ref, fmt.Errorf("invalid namespace %q: %s", ref.Namespace, errs[0])
		}
	default:
		return ref, fmt.Errorf("%q has %d slashes: use NAME or NAMESPACE/NAME", rest, len(parts)-1)
	}
	return ref, checkSecretName(ref.Name)
}

func checkSecretName(name string) error {
	if name == "" {
		return fmt.Errorf("empty Secret name")
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return fmt.Errorf("invalid Secret name %q: %s", name, errs[0])
	}
	return nil
}
