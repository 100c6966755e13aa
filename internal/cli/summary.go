package cli

import (
	"math"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/meshcert/meshcert/internal/certs"
	"github.com/meshcert/meshcert/internal/validate"
	"github.com/meshcert/meshcert/internal/wellknown"
)

// Certificate statuses.
const (
	statusValid    = "valid"
	statusExpiring = "expiring"
	statusExpired  = "expired"
	statusInvalid  = "invalid"
)

// certificateItem is one certificate Secret in 'list -o json|yaml'. The
// fields are documented in docs/cli.md; add fields, never rename them.
type certificateItem struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Type      string `json:"type"`
	// Layout is tls, generic or ca (see validate.Layout).
	Layout            string     `json:"layout"`
	Subject           string     `json:"subject,omitempty"`
	DNSNames          []string   `json:"dnsNames,omitempty"`
	Issuer            string     `json:"issuer,omitempty"`
	Serial            string     `json:"serial,omitempty"`
	FingerprintSHA256 string     `json:"fingerprintSHA256,omitempty"`
	KeyAlgorithm      string     `json:"keyAlgorithm,omitempty"`
	KeyBits           int        `json:"keyBits,omitempty"`
	NotBefore         *time.Time `json:"notBefore,omitempty"`
	// NotAfter is the earliest expiry of the served chain, or of the CA
	// certificates of a CA-only Secret.
	NotAfter *time.Time      `json:"notAfter,omitempty"`
	DaysLeft *int            `json:"daysLeft,omitempty"`
	Status   string          `json:"status"`
	Mirror   *mirrorInfo     `json:"mirror,omitempty"`
	UsedBy   []usage         `json:"usedBy"`
	Findings []findingOutput `json:"findings"`

	findings validate.Findings
}

// mirrorInfo is the Secret's part in mirroring: a source copied to peer
// clusters, or a copy of a Secret of a peer.
type mirrorInfo struct {
	// Role is "source" (labelled meshcert.io/mirror=true) or "copy"
	// (written by the mirror controller).
	Role            string `json:"role"`
	SourceCluster   string `json:"sourceCluster,omitempty"`
	SourceNamespace string `json:"sourceNamespace,omitempty"`
	SourceName      string `json:"sourceName,omitempty"`
}

// summarize checks a Secret and returns what list and audit show of it.
func summarize(secret *corev1.Secret, policy validate.Policy, now time.Time, usages usageIndex) certificateItem {
	facts, findings := validate.CheckSecret(secret, policy, now)
	item := certificateItem{
		Namespace: secret.Namespace,
		Name:      secret.Name,
		Type:      string(secretType(secret)),
		Mirror:    mirrorOf(secret),
		UsedBy:    usages.of(secret.Namespace, secret.Name),
		Findings:  toFindingOutputs(findings),
		findings:  findings,
	}
	if item.UsedBy == nil {
		item.UsedBy = []usage{}
	}
	if facts != nil {
		item.Layout = string(facts.Layout)
	}
	cert, notAfter := displayedCertificate(facts)
	if cert != nil {
		describeCertificate(&item, cert, notAfter, now)
		if facts.Key != nil {
			item.KeyAlgorithm, item.KeyBits = keyName(facts.Key.PublicKeyInfo), facts.Key.Bits
		}
	}
	item.Status = statusOf(cert, notAfter, findings, now, policy)
	return item
}

// displayedCertificate returns the certificate list shows, the leaf or
// the first CA certificate of a CA-only Secret, and its effective expiry.
func displayedCertificate(facts *validate.SecretFacts) (*certs.Certificate, time.Time) {
	switch {
	case facts == nil:
		return nil, time.Time{}
	case facts.Leaf != nil:
		return facts.Leaf, facts.NotAfter()
	case facts.Layout == validate.LayoutCA && len(facts.CA) > 0:
		return facts.CA[0], earliestNotAfter(facts.CA)
	default:
		return nil, time.Time{}
	}
}

func earliestNotAfter(chain []*certs.Certificate) time.Time {
	var earliest time.Time
	for _, cert := range chain {
		if earliest.IsZero() || cert.X509.NotAfter.Before(earliest) {
			earliest = cert.X509.NotAfter
		}
	}
	return earliest
}

func describeCertificate(item *certificateItem, cert *certs.Certificate, notAfter, now time.Time) {
	x := cert.X509
	item.Subject = subjectName(cert)
	item.DNSNames = x.DNSNames
	item.Issuer = issuerName(cert)
	item.Serial = serialHex(cert)
	item.FingerprintSHA256 = cert.Fingerprint()
	notBefore := x.NotBefore.UTC()
	notAfter = notAfter.UTC()
	days := daysLeft(notAfter, now)
	item.NotBefore, item.NotAfter, item.DaysLeft = &notBefore, &notAfter, &days
	if item.KeyAlgorithm == "" {
		info := certs.DescribePublicKey(x.PublicKey)
		item.KeyAlgorithm, item.KeyBits = keyName(info), info.Bits
	}
}

// daysLeft returns the whole days until notAfter, negative once passed.
func daysLeft(notAfter, now time.Time) int {
	return int(math.Floor(notAfter.Sub(now).Hours() / 24))
}

// statusOf ranks a certificate: expired before invalid (any denial), then
// expiring within the policy's expiring-soon threshold, else valid.
func statusOf(cert *certs.Certificate, notAfter time.Time, findings validate.Findings,
	now time.Time, policy validate.Policy) string {
	soon := policy.ExpiringSoon
	if soon == 0 {
		soon = validate.DefaultExpiringSoon
	}
	switch {
	case cert == nil:
		return statusInvalid
	case !now.Before(notAfter):
		return statusExpired
	case len(findings.Denials()) > 0:
		return statusInvalid
	case notAfter.Sub(now) < soon:
		return statusExpiring
	default:
		return statusValid
	}
}

func mirrorOf(secret *corev1.Secret) *mirrorInfo {
	labels, annotations := secret.Labels, secret.Annotations
	switch {
	case labels[wellknown.ManagedByLabel] == wellknown.ManagedByMirror:
		return &mirrorInfo{
			Role:            "copy",
			SourceCluster:   labels[wellknown.SourceClusterLabel],
			SourceNamespace: annotations[wellknown.SourceNamespaceAnnotation],
			SourceName:      annotations[wellknown.SourceNameAnnotation],
		}
	case labels[wellknown.MirrorLabel] == wellknown.True:
		return &mirrorInfo{Role: "source"}
	default:
		return nil
	}
}

// subjectName returns the common name, or the first DNS name when the
// subject has none, or the whole subject.
func subjectName(cert *certs.Certificate) string {
	x := cert.X509
	switch {
	case x.Subject.CommonName != "":
		return x.Subject.CommonName
	case len(x.DNSNames) > 0:
		return x.DNSNames[0]
	default:
		return x.Subject.String()
	}
}

func issuerName(cert *certs.Certificate) string {
	if cn := cert.X509.Issuer.CommonName; cn != "" {
		return cn
	}
	return cert.X509.Issuer.String()
}

// serialHex returns the serial number as 'openssl x509 -serial' prints
// it: uppercase hex with an even number of digits.
func serialHex(cert *certs.Certificate) string {
	digits := strings.ToUpper(cert.X509.SerialNumber.Text(16))
	if len(digits)%2 == 1 {
		digits = "0" + digits
	}
	return digits
}

// keyName returns "RSA", "ECDSA P-256" or "Ed25519".
func keyName(info certs.PublicKeyInfo) string {
	if info.Curve != "" {
		return string(info.Algorithm) + " " + info.Curve
	}
	return string(info.Algorithm)
}
