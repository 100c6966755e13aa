package validate

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/meshcert/meshcert/internal/certs"
)

// SecretFacts are the parsed facts of a certificate Secret: what a
// gateway would serve from it.
type SecretFacts struct {
	Layout Layout
	// CertKey and KeyKey are the data keys of the served certificate and
	// private key; empty for LayoutCA.
	CertKey string
	KeyKey  string
	// Chain holds the certificates of CertKey that parsed, in the order
	// of the value. Leaf is the one of them the private key matches, or
	// the first when there is no key or it matches none.
	Chain []*certs.Certificate
	Leaf  *certs.Certificate
	// Key is the public half of the private key, or nil.
	Key *certs.PrivateKey
	// CAKey is the data key of the CA Istio uses (cacert before ca.crt),
	// and CA its certificates.
	CAKey string
	CA    []*certs.Certificate
}

// NotAfter returns the earliest expiry of the served chain: the time the
// gateway's certificate stops working. It is zero without a chain.
func (f *SecretFacts) NotAfter() time.Time {
	var earliest time.Time
	for _, cert := range f.Chain {
		if earliest.IsZero() || cert.X509.NotAfter.Before(earliest) {
			earliest = cert.X509.NotAfter
		}
	}
	return earliest
}

// sharedCache is shared by every check in the process: the same material
// is checked again and again (metadata-only updates, every Gateway that
// names a Secret), and entries depend only on the bytes.
var sharedCache = newParseCache(DefaultCacheEntries)

// CheckSecret checks a certificate Secret against policy at time now. It
// returns the facts of what a gateway would serve (nil when the Secret
// holds no certificate material) and every finding whose action is not
// Ignore. Parse results are cached by a hash of the bytes, so checking
// the same material again costs little.
func CheckSecret(secret *corev1.Secret, policy Policy, now time.Time) (*SecretFacts, Findings) {
	return checkSecret(secret, policy, now, sharedCache)
}

func checkSecret(secret *corev1.Secret, policy Policy, now time.Time, cache *parseCache) (*SecretFacts, Findings) {
	check := &secretCheck{
		policy: policy,
		now:    now,
		object: ObjectName(secret),
		cache:  cache,
		data:   secret.Data,
	}
	check.run(DetectLayout(secret))
	return check.facts, check.findings
}

// ObjectName returns "Secret NAMESPACE/NAME" for findings. A Secret
// created with generateName has no name yet and shows its prefix.
func ObjectName(secret *corev1.Secret) string {
	name := secret.Name
	if name == "" && secret.GenerateName != "" {
		name = secret.GenerateName + "*"
	}
	if secret.Namespace == "" {
		return "Secret " + name
	}
	return "Secret " + secret.Namespace + "/" + name
}

type secretCheck struct {
	policy   Policy
	now      time.Time
	object   string
	cache    *parseCache
	data     map[string][]byte
	facts    *SecretFacts
	findings Findings
}

// add records a finding unless the policy ignores its rule.
func (c *secretCheck) add(rule RuleID, key string, block int, format string, args ...any) {
	action := c.policy.ActionFor(rule)
	if action == Ignore {
		return
	}
	message := fmt.Sprintf(format, args...)
	c.findings = append(c.findings, Finding{
		Rule:    rule,
		Action:  action,
		Object:  c.object,
		Key:     key,
		Block:   block,
		Message: message,

		ShortMessage: shortMessage(rule, action, key, message, format, args...),
	})
}

func (c *secretCheck) run(layout Layout) {
	if layout == LayoutNone {
		return
	}
	c.facts = &SecretFacts{Layout: layout}
	if layout != LayoutCA {
		c.checkServed(layout)
	}
	c.checkCA()
	if layout != LayoutCA {
		c.checkComplete()
	}
	c.checkLayoutConflict(layout)
}

