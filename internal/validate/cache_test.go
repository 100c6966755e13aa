package validate

import (
	"crypto"
	"fmt"
	"testing"

	"github.com/meshcert/meshcert/internal/testcerts"
)

func TestParseCacheBounded(t *testing.T) {
	cache := newParseCache(3)
	for i := range 10 {
		cache.put(newCacheKey(kindChain, []byte(fmt.Sprint(i))), i)
	}
	if got := cache.len(); got != 3 {
		t.Errorf("entries = %d, want 3", got)
	}
	if _, ok := cache.get(newCacheKey(kindChain, []byte("9"))); !ok {
		t.Error("newest entry was evicted")
	}
	if _, ok := cache.get(newCacheKey(kindChain, []byte("0"))); ok {
		t.Error("oldest entry was kept")
	}
}

func TestParseCacheKeepsNoPrivateKey(t *testing.T) {
	leaf := testcerts.New(t, testcerts.Options{KeyKind: testcerts.RSA2048})
	cache := newParseCache(8)
	if _, findings := checkSecret(tlsSecret(leaf.CertPEM, leaf.KeyPEM), Policy{}, testNow, cache); len(findings) != 0 {
		t.Fatalf("findings: %v", findings)
	}
	hit, ok := cache.get(newCacheKey(kindKey, leaf.KeyPEM))
	if !ok {
		t.Fatal("key value was not cached")
	}
	parsed := hit.(*keyValue)
	if _, private := parsed.key.Public.(crypto.Signer); private {
		t.Error("cached key holds a private key")
	}
	if parsed.key.Bits != 2048 {
		t.Errorf("cached key bits = %d, want 2048", parsed.key.Bits)
	}
}

func TestCheckSecretSameVerdictWarm(t *testing.T) {
	chain := testcerts.NewChain(t, 3, testcerts.Options{KeyKind: testcerts.ECDSAP256})
	other := testcerts.New(t, testcerts.Options{KeyKind: testcerts.ECDSAP256, KeyIndex: 1})
	secret := tlsSecret(join(chain.Intermediates[0].CertPEM, chain.Leaf.CertPEM), other.KeyPEM)
	cache := newParseCache(8)
	_, cold := checkSecret(secret, Policy{}, testNow, cache)
	_, warm := checkSecret(secret, Policy{}, testNow, cache)
	if fmt.Sprint(cold) != fmt.Sprint(warm) {
		t.Errorf("warm findings %v differ from cold %v", warm, cold)
	}
}
