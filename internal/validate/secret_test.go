package validate

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshcert/meshcert/internal/certs"
	"github.com/meshcert/meshcert/internal/testcerts"
	"github.com/meshcert/meshcert/internal/wellknown"
)

var testNow = time.Now()

// exercised records the rules a test case proved it triggers.
var exercised = map[RuleID]bool{}

// TestMain fails a full run of the package when a rule of the table has
// no test case that triggers it.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 && flag.Lookup("test.run").Value.String() == "" && !testing.Short() {
		for _, rule := range Rules {
			if !exercised[rule.ID] {
				fmt.Fprintf(os.Stderr, "rule %s has no test case that triggers it\n", rule.ID)
				code = 1
			}
		}
	}
	os.Exit(code)
}

func tlsSecret(certPEM, keyPEM []byte) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "istio-system"},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{KeyTLSCert: certPEM, KeyTLSKey: keyPEM},
	}
}

func join(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func rules(findings Findings) []RuleID {
	ids := make([]RuleID, 0, len(findings))
	for _, f := range findings {
		ids = append(ids, f.Rule)
	}
	return ids
}

// checkCase is one Secret and the rules it must and must not trigger.
type checkCase struct {
	name    string
	secret  *corev1.Secret
	want    []RuleID
	notWant []RuleID
	policy  Policy
}

func runCases(t *testing.T, tests []checkCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, findings := CheckSecret(tt.secret, tt.policy, testNow)
			got := rules(findings)
			for _, want := range tt.want {
				if !slices.Contains(got, want) {
					t.Errorf("findings %v lack %s", findings, want)
					continue
				}
				exercised[want] = true
			}
			for _, notWant := range tt.notWant {
				if slices.Contains(got, notWant) {
					t.Errorf("findings %v include %s", findings, notWant)
				}
			}
			for _, f := range findings {
				if !strings.Contains(f.String(), "Secret istio-system/web") {
					t.Errorf("finding %q does not name the Secret", f)
				}
			}
		})
	}
}

func TestCheckSecretValid(t *testing.T) {
	for _, kind := range []testcerts.KeyKind{testcerts.RSA2048, testcerts.ECDSAP256, testcerts.ECDSAP384} {
		for length := 1; length <= 4; length++ {
			chain := testcerts.NewChain(t, length, testcerts.Options{KeyKind: kind})
			secret := tlsSecret(chain.CertPEM(), chain.Leaf.KeyPEM)
			if chain.Root != nil {
				secret.Data[KeyTLSCA] = chain.CAPEM()
			}
			facts, findings := CheckSecret(secret, Policy{}, testNow)
			if len(findings) != 0 {
				t.Errorf("%s chain of %d: findings %v, want none", kind, length, findings)
			}
			if facts == nil || facts.Leaf == nil || facts.Leaf.X509.Subject.CommonName != "example.com" {
				t.Fatalf("%s chain of %d: facts %+v lack the leaf", kind, length, facts)
			}
			if got := len(facts.Chain); got != max(1, length-1) {
				t.Errorf("%s chain of %d: chain length %d", kind, length, got)
			}
			if facts.Key == nil {
				t.Errorf("%s chain of %d: facts lack the key", kind, length)
			}
		}
	}
}

