package validate

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/meshcert/meshcert/internal/certs"
)

// checkKeyMatch reports a key that matches no certificate, and returns
// the position (in chain.unique) of the certificate the key belongs to,
// or 0 when it matches none or there is no key.
func (c *secretCheck) checkKeyMatch(chain *chainValue, key *certs.PrivateKey) int {
	if key == nil {
		return 0
	}
	for position := range chain.unique {
		if key.Matches(chain.certAt(position)) {
			return position
		}
	}
	leaf := chain.bundle.Certificates[0]
	c.add(RuleKeyMismatch, c.facts.KeyKey, certs.NoBlock,
		"the private key does not match the leaf certificate (%s, block %d of %s) nor any other certificate; "+
			"store the key the certificate was issued for", describe(leaf.X509), leaf.Block+1, c.facts.CertKey)
	return 0
}

// checkChain reports order, duplicates and an included root.
func (c *secretCheck) checkChain(chain *chainValue, leafPosition int) {
	for _, pair := range chain.duplicates {
		repeat, original := chain.bundle.Certificates[pair[0]], chain.bundle.Certificates[pair[1]]
		c.add(RuleDuplicateCertificate, c.facts.CertKey, repeat.Block,
			"block %d repeats block %d; remove the copy", repeat.Block+1, original.Block+1)
	}
	if leafPosition >= chain.analysed() {
		return
	}
	if leafPosition != 0 || !chain.inOrder() {
		c.reportOrder(chain, leafPosition)
	}
	last := chain.analysed() - 1
	if last > 0 && chain.selfSigned[last] {
		c.add(RuleRootInChain, c.facts.CertKey, chain.certificateAt(last).Block,
			"chain includes its self-signed root; remove it, clients must hold the root already")
	}
}

func (c *secretCheck) reportOrder(chain *chainValue, leafPosition int) {
	path, unrelated := chain.expectedOrder(leafPosition)
	var message strings.Builder
	if leafPosition != 0 {
		leaf := chain.certificateAt(leafPosition)
		fmt.Fprintf(&message, "the leaf certificate (%s, the one the key matches) is block %d but must come first; ",
			describe(leaf.X509), leaf.Block+1)
	} else {
		message.WriteString("the certificates are not each signed by the next one; ")
	}
	// When the path is the leaf alone there is no order to give, because
	// every other block is outside the leaf's chain and listed below.
	if len(path) > 1 {
		fmt.Fprintf(&message, "order them as blocks %s (leaf first, each followed by its issuer); ", blockList(chain, path))
	}
	switch len(unrelated) {
	case 0:
	case 1:
		fmt.Fprintf(&message, "block %s is not in the leaf's chain, remove it or add the missing intermediate",
			blockList(chain, unrelated))
	default:
		fmt.Fprintf(&message, "blocks %s are not in the leaf's chain, remove them or add the missing intermediate",
			blockList(chain, unrelated))
	}
	text := strings.TrimSuffix(message.String(), "; ")
	c.add(RuleChainOrder, c.facts.CertKey, certs.NoBlock, "%s", text)
}

func blockList(chain *chainValue, positions []int) string {
	numbers := make([]string, len(positions))
	for i, position := range positions {
		numbers[i] = fmt.Sprint(chain.certificateAt(position).Block + 1)
	}
	return strings.Join(numbers, ", ")
}

// checkLeaf applies the time, key and extension rules to the leaf.
func (c *secretCheck) checkLeaf(leaf *certs.Certificate) {
	cert, key, block := leaf.X509, c.facts.CertKey, leaf.Block
	c.checkValidity(cert, key, block)
	c.checkLeafKey(cert, key, block)

	if len(cert.DNSNames) == 0 && len(cert.IPAddresses) == 0 {
		c.add(RuleNoSAN, key, block, "leaf has no DNS or IP SANs, only %s; clients ignore the CN, add SANs",
			describe(cert))
	}
	if cert.IsCA {
		c.add(RuleLeafIsCA, key, block, "leaf is a CA certificate (CA:TRUE); issue a server certificate instead")
	}
	if !allowsServerAuth(cert) {
		c.add(RuleMissingServerAuth, key, block, "leaf's extended key usage lacks serverAuth; clients may reject it")
	}
	for _, issued := range distinct(c.facts.Chain) {
		c.checkSignature(issued, key)
	}
}

func (c *secretCheck) checkValidity(cert *x509.Certificate, key string, block int) {
	switch {
	case c.now.Before(cert.NotBefore):
		c.add(RuleNotYetValid, key, block, "the leaf certificate is not valid until %s; issue one valid now",
			formatTime(cert.NotBefore))
	case c.now.After(cert.NotAfter):
		c.add(RuleExpired, key, block, "the leaf certificate expired on %s; renew it and store the new one",
			formatTime(cert.NotAfter))
	case cert.NotAfter.Sub(c.now) < c.policy.expiringSoon():
		c.add(RuleExpiringSoon, key, block, "leaf expires in %s (%s); renew it",
			formatRemaining(cert.NotAfter.Sub(c.now)), formatTime(cert.NotAfter))
	}
	for _, issuer := range distinct(c.facts.Chain) {
		if issuer != c.facts.Leaf {
			c.checkIssuerExpiry(issuer, key, "intermediate", cert.NotAfter)
		}
	}
}

