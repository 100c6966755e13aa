package validate

import "slices"

// Rule ids of the checks of Gateways and of the Secrets they use.
const (
	RuleInvalidCredentialName    = RuleID("invalid-credential-name")
	RuleCrossNamespaceCredential = RuleID("cross-namespace-credential")
	RuleUncheckedCredential      = RuleID("unchecked-credential")
	RuleCredentialNotFound       = RuleID("credential-not-found")
	RuleUnusableCredential       = RuleID("unusable-credential")
	RuleCredentialProblems       = RuleID("credential-problems")
	RuleMissingClientCA          = RuleID("missing-client-ca")
	RuleShadowedClientCA         = RuleID("shadowed-client-ca")
	RuleHostNotCovered           = RuleID("host-not-covered")
	RuleIstioMutualCredential    = RuleID("istio-mutual-credential")
	RuleIgnoredCredential        = RuleID("ignored-credential")
	RuleServerConflict           = RuleID("server-conflict")
	RuleNoGatewayPods            = RuleID("no-gateway-pods")
	RuleUnsupportedCertificate   = RuleID("unsupported-certificate-ref")
	RuleMissingReferenceGrant    = RuleID("missing-reference-grant")
	RuleSecretInUse              = RuleID("secret-in-use")
	RuleDeleteInUse              = RuleID("delete-in-use")
)

// GatewayRules lists the rules of Istio and Gateway API Gateways and of
// writes to the Secrets they use, with their default actions.
// docs/rules.md documents each one; a test keeps the two in step.
var GatewayRules = []Rule{
	{ID: RuleInvalidCredentialName, DefaultAction: Deny, Summary: "a credentialName Istio cannot parse, or more than two credentials on one server"},
	{ID: RuleCrossNamespaceCredential, DefaultAction: Deny, Summary: "an Istio Gateway credential in another namespace than its gateway pods"},
	{ID: RuleUncheckedCredential, DefaultAction: Warn, Summary: "an sds:// or builtin:// credential, which admission cannot check"},
	{ID: RuleCredentialNotFound, DefaultAction: Warn, Summary: "a credential Secret that does not exist (yet) where the gateway reads it"},
	{ID: RuleUnusableCredential, DefaultAction: Deny, Summary: "a credential Secret that the gateway cannot serve"},
	{ID: RuleCredentialProblems, DefaultAction: Warn, Summary: "a credential Secret that works but has other findings"},
	{ID: RuleMissingClientCA, DefaultAction: Deny, Summary: "a MUTUAL or OPTIONAL_MUTUAL server with no CA to verify clients"},
	{ID: RuleShadowedClientCA, DefaultAction: Warn, Summary: "a CA in the credential Secret that Istio ignores for another CA source"},
	{ID: RuleHostNotCovered, DefaultAction: Warn, Summary: "server hosts that the certificate's SANs do not cover"},
	{ID: RuleIstioMutualCredential, DefaultAction: Deny, Summary: "an ISTIO_MUTUAL server with a credential"},
	{ID: RuleIgnoredCredential, DefaultAction: Warn, Summary: "a PASSTHROUGH or AUTO_PASSTHROUGH server with a credential, which is ignored"},
	{ID: RuleServerConflict, DefaultAction: Warn, Summary: "two servers of one workload on one port with the same credential or overlapping hosts"},
	{ID: RuleNoGatewayPods, DefaultAction: Warn, Summary: "an Istio Gateway whose selector matches no pod"},
	{ID: RuleUnsupportedCertificate, DefaultAction: Warn, Summary: "a Gateway API certificateRef of a kind other than core Secret"},
	{ID: RuleMissingReferenceGrant, DefaultAction: Warn, Summary: "a Gateway API certificateRef into another namespace without a ReferenceGrant"},
	{ID: RuleSecretInUse, DefaultAction: Deny, Summary: "a Secret update that breaks the Gateways using it"},
	{ID: RuleDeleteInUse, DefaultAction: Warn, Summary: "the deletion of a Secret that Gateways use", Threshold: "--deny-delete-in-use=false"},
}

// AllRules returns the Secret rules followed by the Gateway rules.
func AllRules() []Rule {
	return slices.Concat(Rules, GatewayRules)
}

// fatalRules are the Secret rules whose findings mean a gateway cannot
// load the material at all: Envoy rejects the certificate or key, or
// every client rejects what it serves. Rules that a policy may choose to
// deny (weak keys, curves, chain order) leave the certificate servable.
var fatalRules = map[RuleID]bool{
	RuleNotPEM:             true,
	RuleDER:                true,
	RuleDoubleBase64:       true,
	RuleEscapedNewlines:    true,
	RuleLeadingGarbage:     true,
	RuleMalformed:          true,
	RuleUnexpectedBlock:    true,
	RuleEncryptedKey:       true,
	RuleUnsupportedKey:     true,
	RuleMissingCertificate: true,
	RuleMissingKey:         true,
	RuleKeyMismatch:        true,
	RuleNotYetValid:        true,
	RuleExpired:            true,
	RuleInvalidCA:          true,
}

// isCAKey reports whether key is a data key Istio reads the client CA from.
func isCAKey(key string) bool {
	return key == KeyTLSCA || key == KeyGenericCA
}
