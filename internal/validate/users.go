package validate

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/meshcert/meshcert/internal/certs"
)

// SecretUse is one Gateway server or listener that reads a Secret.
type SecretUse struct {
	// Gateway names the Gateway as its findings do, such as "Gateway
	// istio-system/ingress".
	Gateway string
	// Server names the server or listener, such as `server "https"
	// (port 443)`.
	Server string
	// Served is set when the server serves the Secret's certificate.
	Served bool
	// VerifiesClients is set when a mutual-TLS server takes its client CA
	// from the Secret.
	VerifiesClients bool
}

func (u SecretUse) scope() secretScope {
	switch {
	case u.Served && u.VerifiesClients:
		return scopeServedAndCA
	case u.VerifiesClients:
		return scopeCA
	default:
		return scopeServed
	}
}

// CheckSecretUpdate denies an update of a Secret that Gateways use when
// the new content would break one of them: material the gateway cannot
// load, or a CA removed while a mutual-TLS server verifies clients with
// it. It does not repeat the Secret's own findings, which CheckSecret
// reports.
func CheckSecretUpdate(secret *corev1.Secret, uses []SecretUse, policy Policy, now time.Time) Findings {
	if len(uses) == 0 {
		return nil
	}
	facts, findings := CheckSecret(secret, policy, now)
	var broken []string
	var problems []string
	for _, use := range uses {
		reasons := breakingFindings(secret, facts, findings, use.scope())
		if len(reasons) == 0 {
			continue
		}
		broken = append(broken, use.Gateway+" "+use.Server)
		problems = append(problems, reasons...)
	}
	if len(broken) == 0 {
		return nil
	}
	return singleFinding(policy, RuleSecretInUse, ObjectName(secret),
		"used by %s, which this update would break (%s); fix the new content or move the Gateways to another Secret first",
		strings.Join(uniqueSorted(broken), ", "), strings.Join(uniqueSorted(problems), ", "))
}

// breakingFindings returns the rule ids, or "ca-removed", of what breaks
// a server that reads scope from the Secret.
func breakingFindings(secret *corev1.Secret, facts *SecretFacts, findings Findings, scope secretScope) []string {
	var reasons []string
	if scope != scopeCA && (facts == nil || facts.Layout == LayoutCA) {
		reasons = append(reasons, string(RuleMissingCertificate))
	}
	if scope != scopeServed && !hasValue(secret.Data, KeyGenericCA) && !hasValue(secret.Data, KeyTLSCA) {
		reasons = append(reasons, "ca-removed")
	}
	for _, f := range findings {
		if scope.covers(f) && fatalRules[f.Rule] {
			reasons = append(reasons, string(f.Rule))
		}
	}
	return reasons
}

// CheckSecretDelete reports the deletion of a Secret that Gateways use,
// with the action of delete-in-use (a warning unless the operator denies
// it). Deletions in a terminating namespace are always allowed, because
// blocking them would keep the namespace from going away.
func CheckSecretDelete(secret *corev1.Secret, uses []SecretUse, namespaceTerminating bool, policy Policy) Findings {
	if len(uses) == 0 || namespaceTerminating {
		return nil
	}
	gateways := gatewaysOf(uses)
	if len(gateways) == 1 {
		return singleFinding(policy, RuleDeleteInUse, ObjectName(secret),
			"move %s to another Secret first, or it stops serving TLS", gateways[0])
	}
	return singleFinding(policy, RuleDeleteInUse, ObjectName(secret),
		"move %s and %d others to another Secret first, or they stop serving TLS", gateways[0], len(gateways)-1)
}

// gatewaysOf returns the distinct Gateways of uses, sorted.
func gatewaysOf(uses []SecretUse) []string {
	names := make([]string, 0, len(uses))
	for _, use := range uses {
		names = append(names, use.Gateway)
	}
	return uniqueSorted(names)
}

func singleFinding(policy Policy, rule RuleID, object, format string, args ...any) Findings {
	action := policy.ActionFor(rule)
	if action == Ignore {
		return nil
	}
	message := fmt.Sprintf(format, args...)
	return Findings{{Rule: rule, Action: action, Object: object, Block: certs.NoBlock, Message: message,
		ShortMessage: shortMessage(rule, action, "", message, format, args...)}}
}