func TestCheckSecretEncoding(t *testing.T) {
	leaf := testcerts.New(t, testcerts.Options{KeyKind: testcerts.ECDSAP256})
	escaped := []byte(strings.ReplaceAll(string(leaf.CertPEM), "\n", `\n`))
	tests := []checkCase{
		{name: "der", secret: tlsSecret(leaf.X509.Raw, leaf.KeyPEM), want: []RuleID{RuleDER}},
		{name: "double base64", secret: tlsSecret([]byte(base64.StdEncoding.EncodeToString(leaf.CertPEM)), leaf.KeyPEM),
			want: []RuleID{RuleDoubleBase64}},
		{name: "escaped newlines", secret: tlsSecret(escaped, leaf.KeyPEM), want: []RuleID{RuleEscapedNewlines}},
		{name: "byte order mark", secret: tlsSecret(join([]byte("\xef\xbb\xbf"), leaf.CertPEM), leaf.KeyPEM),
			want: []RuleID{RuleLeadingGarbage}},
		{name: "indented", secret: tlsSecret(join([]byte("  "), leaf.CertPEM), leaf.KeyPEM), want: []RuleID{RuleLeadingGarbage}},
		{name: "plain text", secret: tlsSecret([]byte("hello"), leaf.KeyPEM), want: []RuleID{RuleNotPEM}},
		{name: "key is der", secret: tlsSecret(leaf.CertPEM, pemBody(t, leaf.KeyPEM)), want: []RuleID{RuleDER}},
	}
	runCases(t, tests)
}

// x25519Key returns a PKCS#8 X25519 key: a valid key that cannot sign,
// so no TLS server can use it.
func x25519Key(t *testing.T) []byte {
	t.Helper()
	key, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func pemBody(t *testing.T, data []byte) []byte {
	t.Helper()
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatal("no PEM block")
	}
	return block.Bytes
}

func TestCheckSecretBlocks(t *testing.T) {
	chain := testcerts.NewChain(t, 3, testcerts.Options{KeyKind: testcerts.ECDSAP256})
	garbled := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0x03, 0x02, 0x01, 0x01}})
	badKey := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{0x30, 0x00}})
	encrypted := pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}})
	tests := []checkCase{
		{name: "malformed block", secret: tlsSecret(join(chain.Leaf.CertPEM, garbled), chain.Leaf.KeyPEM),
			want: []RuleID{RuleMalformed}},
		{name: "key in chain", secret: tlsSecret(join(chain.CertPEM(), chain.Leaf.KeyPEM), chain.Leaf.KeyPEM),
			want: []RuleID{RuleUnexpectedBlock}},
		{name: "certificate as key", secret: tlsSecret(chain.CertPEM(), chain.Leaf.CertPEM),
			want: []RuleID{RuleUnexpectedBlock}},
		{name: "malformed key", secret: tlsSecret(chain.CertPEM(), badKey), want: []RuleID{RuleMalformed}},
		{name: "encrypted key", secret: tlsSecret(chain.CertPEM(), encrypted), want: []RuleID{RuleEncryptedKey}},
		{name: "x25519 key", secret: tlsSecret(chain.CertPEM(), x25519Key(t)), want: []RuleID{RuleUnsupportedKey}},
	}
	runCases(t, tests)
}

func TestCheckSecretMissing(t *testing.T) {
	leaf := testcerts.New(t, testcerts.Options{KeyKind: testcerts.ECDSAP256})
	keyOnly := tlsSecret(nil, leaf.KeyPEM)
	delete(keyOnly.Data, KeyTLSCert)
	genericHalf := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "istio-system"},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{KeyGenericCert: leaf.CertPEM},
	}
	labelled := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "istio-system",
		Labels: map[string]string{wellknown.ValidationLabel: wellknown.Enabled}}}
	tests := []checkCase{
		{name: "key without certificate", secret: keyOnly, want: []RuleID{RuleMissingCertificate}, notWant: []RuleID{RuleMissingKey}},
		{name: "empty certificate", secret: tlsSecret([]byte(" \n"), leaf.KeyPEM), want: []RuleID{RuleMissingCertificate}},
		{name: "empty key", secret: tlsSecret(leaf.CertPEM, nil), want: []RuleID{RuleMissingKey}},
		{name: "generic without key", secret: genericHalf, want: []RuleID{RuleMissingKey}},
		{name: "labelled but empty", secret: labelled, want: []RuleID{RuleMissingCertificate, RuleMissingKey}},
	}
	runCases(t, tests)
}

