package validate

import (
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/meshcert/meshcert/internal/certs"
)

// SecretGetter returns the Secret namespace/name, or nil and no error when
// it does not exist.
type SecretGetter func(namespace, name string) (*corev1.Secret, error)

// secretResult is a Secret looked up once per review and its check.
type secretResult struct {
	secret   *corev1.Secret
	facts    *SecretFacts
	findings Findings
}

// gatewayCheck collects the findings of one Gateway. Secrets are looked
// up and checked once per review, however many servers name them, and
// dropped with the check.
type gatewayCheck struct {
	policy    Policy
	now       time.Time
	object    string
	getSecret SecretGetter
	secrets   map[string]*secretResult
	findings  Findings
	details   []string
}

func newGatewayCheck(object string, getSecret SecretGetter, policy Policy, now time.Time) *gatewayCheck {
	return &gatewayCheck{
		policy:    policy,
		now:       now,
		object:    object,
		getSecret: getSecret,
		secrets:   map[string]*secretResult{},
	}
}

// add records a finding unless the policy ignores its rule.
func (c *gatewayCheck) add(rule RuleID, format string, args ...any) {
	action := c.policy.ActionFor(rule)
	if action == Ignore {
		return
	}
	message := fmt.Sprintf(format, args...)
	c.findings = append(c.findings, Finding{
		Rule:    rule,
		Action:  action,
		Object:  c.object,
		Block:   certs.NoBlock,
		Message: message,

		ShortMessage: shortMessage(rule, action, "", message, format, args...),
	})
}

// lookup returns the checked Secret namespace/name; its secret is nil
// when the Secret does not exist.
func (c *gatewayCheck) lookup(namespace, name string) (*secretResult, error) {
	key := namespace + "/" + name
	if result, ok := c.secrets[key]; ok {
		return result, nil
	}
	secret, err := c.getSecret(namespace, name)
	if err != nil {
		return nil, fmt.Errorf("get Secret %s: %w", key, err)
	}
	result := &secretResult{secret: secret}
	if secret != nil {
		result.facts, result.findings = CheckSecret(secret, c.policy, c.now)
	}
	c.secrets[key] = result
	return result, nil
}

// secretScope is what a server reads from a Secret: the served
// certificate and key, the client CA, or both.
type secretScope int

const (
	scopeServed secretScope = iota
	scopeCA
	scopeServedAndCA
)

// covers reports whether a finding concerns a part of the Secret the
// server reads. Findings on the Secret as a whole count for every scope.
func (s secretScope) covers(f Finding) bool {
	switch s {
	case scopeServed:
		return !isCAKey(f.Key)
	case scopeCA:
		return isCAKey(f.Key)
	default:
		return true
	}
}

// reportSecret turns the findings of a Secret a server uses into one
// denial of what breaks the server and one warning of the rest.
func (c *gatewayCheck) reportSecret(server, secretName string, result *secretResult, scope secretScope) {
	var fatal, other []string
	for _, f := range result.findings {
		switch {
		case !scope.covers(f):
		case fatalRules[f.Rule]:
			fatal = append(fatal, withoutObject(f))
		default:
			other = append(other, string(f.Rule))
		}
	}
	if len(fatal) > 0 {
		c.add(RuleUnusableCredential, "%s: Secret %s cannot be served: %s",
			server, secretName, strings.Join(fatal, "; "))
	}
	if len(other) > 0 {
		c.add(RuleCredentialProblems, "%s: Secret %s has findings %s",
			server, secretName, strings.Join(uniqueSorted(other), ", "))
	}
}

// reportHosts warns about the hosts the leaf certificate does not cover.
func (c *gatewayCheck) reportHosts(server, secretName string, result *secretResult, hosts []string) {
	if result.facts == nil || result.facts.Leaf == nil {
		return
	}
	if uncovered := UncoveredHosts(result.facts.Leaf.X509, hosts); len(uncovered) > 0 {
		c.add(RuleHostNotCovered, "%s: %s not in the SANs of Secret %s",
			server, strings.Join(uncovered, ", "), secretName)
	}
}

// withoutObject formats a Secret finding for a Gateway message: "key
// tls.crt block 2: MESSAGE [rule]".
func withoutObject(f Finding) string {
	location := strings.TrimSpace(strings.TrimPrefix(f.Location(), f.Object))
	if location == "" {
		return fmt.Sprintf("%s [%s]", f.Message, f.Rule)
	}
	return fmt.Sprintf("%s: %s [%s]", location, f.Message, f.Rule)
}

func uniqueSorted(values []string) []string {
	sort.Strings(values)
	out := values[:0]
	for i, value := range values {
		if i == 0 || value != values[i-1] {
			out = append(out, value)
		}
	}
	return out
}
