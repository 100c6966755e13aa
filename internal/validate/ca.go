package validate

import (
	"bytes"
	"time"

	"github.com/meshcert/meshcert/internal/certs"
)

// checkCA checks every CA value of the Secret. Istio reads cacert before
// ca.crt, and an empty value as no value.
//
// NOTE: the certificate revocation lists (ca.crl, crl) are not checked.
func (c *secretCheck) checkCA() {
	var leafNotAfter time.Time
	if c.facts.Leaf != nil {
		leafNotAfter = c.facts.Leaf.X509.NotAfter
	}
	for _, key := range []string{KeyGenericCA, KeyTLSCA} {
		value, ok := c.data[key]
		if !ok {
			continue
		}
		if len(bytes.TrimSpace(value)) == 0 {
			c.add(RuleEmptyCA, key, certs.NoBlock, "%s is empty, so Istio ignores it; remove it or store the CA", key)
			continue
		}
		bundle := c.parseCA(key, value)
		if bundle == nil || len(bundle.Certificates) == 0 {
			continue
		}
		if c.facts.CAKey == "" {
			c.facts.CAKey, c.facts.CA = key, bundle.Certificates
		}
		for _, cert := range bundle.Certificates {
			c.checkIssuerExpiry(cert, key, "CA", leafNotAfter)
		}
	}
}

// parseCA parses a CA value. A value with no certificate at all is one
// invalid-ca finding that names the mistake. A bad block among good ones
// is reported under the parser's reason.
func (c *secretCheck) parseCA(key string, value []byte) *certs.Bundle {
	ca := cached(c.cache, kindCA, value, parseCAValue)
	if ca.bundle == nil || len(ca.bundle.Certificates) == 0 {
		c.add(RuleInvalidCA, key, certs.NoBlock, "%s holds no parsable CA certificate: %v%s",
			key, firstError(ca), fixFor(certs.ReasonOf(firstError(ca)), roleCA))
		return nil
	}
	if ca.err != nil {
		c.addParseError(key, ca.err, roleCA)
	}
	for _, blockErr := range ca.bundle.Errors {
		c.addParseError(key, blockErr, roleCA)
	}
	for _, pair := range ca.duplicates {
		repeat, original := ca.bundle.Certificates[pair[0]], ca.bundle.Certificates[pair[1]]
		c.add(RuleDuplicateCertificate, key, repeat.Block, "block %d repeats block %d; remove the copy",
			repeat.Block+1, original.Block+1)
	}
	return ca.bundle
}

func firstError(value *chainValue) error {
	if value.err != nil {
		return value.err
	}
	return value.bundle.Errors[0]
}

// checkLayoutConflict reports a Secret that holds both layouts with
// different content: Istio serves cert/key and ignores tls.crt/tls.key.
func (c *secretCheck) checkLayoutConflict(layout Layout) {
	if layout != LayoutGeneric || !hasValue(c.data, KeyTLSCert) {
		return
	}
	if bytes.Equal(c.data[KeyGenericCert], c.data[KeyTLSCert]) && bytes.Equal(c.data[KeyGenericKey], c.data[KeyTLSKey]) {
		return
	}
	c.add(RuleLayoutConflict, KeyTLSCert, certs.NoBlock,
		"Istio serves cert/key, which differ from tls.crt/tls.key; make the pairs equal or remove one")
}