func TestCheckSecretKeyAndOrder(t *testing.T) {
	chain := testcerts.NewChain(t, 4, testcerts.Options{KeyKind: testcerts.RSA2048})
	other := testcerts.New(t, testcerts.Options{KeyKind: testcerts.RSA2048, KeyIndex: 1})
	leaf, mid2, mid1 := chain.Leaf.CertPEM, chain.Intermediates[1].CertPEM, chain.Intermediates[0].CertPEM
	tests := []checkCase{
		{name: "key mismatch", secret: tlsSecret(chain.CertPEM(), other.KeyPEM), want: []RuleID{RuleKeyMismatch},
			notWant: []RuleID{RuleChainOrder}},
		{name: "leaf last", secret: tlsSecret(join(mid2, mid1, leaf), chain.Leaf.KeyPEM), want: []RuleID{RuleChainOrder},
			notWant: []RuleID{RuleKeyMismatch}},
		{name: "intermediates swapped", secret: tlsSecret(join(leaf, mid1, mid2), chain.Leaf.KeyPEM),
			want: []RuleID{RuleChainOrder}},
		{name: "unrelated certificate", secret: tlsSecret(join(leaf, other.CertPEM), chain.Leaf.KeyPEM),
			want: []RuleID{RuleChainOrder}},
		{name: "root included", secret: tlsSecret(join(chain.CertPEM(), chain.Root.CertPEM), chain.Leaf.KeyPEM),
			want: []RuleID{RuleRootInChain}, notWant: []RuleID{RuleChainOrder}},
		{name: "duplicate", secret: tlsSecret(join(leaf, mid2, mid2, mid1), chain.Leaf.KeyPEM),
			want: []RuleID{RuleDuplicateCertificate}, notWant: []RuleID{RuleChainOrder}},
	}
	runCases(t, tests)
}

func TestChainOrderMessage(t *testing.T) {
	chain := testcerts.NewChain(t, 4, testcerts.Options{KeyKind: testcerts.ECDSAP256})
	leaf, mid2, mid1 := chain.Leaf.CertPEM, chain.Intermediates[1].CertPEM, chain.Intermediates[0].CertPEM
	other := testcerts.New(t, testcerts.Options{KeyKind: testcerts.ECDSAP256, KeyIndex: 1})
	another := testcerts.New(t, testcerts.Options{KeyKind: testcerts.ECDSAP256, KeyIndex: 2})
	tests := []struct {
		name    string
		value   []byte
		want    string
		notWant string
	}{
		{"leaf last", join(mid2, mid1, leaf), "order them as blocks 3, 1, 2 (leaf first", "not in the leaf's chain"},
		{"one unrelated", join(chain.CertPEM(), other.CertPEM),
			"; block 4 is not in the leaf's chain, remove it or add the missing intermediate", "blocks 4"},
		{"two unrelated", join(leaf, other.CertPEM, another.CertPEM),
			"; blocks 2, 3 are not in the leaf's chain, remove them or add the missing intermediate", "order them"},
		{"leaf alone", join(other.CertPEM, leaf), "must come first; block 1 is not in the leaf's chain", "order them"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, findings := CheckSecret(tlsSecret(tt.value, chain.Leaf.KeyPEM), Policy{}, testNow)
			denials := findings.Denials()
			if len(denials) != 1 {
				t.Fatalf("denials = %v, want one", denials)
			}
			if !strings.Contains(denials[0].Message, tt.want) {
				t.Errorf("message %q lacks %q", denials[0].Message, tt.want)
			}
			if strings.Contains(denials[0].Message, tt.notWant) {
				t.Errorf("message %q contains %q", denials[0].Message, tt.notWant)
			}
		})
	}
}

