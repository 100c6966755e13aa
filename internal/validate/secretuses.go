package validate

import (
	"fmt"
	"slices"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// IstioSecretRefs returns the Secret references of gw that a Secret write
// may affect, as index keys "NAMESPACE/NAME" with "*" for the namespace
// when the gateway pods' namespace applies: every credential, and for
// mutual-TLS servers the CA Secret (caCertCredentialName, else
// NAME-cacert). References that do not parse are left out.
func IstioSecretRefs(gw *IstioGateway) []string {
	var keys []string
	add := func(raw string) {
		ref, err := ParseCredentialName(raw)
		if err != nil || !ref.Checkable() {
			return
		}
		keys = append(keys, SecretIndexKey(ref.Namespace, ref.Name))
	}
	for _, server := range gw.Spec.Servers {
		credentials := server.TLS.Credentials()
		for _, raw := range credentials {
			add(raw)
		}
		if len(credentials) == 0 || !server.TLS.verifiesClients() {
			continue
		}
		if server.TLS.CACertCredentialName != "" {
			add(server.TLS.CACertCredentialName)
		} else {
			add(credentials[0] + CASecretSuffix)
		}
	}
	return uniqueSorted(keys)
}

// SecretIndexKey returns the key IstioSecretRefs uses for a reference:
// "NAMESPACE/NAME", or "*/NAME" when namespace is empty.
func SecretIndexKey(namespace, name string) string {
	if namespace == "" {
		namespace = "*"
	}
	return namespace + "/" + name
}

func (t *IstioServerTLS) verifiesClients() bool {
	mode := t.modeOrDefault()
	return mode == ModeMutual || mode == ModeOptionalMutual
}

// IstioSecretUses returns the servers of gw that read the Secret
// namespace/name, given the namespaces its gateway pods read credentials
// from. caSecretExists reports whether a Secret exists, to tell whether a
// mutual-TLS server takes its CA from NAME-cacert or from the credential.
func IstioSecretUses(gw *IstioGateway, namespace, name string, podNamespaces []string,
	caSecretExists func(namespace, name string) (bool, error)) ([]SecretUse, error) {
	if !slices.Contains(podNamespaces, namespace) {
		return nil, nil
	}
	var uses []SecretUse
	for i := range gw.Spec.Servers {
		server := &gw.Spec.Servers[i]
		use, ok, err := istioServerUse(server, namespace, name, caSecretExists)
		if err != nil {
			return nil, err
		}
		if ok {
			use.Gateway, use.Server = gw.ObjectName(), server.Label(i)
			uses = append(uses, use)
		}
	}
	return uses, nil
}

func istioServerUse(server *IstioServer, namespace, name string,
	caSecretExists func(namespace, name string) (bool, error)) (SecretUse, bool, error) {
	var use SecretUse
	credentials := server.TLS.Credentials()
	switch server.TLS.modeOrDefault() {
	case ModeSimple, ModeMutual, ModeOptionalMutual:
	default:
		return use, false, nil
	}
	for _, raw := range credentials {
		use.Served = use.Served || refersTo(raw, namespace, name)
	}
	if len(credentials) == 0 || !server.TLS.verifiesClients() {
		return use, use.Served, nil
	}
	first, err := ParseCredentialName(credentials[0])
	if err != nil {
		return use, use.Served, nil
	}
	switch {
	case server.TLS.CACertCredentialName != "":
		use.VerifiesClients = refersTo(server.TLS.CACertCredentialName, namespace, name)
	case name == first.Name+CASecretSuffix:
		use.VerifiesClients = refersTo(credentials[0]+CASecretSuffix, namespace, name)
	case use.Served && refersTo(credentials[0], namespace, name):
		exists, err := caSecretExists(namespace, first.Name+CASecretSuffix)
		if err != nil {
			return use, false, fmt.Errorf("look up Secret %s/%s%s: %w", namespace, first.Name, CASecretSuffix, err)
		}
		use.VerifiesClients = !exists
	}
	return use, use.Served || use.VerifiesClients, nil
}

// refersTo reports whether the credential name raw, read in the gateway
// pods' namespace, is the Secret namespace/name.
func refersTo(raw, namespace, name string) bool {
	ref, err := ParseCredentialName(raw)
	if err != nil || !ref.Checkable() {
		return false
	}
	return ref.Name == name && (ref.Namespace == "" || ref.Namespace == namespace)
}

// GatewayAPISecretUses returns the listeners of gw whose certificateRefs
// name the Secret namespace/name.
func GatewayAPISecretUses(gw *gatewayv1.Gateway, namespace, name string) []SecretUse {
	var uses []SecretUse
	for i := range gw.Spec.Listeners {
		listener := &gw.Spec.Listeners[i]
		refs, _ := ListenerSecretRefs(gw.Namespace, listener)
		for _, ref := range refs {
			if ref.Namespace == namespace && ref.Name == name {
				uses = append(uses, SecretUse{
					Gateway: GatewayAPIObjectName(gw.Namespace, gw.Name),
					Server:  listenerLabel(listener),
					Served:  true,
				})
				break
			}
		}
	}
	return uses
}
