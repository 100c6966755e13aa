package validate

import "github.com/meshcert/meshcert/internal/certs"

// Rule ids. The ids of problems the parser finds are its certs.Reason
// values, so the exporter's error reasons and admission findings agree.
const (
	RuleNotPEM          = RuleID(certs.ReasonNotPEM)
	RuleDER             = RuleID(certs.ReasonDER)
	RuleDoubleBase64    = RuleID(certs.ReasonDoubleBase64)
	RuleEscapedNewlines = RuleID(certs.ReasonEscapedNewlines)
	RuleLeadingGarbage  = RuleID(certs.ReasonLeadingGarbage)
	RuleMalformed       = RuleID(certs.ReasonMalformed)
	RuleUnexpectedBlock = RuleID(certs.ReasonUnexpectedBlock)
	RuleEncryptedKey    = RuleID(certs.ReasonEncryptedKey)
	RuleUnsupportedKey  = RuleID(certs.ReasonUnsupportedKey)

	RuleMissingCertificate = RuleID("missing-certificate")
	RuleMissingKey         = RuleID("missing-key")
	RuleKeyMismatch        = RuleID("key-mismatch")
	RuleChainOrder         = RuleID("chain-order")
	RuleWeakRSAKey         = RuleID("weak-rsa-key")
	RuleDisallowedCurve    = RuleID("disallowed-curve")
	RuleNotYetValid        = RuleID("not-yet-valid")
	RuleExpired            = RuleID("expired")
	RuleInvalidCA          = RuleID("invalid-ca")

	RuleExpiringSoon         = RuleID("expiring-soon")
	RuleCAExpiresFirst       = RuleID("ca-expires-first")
	RuleRootInChain          = RuleID("root-in-chain")
	RuleIncompleteChain      = RuleID("incomplete-chain")
	RuleDuplicateCertificate = RuleID("duplicate-certificate")
	RuleNoSAN                = RuleID("no-san")
	RuleWeakSignature        = RuleID("weak-signature")
	RuleLeafIsCA             = RuleID("leaf-is-ca")
	RuleMissingServerAuth    = RuleID("missing-server-auth")
	RuleLayoutConflict       = RuleID("layout-conflict")
	RuleEmptyCA              = RuleID("empty-ca")
)

// Rules lists every rule of a certificate Secret with its default action.
// docs/rules.md documents each one; a test keeps the two in step.
var Rules = []Rule{
	{ID: RuleNotPEM, DefaultAction: Deny, Summary: "a value that is not PEM text"},
	{ID: RuleDER, DefaultAction: Deny, Summary: "a value that is binary DER instead of PEM"},
	{ID: RuleDoubleBase64, DefaultAction: Deny, Summary: "a value that is base64 of PEM text (encoded twice)"},
	{ID: RuleEscapedNewlines, DefaultAction: Deny, Summary: `PEM text with literal \n escapes instead of line breaks`},
	{ID: RuleLeadingGarbage, DefaultAction: Deny, Summary: "whitespace or a byte-order mark before a BEGIN line"},
	{ID: RuleMalformed, DefaultAction: Deny, Summary: "a certificate or key block that does not parse"},
	{ID: RuleUnexpectedBlock, DefaultAction: Deny, Summary: "a key or other block inside a certificate chain, or a certificate where the key belongs"},
	{ID: RuleEncryptedKey, DefaultAction: Deny, Summary: "an encrypted private key, which gateways cannot read"},
	{ID: RuleUnsupportedKey, DefaultAction: Deny, Summary: "a private key of a type gateways do not support"},
	{ID: RuleMissingCertificate, DefaultAction: Deny, Summary: "a missing or empty certificate, such as a key without its certificate"},
	{ID: RuleMissingKey, DefaultAction: Deny, Summary: "a missing or empty private key, such as a certificate without its key"},
	{ID: RuleKeyMismatch, DefaultAction: Deny, Summary: "a private key that does not belong to the leaf certificate"},
	{ID: RuleChainOrder, DefaultAction: Deny, Summary: "a chain whose leaf is not first or whose certificates are not each signed by the next"},
	{ID: RuleWeakRSAKey, DefaultAction: Deny, Summary: "a leaf RSA key shorter than the minimum", Threshold: "--min-rsa-bits=2048"},
	{ID: RuleDisallowedCurve, DefaultAction: Deny, Summary: "a leaf elliptic-curve key on a curve not allowed", Threshold: "--allowed-curves=P-256,P-384"},
	{ID: RuleNotYetValid, DefaultAction: Deny, Summary: "a leaf whose validity starts in the future"},
	{ID: RuleExpired, DefaultAction: Deny, Summary: "a leaf that has expired"},
	{ID: RuleInvalidCA, DefaultAction: Deny, Summary: "a CA value (ca.crt, cacert) with no parsable certificate"},
	{ID: RuleExpiringSoon, DefaultAction: Warn, Summary: "a leaf that expires within the threshold", Threshold: "--expiring-soon=720h"},
	{ID: RuleCAExpiresFirst, DefaultAction: Warn, Summary: "an intermediate or CA certificate that has expired or expires before the leaf"},
	{ID: RuleRootInChain, DefaultAction: Warn, Summary: "a chain that includes its self-signed root"},
	{ID: RuleIncompleteChain, DefaultAction: Warn, Summary: "a chain that is a leaf alone, issued by a certificate not included"},
	{ID: RuleDuplicateCertificate, DefaultAction: Warn, Summary: "a certificate that appears twice in a value"},
	{ID: RuleNoSAN, DefaultAction: Warn, Summary: "a leaf with no DNS or IP subject alternative names"},
	{ID: RuleWeakSignature, DefaultAction: Warn, Summary: "a certificate signed with SHA-1 or MD5"},
	{ID: RuleLeafIsCA, DefaultAction: Warn, Summary: "a leaf that is a CA certificate"},
	{ID: RuleMissingServerAuth, DefaultAction: Warn, Summary: "a leaf whose extended key usage lacks serverAuth"},
	{ID: RuleLayoutConflict, DefaultAction: Warn, Summary: "both tls.crt/tls.key and cert/key with different content"},
	{ID: RuleEmptyCA, DefaultAction: Warn, Summary: "an empty ca.crt or cacert value, which Istio ignores"},
}

var rulesByID = indexRules(AllRules())

func indexRules(rules []Rule) map[RuleID]Rule {
	index := make(map[RuleID]Rule, len(rules))
	for _, rule := range rules {
		index[rule.ID] = rule
	}
	return index
}

// LookupRule returns the rule with the given id.
func LookupRule(id RuleID) (Rule, bool) {
	rule, ok := rulesByID[id]
	return rule, ok
}