// TestCheckSecretLeafNotFirst checks that the leaf rules judge the
// certificate the key matches, not block 1, when the leaf comes second.
func TestCheckSecretLeafNotFirst(t *testing.T) {
	day := 24 * time.Hour
	root := testcerts.New(t, testcerts.Options{CommonName: "order root", IsCA: true, KeyKind: testcerts.ECDSAP256,
		KeyIndex: 210})
	mid := testcerts.New(t, testcerts.Options{CommonName: "order intermediate", IsCA: true, KeyKind: testcerts.ECDSAP256,
		KeyIndex: 211, Issuer: root})
	leaf := testcerts.New(t, testcerts.Options{KeyKind: testcerts.ECDSAP256, Issuer: mid,
		NotBefore: testNow.Add(-day), NotAfter: testNow.Add(10 * day)})
	secret := tlsSecret(join(mid.CertPEM, leaf.CertPEM), leaf.KeyPEM)

	facts, findings := CheckSecret(secret, Policy{}, testNow)
	got := rules(findings)
	for _, want := range []RuleID{RuleChainOrder, RuleExpiringSoon} {
		if !slices.Contains(got, want) {
			t.Errorf("findings %v lack %s", findings, want)
		}
	}
	for _, notWant := range []RuleID{RuleNoSAN, RuleLeafIsCA, RuleMissingServerAuth, RuleCAExpiresFirst} {
		if slices.Contains(got, notWant) {
			t.Errorf("findings %v include %s", findings, notWant)
		}
	}
	for _, f := range findings {
		if f.Rule == RuleExpiringSoon && f.Block != 1 {
			t.Errorf("expiring-soon block = %d, want 1 (the leaf)", f.Block)
		}
	}
	if facts.Leaf == nil || facts.Leaf.SHA256 != sha256Of(leaf.X509.Raw) {
		t.Error("facts.Leaf is not the certificate the key matches")
	}
}

func TestCheckSecretKeyStrength(t *testing.T) {
	rsa1024 := testcerts.New(t, testcerts.Options{KeyKind: testcerts.RSA1024})
	p521 := testcerts.New(t, testcerts.Options{KeyKind: testcerts.ECDSAP521})
	ed := testcerts.New(t, testcerts.Options{KeyKind: testcerts.Ed25519})
	p384 := testcerts.New(t, testcerts.Options{KeyKind: testcerts.ECDSAP384})
	tests := []checkCase{
		{name: "rsa 1024", secret: tlsSecret(rsa1024.CertPEM, rsa1024.KeyPEM), want: []RuleID{RuleWeakRSAKey}},
		{name: "rsa 1024 allowed", secret: tlsSecret(rsa1024.CertPEM, rsa1024.KeyPEM), policy: Policy{MinRSABits: 1024},
			notWant: []RuleID{RuleWeakRSAKey}},
		{name: "p521", secret: tlsSecret(p521.CertPEM, p521.KeyPEM), want: []RuleID{RuleDisallowedCurve}},
		{name: "ed25519", secret: tlsSecret(ed.CertPEM, ed.KeyPEM), want: []RuleID{RuleDisallowedCurve}},
		{name: "ed25519 allowed", secret: tlsSecret(ed.CertPEM, ed.KeyPEM),
			policy: Policy{AllowedCurves: []string{"Ed25519"}}, notWant: []RuleID{RuleDisallowedCurve}},
		{name: "p384 disallowed", secret: tlsSecret(p384.CertPEM, p384.KeyPEM),
			policy: Policy{AllowedCurves: []string{"P-256"}}, want: []RuleID{RuleDisallowedCurve}},
	}
	runCases(t, tests)
}

