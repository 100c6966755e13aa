package validate

import (
	"testing"

	"github.com/meshcert/meshcert/internal/testcerts"
)

// BenchmarkCheckSecret checks a kubernetes.io/tls Secret holding a leaf,
// one intermediate (ECDSA P-256, as testcerts issues them) and the leaf's
// key. cold parses everything on each iteration, as for material never
// seen; warm finds it in the cache, as for a metadata-only update or a
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
