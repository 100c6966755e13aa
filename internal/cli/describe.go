package cli

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"github.com/meshcert/meshcert/internal/certs"
	"github.com/meshcert/meshcert/internal/validate"
)

type describeOptions struct {
	policy validate.Policy
}

func newDescribeCommand(s *settings) *cobra.Command {
	opts := &describeOptions{}
	cmd := &cobra.Command{
		Use:     "describe SECRET",
		Short:   "Show every certificate of a Secret, the Gateways that serve it and the rule findings",
		Example: "  meshcert describe web-cert -n istio-system",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDescribe(cmd, s, opts, args[0])
		},
	}
	opts.policy.AddFlags(cmd.Flags())
	return cmd
}

func runDescribe(cmd *cobra.Command, s *settings, opts *describeOptions, name string) error {
	if err := opts.policy.Validate(); err != nil {
		return err
	}
	now, err := s.now()
	if err != nil {
		return err
	}

	namespace, _, err := s.namespace()
	if err != nil {
		return err
	}
	client, err := s.clusterClient()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	secret, err := client.secret(ctx, namespace, name)
	if err != nil {
		return err
	}
	usages, err := client.secretUsage(ctx, namespace, s.streams.ErrOut)
	if err != nil {
		return err
	}

	item := summarize(secret, opts.policy, now, usages)
	d := &describer{w: s.streams.Out, color: s.color(), now: now}
	d.secret(secret, item)
	return nil
}

// describer writes the description of one Secret.
type describer struct {
	w     io.Writer
	color bool
	now   time.Time
}

func (d *describer) field(indent int, name, value string) {
	if value == "" {
		value = "-"
	}
	fmt.Fprintf(d.w, "%s%-15s %s\n", strings.Repeat("  ", indent), name+":", value)
}

func (d *describer) secret(secret *corev1.Secret, item certificateItem) {
	d.field(0, "Name", secret.Name)
	d.field(0, "Namespace", secret.Namespace)
	d.field(0, "Type", item.Type)
	d.field(0, "Layout", layoutDescription(item.Layout))
	d.field(0, "Status", d.statusLine(item))
	d.field(0, "Mirror", mirrorDescription(item.Mirror))
	d.usedBy(item.UsedBy)
	d.keys(secret)
	d.findings(item.findings)
}

func (d *describer) statusLine(item certificateItem) string {
	status := paintStatus(d.color, item.Status)
	if item.NotAfter == nil {
		return status
	}
	if item.Status == statusExpired {
		return status + " " + expiryPhrase(*item.NotAfter, d.now)
	}
	return status + ", expires " + expiryPhrase(*item.NotAfter, d.now)
}

// expiryPhrase returns "DATE (N days left)" or, once passed, "DATE (N
// days ago)".
func expiryPhrase(notAfter, now time.Time) string {
	date := notAfter.UTC().Format(time.RFC3339)
	days := daysLeft(notAfter, now)
	if !now.Before(notAfter) {
		return fmt.Sprintf("%s (%d days ago)", date, -days)
	}
	return fmt.Sprintf("%s (%d days left)", date, days)
}

func layoutDescription(layout string) string {
	switch validate.Layout(layout) {
	case validate.LayoutTLS:
		return "tls (served from tls.crt and tls.key, CA from ca.crt)"
	case validate.LayoutGeneric:
		return "generic (served from cert and key, CA from cacert)"
	case validate.LayoutCA:
		return "ca (a CA only, for mutual TLS)"
	default:
		return "none"
	}
}

func mirrorDescription(m *mirrorInfo) string {
	switch {
	case m == nil:
		return "not mirrored"
	case m.Role == "source":
		return "source, copied to every peer cluster"
	default:
		return fmt.Sprintf("copy of Secret %s/%s in cluster %s", m.SourceNamespace, m.SourceName, m.SourceCluster)
	}
}