func TestCheckSecretKeyFix(t *testing.T) {
	p384 := testcerts.New(t, testcerts.Options{KeyKind: testcerts.ECDSAP384})
	p521 := testcerts.New(t, testcerts.Options{KeyKind: testcerts.ECDSAP521})
	ed := testcerts.New(t, testcerts.Options{KeyKind: testcerts.Ed25519})
	rsa1024 := testcerts.New(t, testcerts.Options{KeyKind: testcerts.RSA1024})
	tests := []struct {
		name   string
		cert   *testcerts.Cert
		policy Policy
		want   string
	}{
		{name: "p521 default", cert: p521, want: "curve P-521, which is not allowed; reissue it on P-256 or P-384"},
		{name: "p384 only p256", cert: p384, policy: Policy{AllowedCurves: []string{"P-256"}},
			want: "curve P-384, which is not allowed; reissue it on P-256"},
		{name: "ed25519 p521 only", cert: ed, policy: Policy{AllowedCurves: []string{"P-521"}},
			want: "Ed25519, which is not allowed; reissue it on P-521"},
		{name: "p384 three allowed", cert: p384, policy: Policy{AllowedCurves: []string{"P-256", "P-521", "Ed25519"}},
			want: "reissue it on P-256, P-521 or Ed25519"},
		{name: "rsa p384 only", cert: rsa1024, policy: Policy{AllowedCurves: []string{"P-384"}},
			want: "reissue it with a 2048-bit key or ECDSA P-384"},
		{name: "rsa ed25519 only", cert: rsa1024, policy: Policy{AllowedCurves: []string{"Ed25519"}},
			want: "reissue it with a 2048-bit key or Ed25519"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, findings := CheckSecret(tlsSecret(tt.cert.CertPEM, tt.cert.KeyPEM), tt.policy, testNow)
			var messages []string
			for _, f := range findings {
				messages = append(messages, f.Message)
			}
			if !slices.ContainsFunc(messages, func(m string) bool { return strings.Contains(m, tt.want) }) {
				t.Errorf("messages %q lack %q", messages, tt.want)
			}
		})
	}
}

func TestCheckSecretIncompleteChain(t *testing.T) {
	root := testcerts.New(t, testcerts.Options{CommonName: "corp root", IsCA: true, KeyKind: testcerts.ECDSAP256, KeyIndex: 210})
	mid := testcerts.New(t, testcerts.Options{CommonName: "corp issuing ca", IsCA: true, KeyKind: testcerts.ECDSAP256,
		KeyIndex: 211, Issuer: root})
	leaf := testcerts.New(t, testcerts.Options{KeyKind: testcerts.ECDSAP256, KeyIndex: 212, DNSNames: []string{"example.com"},
		Issuer: mid})
	direct := testcerts.New(t, testcerts.Options{KeyKind: testcerts.ECDSAP256, KeyIndex: 213, DNSNames: []string{"example.com"},
		Issuer: root})
	self := testcerts.New(t, testcerts.Options{KeyKind: testcerts.ECDSAP256, KeyIndex: 214, DNSNames: []string{"example.com"}})
	withCA := func(secret *corev1.Secret, key string, ca []byte) *corev1.Secret {
		secret.Data[key] = ca
		return secret
	}
	incomplete := []RuleID{RuleIncompleteChain}
	tests := []checkCase{
		{name: "leaf alone", secret: tlsSecret(leaf.CertPEM, leaf.KeyPEM), want: incomplete},
		{name: "leaf twice", secret: tlsSecret(join(leaf.CertPEM, leaf.CertPEM), leaf.KeyPEM), want: incomplete},
		{name: "leaf alone intermediate in ca", secret: withCA(tlsSecret(leaf.CertPEM, leaf.KeyPEM), KeyTLSCA, mid.CertPEM),
			want: incomplete},
		{name: "leaf and intermediate", secret: tlsSecret(join(leaf.CertPEM, mid.CertPEM), leaf.KeyPEM), notWant: incomplete},
		{name: "self-signed leaf", secret: tlsSecret(self.CertPEM, self.KeyPEM), notWant: incomplete},
		{name: "root signed no ca", secret: tlsSecret(direct.CertPEM, direct.KeyPEM), want: incomplete},
		{name: "root signed root in ca", secret: withCA(tlsSecret(direct.CertPEM, direct.KeyPEM), KeyTLSCA, root.CertPEM),
			notWant: incomplete},
		{name: "root signed root in cacert", secret: withCA(tlsSecret(direct.CertPEM, direct.KeyPEM), KeyGenericCA, root.CertPEM),
			notWant: incomplete},
		{name: "ignored", secret: tlsSecret(leaf.CertPEM, leaf.KeyPEM),
			policy: Policy{Actions: map[RuleID]Action{RuleIncompleteChain: Ignore}}, notWant: incomplete},
	}
	runCases(t, tests)

	_, findings := CheckSecret(tlsSecret(leaf.CertPEM, leaf.KeyPEM), Policy{}, testNow)
	want := "tls.crt block 1: the chain is the leaf alone, issued by CN=corp issuing ca; append that intermediate after the leaf [incomplete-chain]"
	if len(findings) != 1 || !strings.HasSuffix(findings[0].String(), want) {
		t.Fatalf("findings %v, want one ending %q", findings, want)
	}
	if findings[0].Action != Warn {
		t.Errorf("action %s, want warn", findings[0].Action)
	}
}

