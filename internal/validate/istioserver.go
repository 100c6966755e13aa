package validate

import (
	"fmt"
	"slices"
	"strings"
)

// checkServer checks the credentials of one server.
func (c *istioCheck) checkServer(index int, server *IstioServer) error {
	tls := server.TLS
	credentials := tls.Credentials()
	if len(credentials) == 0 {
		return nil
	}
	label := server.Label(index)
	mode := tls.modeOrDefault()
	switch mode {
	case ModeIstioMutual:
		c.add(RuleIstioMutualCredential, "%s: ISTIO_MUTUAL serves the mesh certificate, so credential %s cannot apply; "+
			"remove it or use mode SIMPLE or MUTUAL", label, strings.Join(credentials, ", "))
		return nil
	case ModePassthrough, ModeAutoPassthrough:
		c.add(RuleIgnoredCredential, "%s: %s does not terminate TLS, so credential %s is ignored",
			label, mode, strings.Join(credentials, ", "))
		return nil
	case ModeSimple, ModeMutual, ModeOptionalMutual:
	default:
		// The CRD's enum rejects other modes before admission.
		return nil
	}
	if tls.CredentialName != "" && len(tls.CredentialNames) > 0 || len(credentials) > maxCredentialsPerServer {
		c.add(RuleInvalidCredentialName, "%s: set credentialName or at most %d credentialNames, not %s",
			label, maxCredentialsPerServer, strings.Join(credentials, ", "))
		return nil
	}
	mutual := mode == ModeMutual || mode == ModeOptionalMutual
	for i, raw := range credentials {
		if err := c.checkCredential(label, server, raw, mutual && i == 0); err != nil {
			return err
		}
	}
	return nil
}

// checkCredential checks one credential of a server in every namespace
// the gateway pods read it from. verifiesClients is set for the
// credential a mutual-TLS server takes its client CA from.
//
// NOTE: with two credentialNames the CA is looked up after the first
// one; which credential Istio derives the CA from was not checked
// against Istio's source.
func (c *istioCheck) checkCredential(label string, server *IstioServer, raw string, verifiesClients bool) error {
	ref, err := ParseCredentialName(raw)
	if err != nil {
		c.add(RuleInvalidCredentialName, "%s: credentialName %q is invalid: %v", label, raw, err)
		return nil
	}
	if !ref.Checkable() {
		c.add(RuleUncheckedCredential, "%s: credential %q is served by %s://, which is not checked",
			label, raw, ref.Scheme)
		return nil
	}
	var missing []string
	for _, namespace := range c.credentialNamespaces(label, ref) {
		result, err := c.lookup(namespace, ref.Name)
		if err != nil {
			return err
		}
		if result.secret == nil {
			missing = append(missing, namespace)
		}
		if err := c.checkFound(label, server, namespace, ref, result, verifiesClients); err != nil {
			return err
		}
	}
	if len(missing) > 0 {
		// whereFrom is fixed text, so it joins the format rather than the
		// arguments, which a warning cuts to fit one line.
		c.add(RuleCredentialNotFound, "%s: Secret %s not found in %s, "+c.whereFrom(),
			label, ref.Name, strings.Join(missing, ", "))
	}
	return nil
}

// checkFound checks the credential Secret namespace/ref.Name and, for a
// mutual-TLS server, its client CA; result.secret is nil when the Secret
// does not exist.
func (c *istioCheck) checkFound(label string, server *IstioServer, namespace string, ref CredentialRef,
	result *secretResult, verifiesClients bool) error {
	caInCredential := false
	if verifiesClients {
		fromCredential, err := c.checkClientCA(label, server.TLS, namespace, ref, result)
		if err != nil {
			return err
		}
		caInCredential = fromCredential
	}
	if result.secret == nil {
		return nil
	}
	secretName := namespace + "/" + ref.Name
	c.details = append(c.details, fmt.Sprintf("%s serves Secret %s", label, secretName))
	c.reportSecret(label, secretName, result, scopeOf(caInCredential))
	c.reportHosts(label, secretName, result, server.ServedHosts())
	return nil
}

func scopeOf(withCA bool) secretScope {
	if withCA {
		return scopeServedAndCA
	}
	return scopeServed
}

// whereFrom returns why the namespaces of a not-found message were
// searched.
func (c *istioCheck) whereFrom() string {
	if c.podsFound {
		return "where the gateway pods run"
	}
	return "a fallback gateway namespace"
}

