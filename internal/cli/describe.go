package cli

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"github.com/meshcert/meshcert/internal/certs"
	"github.com/meshcert/meshcert/internal/validate"
)

type describeOptions struct {
	policy validate.Policy
	output string
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
	cmd.Flags().StringVarP(&opts.output, "output", "o", "", "Output format: json or yaml (default: text).")
	return cmd
}

func runDescribe(cmd *cobra.Command, s *settings, opts *describeOptions, name string) error {
	if err := validateOutput(opts.output, "json", "yaml"); err != nil {
		return err
	}
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
	keys := describeKeys(secret, now)
	if opts.output != "" {
		return writeStructured(s.streams.Out, opts.output, certificateDescription{
			APIVersion: outputAPIVersion, Kind: "CertificateDescription", certificateItem: item, Keys: keys,
		})
	}
	d := &describer{w: s.streams.Out, color: s.color(), now: now}
	d.secret(secret, item, keys)
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

func (d *describer) secret(secret *corev1.Secret, item certificateItem, keys []keyDetail) {
	d.field(0, "Name", secret.Name)
	d.field(0, "Namespace", secret.Namespace)
	d.field(0, "Type", item.Type)
	d.field(0, "Layout", layoutDescription(item.Layout))
	d.field(0, "Status", d.statusLine(item))
	d.field(0, "Mirror", mirrorDescription(item.Mirror))
	d.usedBy(item.UsedBy)
	d.keys(keys)
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

// keys writes the certificates and keys of every data key. No byte of
// the values is printed.
func (d *describer) keys(details []keyDetail) {
	for _, detail := range details {
		switch detail.Content {
		case contentCRL:
			fmt.Fprintf(d.w, "Key %s: certificate revocation list, not checked\n", detail.Key)
		case contentPrivateKey:
			fmt.Fprintf(d.w, "Key %s: private key, %s\n", detail.Key, detail.PrivateKey.info)
		case contentInvalid:
			fmt.Fprintf(d.w, "Key %s: cannot be used: %s\n", detail.Key, strings.Join(detail.Errors, "; "))
		default:
			d.certificates(detail)
		}
	}
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

func keyDescription(info certs.PublicKeyInfo) string {
	if info.Curve != "" {
		return fmt.Sprintf("%s %s", info.Algorithm, info.Curve)
	}
	return fmt.Sprintf("%s %d bits", info.Algorithm, info.Bits)
}

func (d *describer) certificates(detail keyDetail) {
	noun := "certificates"
	if len(detail.Certificates) == 1 {
		noun = "certificate"
	}
	fmt.Fprintf(d.w, "Key %s: %d %s\n", detail.Key, len(detail.Certificates), noun)
	for i, entry := range detail.Certificates {
		d.certificate(i, entry)
	}
	for _, blockErr := range detail.Errors {
		fmt.Fprintf(d.w, "  %s\n", blockErr)
	}
	if detail.Served {
		d.field(1, "Chain order", chainOrder(detail.Certificates))
	}
}

var signerDescriptions = map[string]string{
	signedByItself:  "itself",
	signedByNext:    "the next certificate",
	signedByOutside: "a certificate not in this value",
	signedByNotNext: "not the next certificate (out of order)",
}

func (d *describer) certificate(index int, c certificateEntry) {
	fmt.Fprintf(d.w, "  Certificate %d (%s, PEM block %d):\n", index+1, c.Role, c.Block)
	d.field(2, "Subject", c.Subject)
	d.field(2, "DNS names", strings.Join(c.DNSNames, ", "))
	if len(c.IPAddresses) > 0 {
		d.field(2, "IP addresses", strings.Join(c.IPAddresses, ", "))
	}
	d.field(2, "Issuer", c.Issuer)
	d.field(2, "Serial", c.Serial)
	d.field(2, "SHA-256", c.FingerprintSHA256)
	d.field(2, "Not before", c.NotBefore.Format(time.RFC3339))
	d.field(2, "Not after", expiryPhrase(c.NotAfter, d.now))
	d.field(2, "Public key", c.PublicKey)
	d.field(2, "Signature", c.SignatureAlgorithm)
	d.field(2, "CA", fmt.Sprintf("%t", c.IsCA))
	d.field(2, "Signed by", signerDescriptions[c.SignedBy])
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

// chainOrder checks that each certificate is signed by the next one.
func chainOrder(entries []certificateEntry) string {
	if i := firstOutOfOrder(entries); i >= 0 {
		return fmt.Sprintf("wrong: certificate %d is not signed by certificate %d (see rule chain-order)", i+1, i+2)
	}
	return "ok, each certificate is signed by the next"
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
