package validate

import (
	"crypto/x509"
	"encoding/pem"
	"testing"

	"github.com/meshcert/meshcert/internal/testcerts"
)

// BenchmarkCheckSecret checks a kubernetes.io/tls Secret holding a leaf,
// one intermediate (ECDSA P-256, as testcerts issues them) and the leaf's
// key. cold parses everything on each iteration, as for material never
// seen. warm finds it in the cache, as for a metadata-only update or a
// Gateway that names the Secret.
func BenchmarkCheckSecret(b *testing.B) {
	for _, kind := range []testcerts.KeyKind{testcerts.RSA2048, testcerts.ECDSAP256} {
		chain := testcerts.NewChain(b, 3, testcerts.Options{KeyKind: kind})
		secret := tlsSecret(chain.CertPEM(), chain.Leaf.KeyPEM)
		policy := DefaultPolicy()

		b.Run(string(kind)+"/cold", func(b *testing.B) {
			for b.Loop() {
				if _, findings := checkSecret(secret, policy, testNow, newParseCache(8)); len(findings) != 0 {
					b.Fatalf("findings: %v", findings)
				}
			}
		})
		b.Run(string(kind)+"/warm", func(b *testing.B) {
			cache := newParseCache(8)
			checkSecret(secret, policy, testNow, cache)
			for b.Loop() {
				if _, findings := checkSecret(secret, policy, testNow, cache); len(findings) != 0 {
					b.Fatalf("findings: %v", findings)
				}
			}
		})
	}
}

// BenchmarkParsePKCS8RSA is the reference for the cold figures: the
// standard library's parse of an RSA-2048 key, with its consistency
// checks, which a cold check of an RSA Secret includes.
func BenchmarkParsePKCS8RSA(b *testing.B) {
	key := testcerts.EncodePKCS8(b, testcerts.Key(b, testcerts.RSA2048, 0))
	block, _ := pem.Decode(key)
	for b.Loop() {
		if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
			b.Fatal(err)
		}
	}
}