// credentialNamespaces returns the namespaces to look ref up in, and
// denies a namespace that differs from the gateway pods': Istio lets a
// gateway read only Secrets of its own namespace for Istio Gateways.
func (c *istioCheck) credentialNamespaces(label string, ref CredentialRef) []string {
	if ref.Namespace == "" {
		return c.namespaces
	}
	if !c.podsFound {
		return []string{ref.Namespace}
	}
	var others []string
	for _, namespace := range c.namespaces {
		if namespace != ref.Namespace {
			others = append(others, namespace)
		}
	}
	if len(others) > 0 {
		c.add(RuleCrossNamespaceCredential, "%s: credential %q is in namespace %s but the gateway pods run in %s, "+
			"and an Istio Gateway can only use Secrets of its pods' namespace; create the Secret in %s and name it %q",
			label, ref.Raw, ref.Namespace, strings.Join(others, ", "), strings.Join(others, ", "), ref.Name)
	}
	if slices.Contains(c.namespaces, ref.Namespace) {
		return []string{ref.Namespace}
	}
	return nil
}

// checkClientCA finds the CA a mutual-TLS server verifies clients with,
// in Istio's order: caCertCredentialName, else Secret NAME-cacert, else
// the cacert or ca.crt of the credential itself. It reports whether the
// CA comes from the credential Secret.
func (c *istioCheck) checkClientCA(label string, tls *IstioServerTLS, namespace string, ref CredentialRef,
	credential *secretResult) (bool, error) {
	if tls.CACertCredentialName != "" {
		c.reportShadowedCA(label, namespace+"/"+ref.Name, "caCertCredentialName", credential)
		return false, c.checkNamedCA(label, tls.CACertCredentialName, namespace)
	}
	caName := ref.Name + CASecretSuffix
	result, err := c.lookup(namespace, caName)
	if err != nil {
		return false, err
	}
	if result.secret != nil {
		c.reportShadowedCA(label, namespace+"/"+ref.Name, "Secret "+caName, credential)
		c.requireCA(label, namespace+"/"+caName, "Secret "+caName, result)
		c.reportSecret(label, namespace+"/"+caName, result, scopeCA)
		return false, nil
	}
	if credential.secret == nil {
		return false, nil
	}
	c.requireCA(label, namespace+"/"+ref.Name, "the credential Secret, as no Secret "+caName+" exists", credential)
	return true, nil
}

func (c *istioCheck) checkNamedCA(label, raw, namespace string) error {
	ref, err := ParseCredentialName(raw)
	if err != nil {
		c.add(RuleInvalidCredentialName, "%s: caCertCredentialName %q is invalid: %v", label, raw, err)
		return nil
	}
	if !ref.Checkable() {
		c.add(RuleUncheckedCredential, "%s: caCertCredentialName %q is served by %s://, which is not checked",
			label, raw, ref.Scheme)
		return nil
	}
	if ref.Namespace != "" {
		namespace = ref.Namespace
	}
	result, err := c.lookup(namespace, ref.Name)
	if err != nil {
		return err
	}
	if result.secret == nil {
		c.add(RuleCredentialNotFound, "%s: caCertCredentialName Secret %s not found in %s",
			label, ref.Name, namespace)
		return nil
	}
	c.requireCA(label, namespace+"/"+ref.Name, "caCertCredentialName", result)
	c.reportSecret(label, namespace+"/"+ref.Name, result, scopeCA)
	return nil
}

// requireCA denies a CA source without a CA value.
func (c *istioCheck) requireCA(label, secretName, source string, result *secretResult) {
	data := result.secret.Data
	if !hasValue(data, KeyGenericCA) && !hasValue(data, KeyTLSCA) {
		c.add(RuleMissingClientCA, "%s: mutual TLS needs a CA to verify clients, but Secret %s (from %s) has no cacert "+
			"or ca.crt; add the CA there, set caCertCredentialName, or use mode SIMPLE", label, secretName, source)
		return
	}
	c.details = append(c.details, fmt.Sprintf("%s verifies clients with the CA of Secret %s (from %s)",
		label, secretName, source))
}

// reportShadowedCA warns when the credential Secret holds a CA that Istio
// ignores because the client CA comes from source.
func (c *istioCheck) reportShadowedCA(label, secretName, source string, credential *secretResult) {
	if credential.secret == nil {
		return
	}
	for _, key := range []string{KeyGenericCA, KeyTLSCA} {
		if hasValue(credential.secret.Data, key) {
			c.add(RuleShadowedClientCA, "%s: %s of Secret %s is ignored; the client CA comes from %s",
				label, key, secretName, source)
			return
		}
	}
}