// checkIssuerExpiry reports a CA certificate that expired or expires
// before leafNotAfter (zero when there is no leaf).
func (c *secretCheck) checkIssuerExpiry(issuer *certs.Certificate, key, role string, leafNotAfter time.Time) {
	notAfter := issuer.X509.NotAfter
	switch {
	case c.now.After(notAfter):
		c.add(RuleCAExpiresFirst, key, issuer.Block, "%s %s expired on %s; replace it",
			role, describe(issuer.X509), formatTime(notAfter))
	case !leafNotAfter.IsZero() && notAfter.Before(leafNotAfter):
		c.add(RuleCAExpiresFirst, key, issuer.Block, "%s %s expires %s, before the leaf",
			role, describe(issuer.X509), formatTime(notAfter))
	}
}

func (c *secretCheck) checkLeafKey(cert *x509.Certificate, key string, block int) {
	info := certs.DescribePublicKey(cert.PublicKey)
	switch info.Algorithm {
	case certs.AlgorithmRSA:
		if info.Bits < c.policy.minRSABits() {
			c.add(RuleWeakRSAKey, key, block, "the leaf RSA key has %d bits, fewer than %d; reissue it with a %d-bit key or %s",
				info.Bits, c.policy.minRSABits(), max(c.policy.minRSABits(), 2048), c.policy.preferredKey())
		}
	case certs.AlgorithmECDSA:
		if !c.policy.curveAllowed(info.Curve) {
			c.add(RuleDisallowedCurve, key, block, "the leaf key uses curve %s, which is not allowed; reissue it on %s",
				info.Curve, c.policy.allowedCurvesText())
		}
	case certs.AlgorithmEd25519:
		if !c.policy.curveAllowed("Ed25519") {
			c.add(RuleDisallowedCurve, key, block, "the leaf key is Ed25519, which is not allowed; reissue it on %s",
				c.policy.allowedCurvesText())
		}
	}
}

var weakSignatures = map[x509.SignatureAlgorithm]bool{
	x509.MD2WithRSA:    true,
	x509.MD5WithRSA:    true,
	x509.SHA1WithRSA:   true,
	x509.DSAWithSHA1:   true,
	x509.ECDSAWithSHA1: true,
}

// checkSignature reports a SHA-1 or MD5 signature. A self-signed root's
// own signature is not checked by clients, so it is not reported.
func (c *secretCheck) checkSignature(cert *certs.Certificate, key string) {
	if !weakSignatures[cert.X509.SignatureAlgorithm] || bytes.Equal(cert.X509.RawIssuer, cert.X509.RawSubject) {
		return
	}
	c.add(RuleWeakSignature, key, cert.Block, "block %d is signed with %s; reissue it with SHA-256",
		cert.Block+1, cert.X509.SignatureAlgorithm)
}

// allowsServerAuth reports whether TLS clients accept cert for a server:
// no extended key usage at all, serverAuth or any.
func allowsServerAuth(cert *x509.Certificate) bool {
	if len(cert.ExtKeyUsage) == 0 && len(cert.UnknownExtKeyUsage) == 0 {
		return true
	}
	for _, usage := range cert.ExtKeyUsage {
		if usage == x509.ExtKeyUsageServerAuth || usage == x509.ExtKeyUsageAny {
			return true
		}
	}
	return false
}

// describe names a certificate by its subject common name, or its whole
// subject when it has no common name.
func describe(cert *x509.Certificate) string {
	if cert.Subject.CommonName != "" {
		return "CN=" + cert.Subject.CommonName
	}
	if subject := cert.Subject.String(); subject != "" {
		return subject
	}
	return "an empty subject"
}

func formatTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339)
}

func formatRemaining(d time.Duration) string {
	if d >= 48*time.Hour {
		return fmt.Sprintf("%d days", int(math.Floor(d.Hours()/24)))
	}
	return d.Truncate(time.Minute).String()
}

// truncate shortens s to at most n runes, marking the cut with "…".
func truncate(s string, n int) string {
	runes := []rune(s)
	if len(runes) <= n {
		return s
	}
	return string(runes[:n-1]) + "…"
}

// distinct drops repeated certificates, which duplicate-certificate
// reports once, so that other rules do not report them twice.
func distinct(chain []*certs.Certificate) []*certs.Certificate {
	seen := make(map[[32]byte]bool, len(chain))
	out := make([]*certs.Certificate, 0, len(chain))
	for _, cert := range chain {
		if !seen[cert.SHA256] {
			seen[cert.SHA256] = true
			out = append(out, cert)
		}
	}
	return out
}