func TestCheckSecretValidity(t *testing.T) {
	issue := func(notBefore, notAfter time.Time) *testcerts.Cert {
		return testcerts.New(t, testcerts.Options{KeyKind: testcerts.ECDSAP256, NotBefore: notBefore, NotAfter: notAfter})
	}
	day := 24 * time.Hour
	future := issue(testNow.Add(day), testNow.Add(90*day))
	expired := issue(testNow.Add(-90*day), testNow.Add(-day))
	soon := issue(testNow.Add(-day), testNow.Add(10*day))

	root := testcerts.New(t, testcerts.Options{CommonName: "short root", IsCA: true, KeyKind: testcerts.ECDSAP256,
		KeyIndex: 200, NotAfter: testNow.Add(20 * day)})
	mid := testcerts.New(t, testcerts.Options{CommonName: "short intermediate", IsCA: true, KeyKind: testcerts.ECDSAP256,
		KeyIndex: 201, Issuer: root, NotAfter: testNow.Add(20 * day)})
	leaf := testcerts.New(t, testcerts.Options{KeyKind: testcerts.ECDSAP256, Issuer: mid})
	withCA := tlsSecret(join(leaf.CertPEM, mid.CertPEM), leaf.KeyPEM)
	withCA.Data[KeyTLSCA] = root.CertPEM

	tests := []checkCase{
		{name: "not yet valid", secret: tlsSecret(future.CertPEM, future.KeyPEM), want: []RuleID{RuleNotYetValid}},
		{name: "expired", secret: tlsSecret(expired.CertPEM, expired.KeyPEM), want: []RuleID{RuleExpired}},
		{name: "expiring soon", secret: tlsSecret(soon.CertPEM, soon.KeyPEM), want: []RuleID{RuleExpiringSoon}},
		{name: "expiring soon shorter threshold", secret: tlsSecret(soon.CertPEM, soon.KeyPEM),
			policy: Policy{ExpiringSoon: 7 * day}, notWant: []RuleID{RuleExpiringSoon}},
		{name: "intermediate expires first", secret: withCA, want: []RuleID{RuleCAExpiresFirst}},
	}
	runCases(t, tests)

	_, findings := CheckSecret(withCA, Policy{}, testNow)
	count := 0
	for _, f := range findings {
		if f.Rule == RuleCAExpiresFirst {
			count++
		}
	}
	if count != 2 {
		t.Errorf("ca-expires-first findings = %d, want 2 (intermediate and CA): %v", count, findings)
	}
}