func (d *describer) usedBy(usages []usage) {
	fmt.Fprintln(d.w, "Used by:")
	if len(usages) == 0 {
		fmt.Fprintln(d.w, "  no Gateway")
	}
	for _, u := range usages {
		kind, part := "Gateway", "listener"
		if u.Group == istioGroup {
			kind, part = "Istio Gateway", "server"
		}
		role := ""
		if u.Role == usageCA {
			role = ", as the CA for mutual TLS"
		}
		hosts := ""
		if len(u.Hosts) > 0 {
			hosts = ", hosts " + strings.Join(u.Hosts, ",")
		}
		fmt.Fprintf(d.w, "  %s %s/%s %s %s (port %d%s)%s\n", kind, u.Namespace, u.Name, part, u.Server, u.Port, hosts, role)
	}
}

// keys describes every data key that holds certificates or a private
// key: the served certificate and key first, then the CA, then the
// others by name. Values are parsed by internal/certs; no byte of them
// is printed.
func (d *describer) keys(secret *corev1.Secret) {
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
	for _, name := range names {
		d.key(name, secret.Data[name], layout)
	}
}

func (d *describer) key(name string, value []byte, layout validate.Layout) {
	if name == validate.KeyTLSCRL || name == validate.KeyGenericCRL {
		fmt.Fprintf(d.w, "Key %s: certificate revocation list, not checked\n", name)
		return
	}
	blocks, _ := certs.DecodePEM(value)
	if slices.ContainsFunc(blocks, func(b certs.Block) bool { return isKeyBlock(b.Type) }) {
		d.privateKey(name, value)
		return
	}
	bundle, err := certs.ParseCertificates(value)
	if bundle == nil || len(bundle.Certificates) == 0 {
		if isCertificateKey(name) {
			fmt.Fprintf(d.w, "Key %s: no certificate: %v\n", name, firstBundleError(bundle, err))
		}
		return
	}
	served := name == validate.KeyTLSCert && layout == validate.LayoutTLS ||
		name == validate.KeyGenericCert && layout == validate.LayoutGeneric
	d.certificates(name, bundle, served)
}

// keyRank orders data keys: served certificate, served key, CA values,
// then the rest.
func keyRank(name string, layout validate.Layout) int {
	certKey, keyKey := validate.KeyTLSCert, validate.KeyTLSKey
	if layout == validate.LayoutGeneric {
		certKey, keyKey = validate.KeyGenericCert, validate.KeyGenericKey
	}
	switch name {
	case certKey:
		return 0
	case keyKey:
		return 1
	case validate.KeyGenericCA, validate.KeyTLSCA:
		return 2
	default:
		return 3
	}
}

func isCertificateKey(name string) bool {
	switch name {
	case validate.KeyTLSCert, validate.KeyGenericCert, validate.KeyTLSCA, validate.KeyGenericCA:
		return true
	}
	return false
}

func firstBundleError(bundle *certs.Bundle, err error) error {
	if err == nil && bundle != nil && len(bundle.Errors) > 0 {
		return bundle.Errors[0]
	}
	return err
}

func (d *describer) privateKey(name string, value []byte) {
	key, err := certs.ParsePrivateKey(value)
	if err != nil {
		fmt.Fprintf(d.w, "Key %s: private key that cannot be used: %v\n", name, err)
		return
	}
	fmt.Fprintf(d.w, "Key %s: private key, %s\n", name, keyDescription(key.PublicKeyInfo))
}

func keyDescription(info certs.PublicKeyInfo) string {
	if info.Curve != "" {
		return fmt.Sprintf("%s %s", info.Algorithm, info.Curve)
	}
	return fmt.Sprintf("%s %d bits", info.Algorithm, info.Bits)
}

