package certs

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"testing"

	"github.com/meshcert/meshcert/internal/testcerts"
)

func TestParseRSAKeyMatchesStandardLibrary(t *testing.T) {
	for _, kind := range []testcerts.KeyKind{testcerts.RSA1024, testcerts.RSA2048} {
		key := testcerts.Key(t, kind, 0).(*rsa.PrivateKey)
		public, err := parseRSAKey(x509.MarshalPKCS1PrivateKey(key))
		if err != nil {
			t.Fatalf("%s: parseRSAKey: %v", kind, err)
		}
		if !public.Equal(&key.PublicKey) {
			t.Errorf("%s: public key differs from the standard library's", kind)
		}
	}
}

func TestParseRSAKeyRejectsInconsistentKeys(t *testing.T) {
	key := testcerts.Key(t, testcerts.RSA2048, 0).(*rsa.PrivateKey)
	base := func() pkcs1 {
		return pkcs1{
			N: key.N, E: key.E, D: key.D, P: key.Primes[0], Q: key.Primes[1],
			Dp: key.Precomputed.Dp, Dq: key.Precomputed.Dq, Qinv: key.Precomputed.Qinv,
		}
	}
	plusOne := func(n *big.Int) *big.Int { return new(big.Int).Add(n, big.NewInt(1)) }

	tests := []struct {
		name   string
		modify func(*pkcs1)
	}{
		{"modulus", func(k *pkcs1) { k.N = plusOne(k.N) }},
		{"public exponent", func(k *pkcs1) { k.E = 65539 }},
		{"even exponent", func(k *pkcs1) { k.E = 65536 }},
		{"private exponent", func(k *pkcs1) { k.D = plusOne(k.D) }},
		{"first CRT exponent", func(k *pkcs1) { k.Dp = plusOne(k.Dp) }},
		{"second CRT exponent", func(k *pkcs1) { k.Dq = plusOne(k.Dq) }},
		{"CRT coefficient", func(k *pkcs1) { k.Qinv = plusOne(k.Qinv) }},
		{"zero prime", func(k *pkcs1) { k.P = big.NewInt(0) }},
		{"multi-prime version", func(k *pkcs1) { k.Version = 1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := base()
			tt.modify(&k)
			der, err := asn1.Marshal(k)
			if err != nil {
				t.Fatal(err)
			}
			data := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: der})
			_, err = ParsePrivateKey(data)
			if got := ReasonOf(err); err == nil || got != ReasonMalformed {
				t.Errorf("error = %v (reason %q), want reason %q", err, got, ReasonMalformed)
			}
		})
	}
}

func BenchmarkParsePrivateKeyRSA2048(b *testing.B) {
	key := testcerts.Key(b, testcerts.RSA2048, 0)
	data := testcerts.EncodePKCS8(b, key)
	for b.Loop() {
		if _, err := ParsePrivateKey(data); err != nil {
			b.Fatal(err)
		}
	}
}