func (c *secretCheck) checkServed(layout Layout) {
	certKey, keyKey := layoutKeys(layout)
	c.facts.CertKey, c.facts.KeyKey = certKey, keyKey

	chain := c.parseChain(certKey, keyKey)
	key := c.parseKey(keyKey, certKey)
	if chain == nil || chain.bundle == nil || len(chain.bundle.Certificates) == 0 {
		return
	}
	c.facts.Chain = chain.bundle.Certificates
	c.facts.Key = key

	leafPosition := c.checkKeyMatch(chain, key)
	c.facts.Leaf = chain.certificateAt(leafPosition)
	c.checkChain(chain, leafPosition)
	c.checkLeaf(c.facts.Leaf)
}

// parseChain parses the certificate value and reports what did not parse.
func (c *secretCheck) parseChain(certKey, keyKey string) *chainValue {
	value := c.data[certKey]
	if len(bytes.TrimSpace(value)) == 0 {
		c.reportMissing(RuleMissingCertificate, certKey, keyKey, "certificate chain (leaf first)")
		return nil
	}
	chain := cached(c.cache, kindChain, value, parseChainValue)
	if chain.err != nil {
		c.addParseError(certKey, chain.err, roleCertificate)
	}
	if chain.bundle != nil {
		for _, blockErr := range chain.bundle.Errors {
			c.addParseError(certKey, blockErr, roleCertificate)
		}
	}
	return chain
}

type keyValue struct {
	key *certs.PrivateKey
	err error
}

func parseKeyValue(value []byte) *keyValue {
	key, err := certs.ParsePrivateKey(value)
	return &keyValue{key: key, err: err}
}

// parseKey parses the private key value. The full parse, with the key's
// consistency checks, runs once per distinct key, and only its public
// half is cached.
func (c *secretCheck) parseKey(keyKey, certKey string) *certs.PrivateKey {
	value := c.data[keyKey]
	if len(bytes.TrimSpace(value)) == 0 {
		c.reportMissing(RuleMissingKey, keyKey, certKey, "PEM private key")
		return nil
	}
	parsed := cached(c.cache, kindKey, value, parseKeyValue)
	if parsed.err != nil {
		if certs.ReasonOf(parsed.err) == certs.ReasonEmpty {
			c.add(RuleMissingKey, keyKey, certs.NoBlock, "%v; add the PEM private key", parsed.err)
			return nil
		}
		c.addParseError(keyKey, parsed.err, roleKey)
		return nil
	}
	return parsed.key
}

func (c *secretCheck) reportMissing(rule RuleID, key, otherKey, what string) {
	state := "missing"
	if _, ok := c.data[key]; ok {
		state = "empty"
	}
	if hasValue(c.data, otherKey) {
		c.add(rule, key, certs.NoBlock, "%s is %s but %s is set; add the %s under %s", key, state, otherKey, what, key)
		return
	}
	c.add(rule, key, certs.NoBlock, "%s is %s; add the %s under %s", key, state, what, key)
}

type valueRole int

const (
	roleCertificate valueRole = iota
	roleKey
	roleCA
)

// addParseError turns a parser error into a finding with a fix.
func (c *secretCheck) addParseError(key string, err error, role valueRole) {
	var certErr *certs.Error
	if !errors.As(err, &certErr) {
		c.add(RuleMalformed, key, certs.NoBlock, "%v", err)
		return
	}
	rule := RuleID(certErr.Reason)
	if _, known := rulesByID[rule]; !known {
		rule = RuleMalformed
	}
	c.add(rule, key, certErr.Block, "%v%s", certErr.Err, fixFor(certErr.Reason, role))
}

// fixFor returns the advice to append to a parser message that has none.
func fixFor(reason certs.Reason, role valueRole) string {
	switch reason {
	case certs.ReasonMalformed:
		if role == roleKey {
			return "; re-export the key with 'openssl pkey -in KEY -out KEY.pem'"
		}
		return "; re-export the certificate with 'openssl x509 -in CERT -out CERT.pem'"
	case certs.ReasonNotPEM:
		if role == roleKey {
			return "; store the PEM key, starting with -----BEGIN PRIVATE KEY-----"
		}
		return "; store PEM text, starting with -----BEGIN CERTIFICATE-----"
	case certs.ReasonUnsupportedKey:
		return "; use an RSA, ECDSA or Ed25519 key"
	default:
		return ""
	}
}