func (d *describer) certificates(name string, bundle *certs.Bundle, served bool) {
	noun := "certificates"
	if len(bundle.Certificates) == 1 {
		noun = "certificate"
	}
	fmt.Fprintf(d.w, "Key %s: %d %s\n", name, len(bundle.Certificates), noun)
	chain := bundle.Certificates
	for i, cert := range chain {
		var next *certs.Certificate
		if i+1 < len(chain) {
			next = chain[i+1]
		}
		d.certificate(i, cert, next, served)
	}
	for _, blockErr := range bundle.Errors {
		fmt.Fprintf(d.w, "  %v\n", blockErr)
	}
	if served {
		d.field(1, "Chain order", chainOrder(chain))
	}
}

func (d *describer) certificate(index int, cert *certs.Certificate, next *certs.Certificate, served bool) {
	x := cert.X509
	fmt.Fprintf(d.w, "  Certificate %d (%s, PEM block %d):\n", index+1, certificateRole(x, index, served), cert.Block+1)
	d.field(2, "Subject", x.Subject.String())
	d.field(2, "DNS names", strings.Join(x.DNSNames, ", "))
	if len(x.IPAddresses) > 0 {
		d.field(2, "IP addresses", joinIPs(x.IPAddresses))
	}
	d.field(2, "Issuer", x.Issuer.String())
	d.field(2, "Serial", serialHex(cert))
	d.field(2, "SHA-256", cert.Fingerprint())
	d.field(2, "Not before", x.NotBefore.UTC().Format(time.RFC3339))
	d.field(2, "Not after", expiryPhrase(x.NotAfter, d.now))
	d.field(2, "Public key", keyDescription(certs.DescribePublicKey(x.PublicKey)))
	d.field(2, "Signature", x.SignatureAlgorithm.String())
	d.field(2, "CA", fmt.Sprintf("%t", x.BasicConstraintsValid && x.IsCA))
	d.field(2, "Signed by", signerDescription(x, next))
}

// certificateRole names a certificate as the metrics do: leaf,
// intermediate or root in a served chain, ca or root in a CA value. A
// certificate after the leaf that is no CA is named as such.
func certificateRole(x *x509.Certificate, index int, served bool) string {
	isCA := x.BasicConstraintsValid && x.IsCA
	switch {
	case served && index == 0:
		return "leaf"
	case selfSigned(x):
		return "root"
	case served && isCA:
		return "intermediate"
	case served:
		return "not a CA"
	default:
		return "ca"
	}
}

func selfSigned(x *x509.Certificate) bool {
	return bytes.Equal(x.RawIssuer, x.RawSubject) && x.CheckSignatureFrom(x) == nil
}

func signedBy(x, issuer *x509.Certificate) bool {
	return bytes.Equal(x.RawIssuer, issuer.RawSubject) && x.CheckSignatureFrom(issuer) == nil
}

func signerDescription(x *x509.Certificate, next *certs.Certificate) string {
	switch {
	case selfSigned(x):
		return "itself"
	case next == nil:
		return "a certificate not in this value"
	case signedBy(x, next.X509):
		return "the next certificate"
	default:
		return "not the next certificate (out of order)"
	}
}

// chainOrder checks that each certificate is signed by the next one.
func chainOrder(chain []*certs.Certificate) string {
	for i := 0; i+1 < len(chain); i++ {
		if !signedBy(chain[i].X509, chain[i+1].X509) {
			return fmt.Sprintf("wrong: certificate %d is not signed by certificate %d (see rule chain-order)", i+1, i+2)
		}
	}
	return "ok, each certificate is signed by the next"
}

func joinIPs(ips []net.IP) string {
	out := make([]string, 0, len(ips))
	for _, ip := range ips {
		out = append(out, ip.String())
	}
	return strings.Join(out, ", ")
}

func (d *describer) findings(findings validate.Findings) {
	fmt.Fprintln(d.w, "Findings:")
	if len(findings) == 0 {
		fmt.Fprintf(d.w, "  %s\n", paint(d.color, colorGreen, "none"))
	}
	for _, f := range findings {
		writeFinding(d.w, d.color, f, locationInObject(f))
	}
}