func TestCheckSecretExtensions(t *testing.T) {
	cnOnly := testcerts.New(t, testcerts.Options{CommonName: "cn-only.example", KeyKind: testcerts.ECDSAP256})
	ca := testcerts.New(t, testcerts.Options{CommonName: "ca.example", DNSNames: []string{"ca.example"}, IsCA: true,
		KeyKind: testcerts.ECDSAP256})
	client := testcerts.New(t, testcerts.Options{KeyKind: testcerts.ECDSAP256,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	root := testcerts.New(t, testcerts.Options{CommonName: "sha1 root", IsCA: true, KeyKind: testcerts.RSA2048, KeyIndex: 5})
	sha1 := testcerts.New(t, testcerts.Options{KeyKind: testcerts.ECDSAP256, Issuer: root,
		SignatureAlgorithm: x509.SHA1WithRSA})
	tests := []checkCase{
		{name: "cn only", secret: tlsSecret(cnOnly.CertPEM, cnOnly.KeyPEM), want: []RuleID{RuleNoSAN}},
		{name: "leaf is ca", secret: tlsSecret(ca.CertPEM, ca.KeyPEM), want: []RuleID{RuleLeafIsCA}},
		{name: "client auth only", secret: tlsSecret(client.CertPEM, client.KeyPEM), want: []RuleID{RuleMissingServerAuth}},
		{name: "sha1 signature", secret: tlsSecret(sha1.CertPEM, sha1.KeyPEM), want: []RuleID{RuleWeakSignature}},
	}
	runCases(t, tests)
}

func TestCheckSecretCA(t *testing.T) {
	chain := testcerts.NewChain(t, 2, testcerts.Options{KeyKind: testcerts.ECDSAP256})
	withCA := func(key string, value []byte) *corev1.Secret {
		secret := tlsSecret(chain.CertPEM(), chain.Leaf.KeyPEM)
		secret.Data[key] = value
		return secret
	}
	caOnly := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "istio-system"},
		Data:       map[string][]byte{KeyGenericCA: []byte("not a certificate")},
	}
	tests := []checkCase{
		{name: "garbage ca.crt", secret: withCA(KeyTLSCA, []byte("garbage")), want: []RuleID{RuleInvalidCA}},
		{name: "der cacert", secret: withCA(KeyGenericCA, chain.Root.X509.Raw), want: []RuleID{RuleInvalidCA}},
		{name: "key as ca", secret: withCA(KeyTLSCA, chain.Leaf.KeyPEM), want: []RuleID{RuleInvalidCA}},
		{name: "empty ca.crt", secret: withCA(KeyTLSCA, nil), want: []RuleID{RuleEmptyCA}, notWant: []RuleID{RuleInvalidCA}},
		{name: "ca only secret", secret: caOnly, want: []RuleID{RuleInvalidCA},
			notWant: []RuleID{RuleMissingCertificate, RuleMissingKey}},
	}
	runCases(t, tests)
}

func TestCheckSecretLayouts(t *testing.T) {
	first := testcerts.New(t, testcerts.Options{KeyKind: testcerts.ECDSAP256})
	second := testcerts.New(t, testcerts.Options{KeyKind: testcerts.ECDSAP256, KeyIndex: 1})
	both := func(generic *testcerts.Cert) *corev1.Secret {
		secret := tlsSecret(first.CertPEM, first.KeyPEM)
		secret.Data[KeyGenericCert], secret.Data[KeyGenericKey] = generic.CertPEM, generic.KeyPEM
		return secret
	}
	runCases(t, []checkCase{
		{name: "both layouts differ", secret: both(second), want: []RuleID{RuleLayoutConflict}},
		{name: "both layouts equal", secret: both(first), notWant: []RuleID{RuleLayoutConflict}},
	})

	facts, _ := CheckSecret(both(second), Policy{}, testNow)
	if facts.Layout != LayoutGeneric || facts.CertKey != KeyGenericCert {
		t.Errorf("layout = %s (%s), want generic (cert)", facts.Layout, facts.CertKey)
	}
	if facts.Leaf.SHA256 != sha256Of(second.X509.Raw) {
		t.Error("leaf is not the cert/key certificate Istio serves")
	}
}

