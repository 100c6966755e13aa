package validate

import (
	"testing"

	"github.com/meshcert/meshcert/internal/testcerts"
)

// TestChainOrderRenewedIssuer serves a leaf with an intermediate of the
// same name but another key, as after a CA renewal: the intermediate did
// not issue the leaf, so the chain must be denied.
func TestChainOrderRenewedIssuer(t *testing.T) {
	root := testcerts.New(t, testcerts.Options{CommonName: "renewal root", IsCA: true, KeyKind: testcerts.ECDSAP256, KeyIndex: 200})
	issuer := func(keyIndex int) *testcerts.Cert {
		return testcerts.New(t, testcerts.Options{
			CommonName: "renewal intermediate", IsCA: true, KeyKind: testcerts.ECDSAP256, KeyIndex: keyIndex, Issuer: root,
		})
	}
	original, renewed := issuer(201), issuer(202)
	leaf := testcerts.New(t, testcerts.Options{KeyKind: testcerts.ECDSAP256, Issuer: original})

	tests := []struct {
		name         string
		intermediate *testcerts.Cert
		wantDenied   bool
	}{
		{"original issuer", original, false},
		{"renewed issuer with a new key", renewed, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			secret := tlsSecret(join(leaf.CertPEM, tt.intermediate.CertPEM), leaf.KeyPEM)
			_, findings := CheckSecret(secret, DefaultPolicy(), testNow)
			denied := false
			for _, f := range findings.Denials() {
				denied = denied || f.Rule == RuleChainOrder
			}
			if denied != tt.wantDenied {
				t.Errorf("chain-order denial = %v, want %v; findings: %v", denied, tt.wantDenied, findings)
			}
		})
	}
}
