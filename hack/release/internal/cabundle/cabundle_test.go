package cabundle

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"testing"
)

func TestPEM(t *testing.T) {
	first, err := PEM()
	if err != nil {
		t.Fatalf("PEM() error = %v", err)
	}
	second, err := PEM()
	if err != nil {
		t.Fatalf("second PEM() error = %v", err)
	}
	if !bytes.Equal(first, second) {
		t.Error("PEM() output differs between calls")
	}

	rest, count := first, 0
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			t.Errorf("block %d type = %q, want CERTIFICATE", count, block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatalf("block %d: %v", count, err)
		}
		if !cert.IsCA {
			t.Errorf("block %d (%s) is not a CA certificate", count, cert.Subject)
		}
		count++
	}
	if len(rest) != 0 {
		t.Errorf("PEM() has %d trailing bytes", len(rest))
	}
	if !x509.NewCertPool().AppendCertsFromPEM(first) {
		t.Error("x509.CertPool.AppendCertsFromPEM rejected the bundle")
	}
}