func TestCheckSecretPolicyActions(t *testing.T) {
	expired := testcerts.New(t, testcerts.Options{KeyKind: testcerts.ECDSAP256,
		NotBefore: testNow.Add(-48 * time.Hour), NotAfter: testNow.Add(-time.Hour)})
	secret := tlsSecret(expired.CertPEM, expired.KeyPEM)
	tests := []struct {
		name   string
		policy Policy
		want   Action
	}{
		{"default", Policy{}, Deny},
		{"warn", Policy{Actions: map[RuleID]Action{RuleExpired: Warn}}, Warn},
		{"ignore", Policy{Actions: map[RuleID]Action{RuleExpired: Ignore}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, findings := CheckSecret(secret, tt.policy, testNow)
			var got Action
			for _, f := range findings {
				if f.Rule == RuleExpired {
					got = f.Action
				}
			}
			if got != tt.want {
				t.Errorf("expired action = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFindingsNeverContainMaterial(t *testing.T) {
	chain := testcerts.NewChain(t, 3, testcerts.Options{KeyKind: testcerts.RSA2048})
	other := testcerts.New(t, testcerts.Options{KeyKind: testcerts.RSA2048, KeyIndex: 1})
	secret := tlsSecret(join(chain.Leaf.KeyPEM, chain.Intermediates[0].CertPEM, chain.Leaf.CertPEM), other.KeyPEM)
	_, findings := CheckSecret(secret, Policy{}, testNow)
	for _, f := range findings {
		for _, line := range strings.Split(string(join(chain.Leaf.KeyPEM, other.KeyPEM, chain.Leaf.CertPEM)), "\n") {
			if len(line) > 20 && !strings.HasPrefix(line, "-----") && strings.Contains(f.Message, line) {
				t.Errorf("finding %q contains PEM material", f)
			}
		}
	}
}

func TestIsCertificateSecret(t *testing.T) {
	meta := func(labels map[string]string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: "s", Namespace: "ns", Labels: labels}
	}
	tests := []struct {
		name   string
		secret *corev1.Secret
		want   bool
	}{
		{"tls", &corev1.Secret{Type: corev1.SecretTypeTLS}, true},
		{"generic opaque", &corev1.Secret{Data: map[string][]byte{"cert": nil}}, true},
		{"lone ca", &corev1.Secret{Data: map[string][]byte{"ca.crt": nil}}, true},
		{"staged private key", &corev1.Secret{Data: map[string][]byte{"tls.key": nil}}, false},
		{"service account token", &corev1.Secret{Type: corev1.SecretTypeServiceAccountToken,
			Data: map[string][]byte{"ca.crt": nil}}, false},
		{"helm release", &corev1.Secret{Type: "helm.sh/release.v1"}, false},
		{"opaque", &corev1.Secret{Data: map[string][]byte{"password": nil}}, false},
		{"labelled", &corev1.Secret{ObjectMeta: meta(map[string]string{wellknown.ValidationLabel: wellknown.Enabled})}, true},
		{"disabled", &corev1.Secret{ObjectMeta: meta(map[string]string{wellknown.ValidationLabel: wellknown.Disabled}),
			Type: corev1.SecretTypeTLS}, false},
	}
	for _, tt := range tests {
		if got := IsCertificateSecret(tt.secret); got != tt.want {
			t.Errorf("%s: IsCertificateSecret = %t, want %t", tt.name, got, tt.want)
		}
	}
}

func TestMaterialChanged(t *testing.T) {
	base := tlsSecret([]byte("a"), []byte("b"))
	relabelled := base.DeepCopy()
	relabelled.Labels = map[string]string{"x": "y"}
	newData := base.DeepCopy()
	newData.Data[KeyTLSCert] = []byte("c")
	newType := base.DeepCopy()
	newType.Type = corev1.SecretTypeOpaque
	added := base.DeepCopy()
	added.Data[KeyTLSCA] = []byte("d")
	for name, tt := range map[string]struct {
		secret *corev1.Secret
		want   bool
	}{"labels": {relabelled, false}, "data": {newData, true}, "type": {newType, true}, "added key": {added, true}} {
		if got := MaterialChanged(base, tt.secret); got != tt.want {
			t.Errorf("%s: MaterialChanged = %t, want %t", name, got, tt.want)
		}
	}
}

func sha256Of(der []byte) [32]byte {
	bundle, err := certs.ParseCertificates(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	if err != nil || len(bundle.Certificates) == 0 {
		return [32]byte{}
	}
	return bundle.Certificates[0].SHA256
}
