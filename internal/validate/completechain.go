package validate

import (
	"bytes"
	"crypto/x509"
)

// checkComplete reports a served chain that is a leaf alone whose issuer
// is another certificate: such a leaf is almost always missing its
// intermediate, which most clients other than browsers do not fetch. A chain
// that ends in an intermediate is left alone, because ending below a
// root that clients hold is the normal layout. A leaf that a root in the
// Secret's CA value signed directly is complete too.
func (c *secretCheck) checkComplete() {
	leaf := c.facts.Leaf
	if leaf == nil || len(distinct(c.facts.Chain)) != 1 || isSelfSigned(leaf.X509) || c.rootInCA(leaf.X509) {
		return
	}
	c.add(RuleIncompleteChain, c.facts.CertKey, leaf.Block,
		"the chain is the leaf alone, issued by %s; append that intermediate after the leaf",
		describeIssuer(leaf.X509))
}

// rootInCA reports whether a self-signed certificate of the CA value
// signed cert.
func (c *secretCheck) rootInCA(cert *x509.Certificate) bool {
	for _, ca := range c.facts.CA {
		if isSelfSigned(ca.X509) && signedBy(cert, ca.X509) {
			return true
		}
	}
	return false
}

// isSelfSigned reports whether cert is signed by its own key. It checks
// the signature directly because CheckSignatureFrom rejects a parent that
// is not a CA, as a self-signed leaf is not.
func isSelfSigned(cert *x509.Certificate) bool {
	return bytes.Equal(cert.RawIssuer, cert.RawSubject) &&
		cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature) == nil
}

// describeIssuer names a certificate's issuer by its common name, or its
// whole issuer name when it has no common name.
func describeIssuer(cert *x509.Certificate) string {
	if cert.Issuer.CommonName != "" {
		return "CN=" + cert.Issuer.CommonName
	}
	if issuer := cert.Issuer.String(); issuer != "" {
		return issuer
	}
	return "an empty issuer name"
}
