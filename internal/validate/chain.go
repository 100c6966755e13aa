package validate

import (
	"bytes"
	"crypto/x509"

	"github.com/meshcert/meshcert/internal/certs"
)

// maxChainAnalysis bounds the certificates whose issuer links are
// computed, so that a value with thousands of blocks costs a bounded
// number of signature checks. Real chains have at most four or five.
const maxChainAnalysis = 16

// chainValue is the parse and issuer analysis of a certificate chain
// value. It depends on no time, policy or private key, so it is cached.
type chainValue struct {
	bundle *certs.Bundle
	// err concerns the value as a whole (empty, not PEM, DER, ...).
	err error
	// unique holds the indexes in bundle.Certificates of the first
	// occurrence of each certificate; duplicates those of repeats, each
	// paired with the index it repeats.
	unique     []int
	duplicates [][2]int
	// issuer[k] is the position in unique of the certificate that signed
	// unique[k], or -1 when none in the value did.
	issuer     []int
	selfSigned []bool
}

func parseChainValue(value []byte) *chainValue {
	bundle, err := certs.ParseCertificates(value)
	result := &chainValue{bundle: bundle, err: err}
	if bundle == nil {
		return result
	}
	result.findDuplicates()
	result.linkIssuers()
	return result
}

func parseCAValue(value []byte) *chainValue {
	bundle, err := certs.ParseCertificates(value)
	result := &chainValue{bundle: bundle, err: err}
	if bundle != nil {
		result.findDuplicates()
	}
	return result
}

func (v *chainValue) findDuplicates() {
	first := map[[32]byte]int{}
	for i, cert := range v.bundle.Certificates {
		if earlier, ok := first[cert.SHA256]; ok {
			v.duplicates = append(v.duplicates, [2]int{i, earlier})
			continue
		}
		first[cert.SHA256] = i
		v.unique = append(v.unique, i)
	}
}

// linkIssuers finds, for each distinct certificate, the one in the value
// that signed it: names are compared first, so signatures are checked
// only between candidates.
func (v *chainValue) linkIssuers() {
	n := min(len(v.unique), maxChainAnalysis)
	v.issuer = make([]int, n)
	v.selfSigned = make([]bool, n)
	for k := range n {
		cert := v.certAt(k)
		v.issuer[k] = -1
		v.selfSigned[k] = bytes.Equal(cert.RawIssuer, cert.RawSubject) && cert.CheckSignatureFrom(cert) == nil
		// Prefer the next certificate, the position a correct chain uses.
		for _, j := range candidateOrder(k, n) {
			if signedBy(cert, v.certAt(j)) {
				v.issuer[k] = j
				break
			}
		}
	}
}

// candidateOrder lists the positions other than k, starting with k+1.
func candidateOrder(k, n int) []int {
	order := make([]int, 0, n)
	for j := k + 1; j < n; j++ {
		order = append(order, j)
	}
	for j := range k {
		order = append(order, j)
	}
	return order
}

// signedBy reports whether issuer issued cert. When cert carries an
// authority key identifier and issuer a subject key identifier, matching
// names and identifiers decide, as in the path building of TLS libraries.
// A renewed issuer with the same name and a new key has another
// identifier, so it does not match. Only certificates without key
// identifiers cost a signature verification, which would otherwise be
// most of a check of new material.
func signedBy(cert, issuer *x509.Certificate) bool {
	if !bytes.Equal(cert.RawIssuer, issuer.RawSubject) {
		return false
	}
	if len(cert.AuthorityKeyId) > 0 && len(issuer.SubjectKeyId) > 0 {
		return bytes.Equal(cert.AuthorityKeyId, issuer.SubjectKeyId)
	}
	return cert.CheckSignatureFrom(issuer) == nil
}

func (v *chainValue) certAt(position int) *x509.Certificate {
	return v.bundle.Certificates[v.unique[position]].X509
}

func (v *chainValue) certificateAt(position int) *certs.Certificate {
	return v.bundle.Certificates[v.unique[position]]
}

// analysed returns how many distinct certificates have issuer links.
func (v *chainValue) analysed() int { return len(v.issuer) }

// expectedOrder returns the positions of the chain that starts at leaf,
// each followed by its issuer, and the positions of certificates that are
// not on that path.
func (v *chainValue) expectedOrder(leaf int) (path, unrelated []int) {
	onPath := make([]bool, v.analysed())
	for at := leaf; at >= 0 && !onPath[at]; at = v.issuer[at] {
		onPath[at] = true
		path = append(path, at)
		if v.selfSigned[at] {
			break
		}
	}
	for k := range v.analysed() {
		if !onPath[k] {
			unrelated = append(unrelated, k)
		}
	}
	return path, unrelated
}

// inOrder reports whether each certificate is signed by the next. The
// issuer search tries the next position first, so any other issuer means
// the next certificate did not sign it.
func (v *chainValue) inOrder() bool {
	for k := 0; k+1 < v.analysed(); k++ {
		if v.issuer[k] != k+1 {
			return false
		}
	}
	return true
}
