package cli

import (
	"crypto/x509"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/meshcert/meshcert/internal/certs"
	"github.com/meshcert/meshcert/internal/validate"
)

// Contents of a data key in describe's output.
const (
	contentCertificates = "certificates"
	contentPrivateKey   = "private-key"
	contentCRL          = "crl"
	contentInvalid      = "invalid"
)

// Values of certificateEntry.SignedBy.
const (
	signedByItself  = "itself"
	signedByNext    = "next"
	signedByOutside = "outside"
	signedByNotNext = "not-next"
)

// certificateDescription is the document 'describe -o json|yaml' prints:
// the fields of a list item and every data key's certificates.
type certificateDescription struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	certificateItem
	Keys []keyDetail `json:"keys"`
}

// keyDetail is the content of one data key. Of a private key only the
// algorithm and size are kept.
type keyDetail struct {
	Key string `json:"key"`
	// Content is certificates, private-key, crl or invalid.
	Content      string             `json:"content"`
	Certificates []certificateEntry `json:"certificates,omitempty"`
	PrivateKey   *privateKeyEntry   `json:"privateKey,omitempty"`
	// Served is set for the certificate chain a gateway serves.
	Served bool `json:"served,omitempty"`
	// Errors are the parser's messages about blocks or the value.
	Errors []string `json:"errors,omitempty"`
}

// privateKeyEntry is the algorithm and size of a private key.
type privateKeyEntry struct {
	Algorithm string `json:"algorithm"`
	Bits      int    `json:"bits"`
	// Curve is the elliptic curve of an ECDSA key, such as P-256.
	Curve string `json:"curve,omitempty"`

	// info is the text form, such as "RSA 2048 bits".
	info string
}

// certificateEntry is one certificate of a data key.
type certificateEntry struct {
	// Block is the one-based PEM block.
	Block int `json:"block"`
	// Role is leaf, intermediate or root in a served chain ("not a CA"
	// for a later certificate that is none), ca or root in a CA value.
	Role               string    `json:"role"`
	Subject            string    `json:"subject"`
	DNSNames           []string  `json:"dnsNames,omitempty"`
	IPAddresses        []string  `json:"ipAddresses,omitempty"`
	Issuer             string    `json:"issuer"`
	Serial             string    `json:"serial"`
	FingerprintSHA256  string    `json:"fingerprintSHA256"`
	NotBefore          time.Time `json:"notBefore"`
	NotAfter           time.Time `json:"notAfter"`
	DaysLeft           int       `json:"daysLeft"`
	PublicKey          string    `json:"publicKey"`
	SignatureAlgorithm string    `json:"signatureAlgorithm"`
	IsCA               bool      `json:"isCA"`
	// SignedBy is itself, next (the next certificate of the value),
	// outside (the last, signed by a certificate not in the value) or
	// not-next (out of order).
	SignedBy string `json:"signedBy"`
}

// describeKeys returns every data key that holds certificates or a
// private key: the served certificate and key first, then the CA, then
// the others by name. CRL values are named but not parsed.
func describeKeys(secret *corev1.Secret, now time.Time) []keyDetail {
	layout := validate.DetectLayout(secret)
	names := make([]string, 0, len(secret.Data))
	for name := range secret.Data {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int {
		if order := keyRank(a, layout) - keyRank(b, layout); order != 0 {
			return order
		}
		return strings.Compare(a, b)
	})
	details := make([]keyDetail, 0, len(names))
	for _, name := range names {
		if detail, ok := describeKey(name, secret.Data[name], layout, now); ok {
			details = append(details, detail)
		}
	}
	return details
}

func describeKey(name string, value []byte, layout validate.Layout, now time.Time) (keyDetail, bool) {
	detail := keyDetail{Key: name}
	if name == validate.KeyTLSCRL || name == validate.KeyGenericCRL {
		detail.Content = contentCRL
		return detail, true
	}
	blocks, _ := certs.DecodePEM(value)
	if slices.ContainsFunc(blocks, func(b certs.Block) bool { return isKeyBlock(b.Type) }) {
		return describePrivateKey(detail, value), true
	}
	bundle, err := certs.ParseCertificates(value)
	if bundle == nil || len(bundle.Certificates) == 0 {
		detail.Content = contentInvalid
		detail.Errors = []string{firstBundleError(bundle, err).Error()}
		return detail, isCertificateKey(name)
	}
	detail.Content = contentCertificates
	detail.Served = name == validate.KeyTLSCert && layout == validate.LayoutTLS ||
		name == validate.KeyGenericCert && layout == validate.LayoutGeneric
	chain := bundle.Certificates
	for i, cert := range chain {
		var next *certs.Certificate
		if i+1 < len(chain) {
			next = chain[i+1]
		}
		detail.Certificates = append(detail.Certificates, describeCertificateEntry(i, cert, next, detail.Served, now))
	}
	for _, blockErr := range bundle.Errors {
		detail.Errors = append(detail.Errors, blockErr.Error())
	}
	return detail, true
}

func describePrivateKey(detail keyDetail, value []byte) keyDetail {
	key, err := certs.ParsePrivateKey(value)
	if err != nil {
		detail.Content = contentInvalid
		detail.Errors = []string{err.Error()}
		return detail
	}
	detail.Content = contentPrivateKey
	detail.PrivateKey = &privateKeyEntry{
		Algorithm: string(key.Algorithm), Bits: key.Bits, Curve: key.Curve, info: keyDescription(key.PublicKeyInfo),
	}
	return detail
}

func describeCertificateEntry(index int, cert *certs.Certificate, next *certs.Certificate,
	served bool, now time.Time) certificateEntry {
	x := cert.X509
	return certificateEntry{
		Block:              cert.Block + 1,
		Role:               certificateRole(x, index, served),
		Subject:            x.Subject.String(),
		DNSNames:           x.DNSNames,
		IPAddresses:        ipStrings(x),
		Issuer:             x.Issuer.String(),
		Serial:             serialHex(cert),
		FingerprintSHA256:  cert.Fingerprint(),
		NotBefore:          x.NotBefore.UTC(),
		NotAfter:           x.NotAfter.UTC(),
		DaysLeft:           daysLeft(x.NotAfter, now),
		PublicKey:          keyDescription(certs.DescribePublicKey(x.PublicKey)),
		SignatureAlgorithm: x.SignatureAlgorithm.String(),
		IsCA:               x.BasicConstraintsValid && x.IsCA,
		SignedBy:           signer(x, next),
	}
}

func ipStrings(x *x509.Certificate) []string {
	var out []string
	for _, ip := range x.IPAddresses {
		out = append(out, ip.String())
	}
	return out
}

func signer(x *x509.Certificate, next *certs.Certificate) string {
	switch {
	case selfSigned(x):
		return signedByItself
	case next == nil:
		return signedByOutside
	case signedBy(x, next.X509):
		return signedByNext
	default:
		return signedByNotNext
	}
}

// firstOutOfOrder returns the index of the first certificate not signed
// by the next one, or -1 when the chain is in order.
func firstOutOfOrder(entries []certificateEntry) int {
	for i := 0; i+1 < len(entries); i++ {
		if entries[i].SignedBy != signedByNext {
			return i
		}
	}
	return -1
}
