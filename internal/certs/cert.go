package certs

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
)

// Certificate is one parsed certificate of a bundle.
type Certificate struct {
	// Block is the zero-based index of the PEM block it came from.
	Block int
	X509  *x509.Certificate
	// SHA256 is the fingerprint of the DER encoding.
	SHA256 [sha256.Size]byte
}

// Fingerprint returns the SHA-256 fingerprint as lowercase hex.
func (c *Certificate) Fingerprint() string {
	return hex.EncodeToString(c.SHA256[:])
}

// Bundle is the result of parsing a value that should hold certificates.
// A block that fails does not hide the others: Certificates holds every
// block that parsed, in order, and Errors one entry per block that did not.
type Bundle struct {
	Certificates []*Certificate
	Errors       []*Error
}

// ParseCertificates parses every PEM block of data as an X.509 certificate.
// The returned error concerns the value as a whole (empty, not PEM); it is
// nil when at least one block decoded, and block problems are then in
// Bundle.Errors.
func ParseCertificates(data []byte) (*Bundle, error) {
	blocks, err := DecodePEM(data)
	if len(blocks) == 0 {
		return nil, err
	}

	bundle := &Bundle{}
	if err != nil {
		bundle.Errors = append(bundle.Errors, err.(*Error))
	}
	for _, block := range blocks {
		cert, blockErr := parseCertificateBlock(block)
		if blockErr != nil {
			bundle.Errors = append(bundle.Errors, blockErr)
			continue
		}
		bundle.Certificates = append(bundle.Certificates, cert)
	}
	return bundle, nil
}

func parseCertificateBlock(block Block) (*Certificate, *Error) {
	switch {
	case block.Type == "CERTIFICATE":
	case isPrivateKeyType(block.Type):
		return nil, newError(ReasonUnexpectedBlock, block.Index,
			"a private key block (%s) is inside the certificate chain; move it to the key", block.Type)
	default:
		return nil, newError(ReasonUnexpectedBlock, block.Index,
			"a %q block is inside the certificate chain; keep only CERTIFICATE blocks", block.Type)
	}

	parsed, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, &Error{Reason: ReasonMalformed, Block: block.Index,
			Err: fmt.Errorf("parse certificate: %w", err)}
	}
	return &Certificate{
		Block:  block.Index,
		X509:   parsed,
		SHA256: sha256.Sum256(block.Bytes),
	}, nil
}
