package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"strings"
)

// KeyAlgorithm names a public key algorithm as operators know it.
type KeyAlgorithm string

// Key algorithms meshcert recognises.
const (
	AlgorithmRSA     KeyAlgorithm = "RSA"
	AlgorithmECDSA   KeyAlgorithm = "ECDSA"
	AlgorithmEd25519 KeyAlgorithm = "Ed25519"
	AlgorithmUnknown KeyAlgorithm = "unknown"
)

// PublicKeyInfo describes a key: its algorithm, size
// in bits and, for ECDSA, the curve name ("P-256").
type PublicKeyInfo struct {
	Algorithm KeyAlgorithm
	Bits      int
	Curve     string
}

// DescribePublicKey returns the algorithm, size and curve of pub.
func DescribePublicKey(pub crypto.PublicKey) PublicKeyInfo {
	switch key := pub.(type) {
	case *rsa.PublicKey:
		return PublicKeyInfo{Algorithm: AlgorithmRSA, Bits: key.N.BitLen()}
	case *ecdsa.PublicKey:
		params := key.Curve.Params()
		return PublicKeyInfo{Algorithm: AlgorithmECDSA, Bits: params.BitSize, Curve: params.Name}
	case ed25519.PublicKey:
		return PublicKeyInfo{Algorithm: AlgorithmEd25519, Bits: 256}
	default:
		return PublicKeyInfo{Algorithm: AlgorithmUnknown}
	}
}

// PrivateKey holds the public half and the facts of a parsed private key.
// The private material itself is dropped after parsing.
type PrivateKey struct {
	// Block is the zero-based index of the PEM block of the key.
	Block int
	PublicKeyInfo
	Public crypto.PublicKey
}

// Matches reports whether the key is the private half of cert's public key.
func (k *PrivateKey) Matches(cert *x509.Certificate) bool {
	pub, ok := k.Public.(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(cert.PublicKey)
}

// ParsePrivateKey parses the first private key of data: PKCS#1 ("RSA
// PRIVATE KEY"), PKCS#8 ("PRIVATE KEY") or SEC1 ("EC PRIVATE KEY"). An
// "EC PARAMETERS" block before it, as written by 'openssl ecparam
// -genkey', is skipped. Encrypted keys are rejected with
// ReasonEncryptedKey, because gateways cannot read them.
func ParsePrivateKey(data []byte) (*PrivateKey, error) {
	blocks, err := DecodePEM(data)
	if len(blocks) == 0 {
		return nil, err
	}
	if err != nil {
		return nil, err
	}

	for _, block := range blocks {
		switch {
		case block.Type == "EC PARAMETERS":
			continue
		case block.Type == "ENCRYPTED PRIVATE KEY", isLegacyEncrypted(block):
			return nil, newError(ReasonEncryptedKey, block.Index,
				"the private key is encrypted; decrypt it with 'openssl pkey -in KEY -out KEY.plain'")
		case isPrivateKeyType(block.Type):
			return parseKeyBlock(block)
		case block.Type == "CERTIFICATE":
			return nil, newError(ReasonUnexpectedBlock, block.Index,
				"a CERTIFICATE block is where the private key should be; swap the certificate and key values")
		default:
			return nil, newError(ReasonUnexpectedBlock, block.Index,
				"a %q block is where the private key should be", block.Type)
		}
	}
	return nil, newError(ReasonEmpty, NoBlock, "the value has EC PARAMETERS but no private key")
}

func parseKeyBlock(block Block) (*PrivateKey, error) {
	var (
		parsed any
		err    error
	)
	rsaDER, isPKCS8RSA := pkcs8RSAKey(block.Bytes)
	switch {
	case block.Type == "RSA PRIVATE KEY":
		return rsaPrivateKey(block, block.Bytes)
	case isPKCS8RSA:
		return rsaPrivateKey(block, rsaDER)
	}

	switch block.Type {
	case "EC PRIVATE KEY":
		parsed, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		parsed, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, &Error{Reason: ReasonMalformed, Block: block.Index,
			Err: fmt.Errorf("parse %s: %w", block.Type, err)}
	}

	signer, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, newError(ReasonUnsupportedKey, block.Index, "unsupported private key type %T", parsed)
	}
	public := signer.Public()
	return &PrivateKey{Block: block.Index, PublicKeyInfo: DescribePublicKey(public), Public: public}, nil
}

func rsaPrivateKey(block Block, der []byte) (*PrivateKey, error) {
	public, err := parseRSAKey(der)
	if err != nil {
		return nil, &Error{Reason: ReasonMalformed, Block: block.Index,
			Err: fmt.Errorf("parse %s: %w", block.Type, err)}
	}
	return &PrivateKey{Block: block.Index, PublicKeyInfo: DescribePublicKey(public), Public: public}, nil
}

func isPrivateKeyType(blockType string) bool {
	return strings.HasSuffix(blockType, "PRIVATE KEY")
}

// isLegacyEncrypted reports an OpenSSL traditional encrypted key, marked
// by a "Proc-Type: 4,ENCRYPTED" header.
func isLegacyEncrypted(block Block) bool {
	return strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED")
}
