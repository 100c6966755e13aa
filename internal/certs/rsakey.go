package certs

import (
	"crypto/rsa"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
)

// oidRSAEncryption identifies an RSA key in a PKCS#8 PrivateKeyInfo
// (RFC 8017, appendix A.1).
var oidRSAEncryption = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}

// pkcs8 is a PKCS#8 PrivateKeyInfo (RFC 5208).
type pkcs8 struct {
	Version    int
	Algorithm  pkix.AlgorithmIdentifier
	PrivateKey []byte
}

// pkcs1 is a two-prime RSAPrivateKey (RFC 8017, appendix A.1.2).
type pkcs1 struct {
	Version         int
	N               *big.Int
	E               int
	D, P, Q         *big.Int
	Dp, Dq, Qinv    *big.Int
	AdditionalPrime []asn1.RawValue `asn1:"optional,omitempty"`
}

// pkcs8RSAKey returns the PKCS#1 bytes inside a PKCS#8 RSA key, or false
// when der is not a PKCS#8 RSA key.
func pkcs8RSAKey(der []byte) ([]byte, bool) {
	var info pkcs8
	rest, err := asn1.Unmarshal(der, &info)
	if err != nil || len(rest) > 0 || !info.Algorithm.Algorithm.Equal(oidRSAEncryption) {
		return nil, false
	}
	return info.PrivateKey, true
}

// parseRSAKey parses a PKCS#1 RSA private key and checks that its numbers
// are consistent: n = p·q, d·e ≡ 1 modulo p−1 and q−1, and the CRT values
// agree with d, p and q. That proves the key is sound, as the standard
// library's parser does, without its test signature, which costs about
// 100 µs for a 2048-bit key and dominated admission of new Secrets. It
// returns the public half only.
func parseRSAKey(der []byte) (*rsa.PublicKey, error) {
	var key pkcs1
	rest, err := asn1.Unmarshal(der, &key)
	if err != nil {
		return nil, fmt.Errorf("decode RSA private key: %w", err)
	}
	if len(rest) > 0 {
		return nil, errors.New("trailing data after the RSA private key")
	}
	if key.Version != 0 || len(key.AdditionalPrime) > 0 {
		return nil, errors.New("multi-prime RSA keys are not supported")
	}
	if err := checkRSAKey(&key); err != nil {
		return nil, err
	}
	return &rsa.PublicKey{N: key.N, E: key.E}, nil
}

func checkRSAKey(key *pkcs1) error {
	one := big.NewInt(1)
	for _, n := range []*big.Int{key.N, key.D, key.P, key.Q, key.Dp, key.Dq, key.Qinv} {
		if n == nil || n.Sign() <= 0 {
			return errors.New("invalid RSA private key: a number is missing or not positive")
		}
	}
	if key.E < 3 || key.E&1 == 0 {
		return fmt.Errorf("invalid RSA public exponent %d", key.E)
	}
	if new(big.Int).Mul(key.P, key.Q).Cmp(key.N) != 0 {
		return errors.New("invalid RSA private key: the modulus is not the product of its primes")
	}

	e := big.NewInt(int64(key.E))
	for _, pair := range []struct{ prime, exponent *big.Int }{{key.P, key.Dp}, {key.Q, key.Dq}} {
		order := new(big.Int).Sub(pair.prime, one)
		if order.Sign() <= 0 {
			return errors.New("invalid RSA private key: a prime is too small")
		}
		if new(big.Int).Mod(new(big.Int).Mul(key.D, e), order).Cmp(one) != 0 {
			return errors.New("invalid RSA private key: the private exponent does not invert the public one")
		}
		if new(big.Int).Mod(key.D, order).Cmp(pair.exponent) != 0 {
			return errors.New("invalid RSA private key: a CRT exponent does not match the private exponent")
		}
	}
	if new(big.Int).Mod(new(big.Int).Mul(key.Qinv, key.Q), key.P).Cmp(one) != 0 {
		return errors.New("invalid RSA private key: the CRT coefficient does not match the primes")
	}
	return nil
}
