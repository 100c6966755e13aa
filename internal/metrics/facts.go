package metrics

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/meshcert/meshcert/internal/certs"
)

// Roles of a certificate in its value.
const (
	roleLeaf         = "leaf"
	roleIntermediate = "intermediate"
	roleRoot         = "root"
	roleCA           = "ca"
)

// valueKind says how to read a value: as a chain served by a gateway
// (tls.crt, cert) or as a bundle of trusted CAs (ca.crt, cacert).
type valueKind uint8

const (
	chainValue valueKind = iota
	caValue
)

// certFacts are the facts of one certificate, held once per fingerprint
// and shared by every value that contains it. Label values are formatted
// once, at parse time.
type certFacts struct {
	fingerprint  string
	serial       string
	subjectCN    string
	issuerCN     string
	notBefore    float64
	notAfter     float64
	isCA         bool
	selfSigned   bool
	sanCount     string
	keyAlgorithm string
	keyBits      string
}

// certSeries is one certificate at its place in a value.
type certSeries struct {
	facts *certFacts
	index string
	role  string
}

// valueFacts are the facts of one value (a Secret data key or a file),
// held once per distinct content and kind.
type valueFacts struct {
	certs []certSeries
	// reasons are the distinct error reasons, sorted.
	reasons []string
	// duplicates counts certificate blocks merged into an earlier block
	// with the same fingerprint.
	duplicates int
	// expiry is the earliest not-after of certs, valid when certs is not
	// empty.
	expiry float64
}

// keyValue is one data key of a Secret, or one file, with its facts.
type keyValue struct {
	key   string
	value *valueFacts
}

func factsFromStrict(cert *certs.Certificate) *certFacts {
	x := cert.X509
	key := certs.DescribePublicKey(x.PublicKey)
	sans := len(x.DNSNames) + len(x.IPAddresses) + len(x.EmailAddresses) + len(x.URIs)
	return &certFacts{
		fingerprint:  shortFingerprint(cert.SHA256),
		serial:       x.SerialNumber.Text(16),
		subjectCN:    labelValue(x.Subject.CommonName),
		issuerCN:     labelValue(x.Issuer.CommonName),
		notBefore:    float64(x.NotBefore.Unix()),
		notAfter:     float64(x.NotAfter.Unix()),
		isCA:         x.IsCA,
		selfSigned:   bytes.Equal(x.RawSubject, x.RawIssuer),
		sanCount:     strconv.Itoa(sans),
		keyAlgorithm: string(key.Algorithm),
		keyBits:      strconv.Itoa(key.Bits),
	}
}

func factsFromLenient(cert *certs.LenientCertificate) *certFacts {
	return &certFacts{
		fingerprint:  shortFingerprint(cert.SHA256),
		serial:       cert.SerialNumber.Text(16),
		subjectCN:    labelValue(cert.SubjectCN),
		issuerCN:     labelValue(cert.IssuerCN),
		notBefore:    float64(cert.NotBefore.Unix()),
		notAfter:     float64(cert.NotAfter.Unix()),
		isCA:         cert.IsCA,
		selfSigned:   bytes.Equal(cert.RawSubject, cert.RawIssuer),
		sanCount:     strconv.Itoa(cert.SANCount),
		keyAlgorithm: string(cert.Algorithm),
		keyBits:      strconv.Itoa(cert.Bits),
	}
}

// roleOf returns the role of a certificate in a value of kind. The leaf
// is the first certificate that is not a CA, wherever it stands, so a
// chain stored out of order still has its leaf labelled; leafSeen says
// whether an earlier certificate of the value took that role.
func roleOf(kind valueKind, leafSeen bool, facts *certFacts) string {
	switch {
	case kind == caValue:
		return roleCA
	case !leafSeen && !facts.isCA:
		return roleLeaf
	case facts.isCA && facts.selfSigned:
		return roleRoot
	default:
		return roleIntermediate
	}
}

// labelValue makes s a valid label value: Prometheus rejects invalid UTF-8.
func labelValue(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, string(utf8.RuneError))
}
