package validate

import (
	"bytes"
	"testing"
	"time"

	"github.com/meshcert/meshcert/internal/testcerts"
)

// FuzzCheckSecret checks arbitrary certificate, key and CA values. It must
// not panic, and a huge or deeply repeated value must stay bounded: the
// chain analysis looks at most at maxChainAnalysis certificates.
func FuzzCheckSecret(f *testing.F) {
	chain := testcerts.NewChain(f, 3, testcerts.Options{KeyKind: testcerts.ECDSAP256})
	f.Add(chain.CertPEM(), chain.Leaf.KeyPEM, chain.CAPEM())
	f.Add(bytes.Repeat(chain.Intermediates[0].CertPEM, 200), chain.Leaf.KeyPEM, []byte{})
	f.Add(chain.Leaf.X509.Raw, []byte("-----BEGIN PRIVATE KEY-----\n"), []byte("\xef\xbb\xbf"))

	f.Fuzz(func(t *testing.T, certPEM, keyPEM, caPEM []byte) {
		secret := tlsSecret(certPEM, keyPEM)
		secret.Data[KeyTLSCA] = caPEM
		facts, findings := CheckSecret(secret, Policy{}, time.Now())
		if facts == nil {
			t.Fatal("facts of a kubernetes.io/tls Secret are nil")
		}
		for _, finding := range findings {
			if finding.Message == "" || finding.Rule == "" {
				t.Fatalf("finding without rule or message: %+v", finding)
			}
		}
	})
}

func TestCheckSecretRepeatedChain(t *testing.T) {
	chain := testcerts.NewChain(t, 3, testcerts.Options{KeyKind: testcerts.ECDSAP256})
	var distinct [][]byte
	for range 40 {
		distinct = append(distinct, testcerts.New(t, testcerts.Options{KeyKind: testcerts.ECDSAP256}).CertPEM)
	}
	secret := tlsSecret(join(chain.Leaf.CertPEM, bytes.Join(distinct, nil)), chain.Leaf.KeyPEM)
	_, findings := CheckSecret(secret, Policy{}, testNow)
	if len(findings.Denials()) == 0 {
		t.Error("a leaf followed by 40 unrelated certificates was not denied")
	}
}
