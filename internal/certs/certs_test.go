package certs_test

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/meshcert/meshcert/internal/certs"
	"github.com/meshcert/meshcert/internal/testcerts"
)

// withLastByte returns a copy of data whose last byte is b, as a DER
// signature may end by chance.
func withLastByte(data []byte, b byte) []byte {
	out := bytes.Clone(data)
	out[len(out)-1] = b
	return out
}

func TestDecodePEMDiagnosis(t *testing.T) {
	leaf := testcerts.New(t, testcerts.Options{KeyKind: testcerts.ECDSAP256})
	der := leaf.X509.Raw
	escaped := strings.ReplaceAll(string(leaf.CertPEM), "\n", `\n`)

	tests := []struct {
		name   string
		data   []byte
		reason certs.Reason
		block  int
	}{
		{"empty", nil, certs.ReasonEmpty, certs.NoBlock},
		{"whitespace only", []byte(" \n\t\n"), certs.ReasonEmpty, certs.NoBlock},
		{"der", der, certs.ReasonDER, certs.NoBlock},
		{"der ending in a space byte", withLastByte(der, ' '), certs.ReasonDER, certs.NoBlock},
		{"der ending in a newline byte", withLastByte(der, '\n'), certs.ReasonDER, certs.NoBlock},
		{"double base64", []byte(base64.StdEncoding.EncodeToString(leaf.CertPEM)), certs.ReasonDoubleBase64, certs.NoBlock},
		{"bare base64 body", []byte(base64.StdEncoding.EncodeToString(der)), certs.ReasonNotPEM, certs.NoBlock},
		{"escaped newlines", []byte(escaped), certs.ReasonEscapedNewlines, certs.NoBlock},
		{"byte order mark", append([]byte("\xef\xbb\xbf"), leaf.CertPEM...), certs.ReasonLeadingGarbage, 0},
		{"indented header", append([]byte("  "), leaf.CertPEM...), certs.ReasonLeadingGarbage, 0},
		{"plain text", []byte("hello world"), certs.ReasonNotPEM, certs.NoBlock},
		{"binary", []byte{0xff, 0xfe, 0x00, 0x01}, certs.ReasonNotPEM, certs.NoBlock},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := certs.DecodePEM(tt.data)
			var certErr *certs.Error
			if !errors.As(err, &certErr) {
				t.Fatalf("DecodePEM error = %v, want *certs.Error", err)
			}
			if certErr.Reason != tt.reason {
				t.Errorf("reason = %q, want %q (%v)", certErr.Reason, tt.reason, err)
			}
			if certErr.Block != tt.block {
				t.Errorf("block = %d, want %d", certErr.Block, tt.block)
			}
		})
	}
}

func TestDecodePEMSecondBlockIndented(t *testing.T) {
	chain := testcerts.NewChain(t, 3, testcerts.Options{KeyKind: testcerts.ECDSAP256})
	data := append(append([]byte{}, chain.Leaf.CertPEM...), append([]byte(" "), chain.Intermediates[0].CertPEM...)...)

	blocks, err := certs.DecodePEM(data)
	if got := len(blocks); got != 1 {
		t.Errorf("blocks = %d, want 1", got)
	}
	if reason := certs.ReasonOf(err); reason != certs.ReasonLeadingGarbage {
		t.Errorf("reason = %q, want %q", reason, certs.ReasonLeadingGarbage)
	}
}

func TestParseCertificates(t *testing.T) {
	chain := testcerts.NewChain(t, 4, testcerts.Options{KeyKind: testcerts.ECDSAP256})
	garbled := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0x03, 0x02, 0x01, 0x01}})

	tests := []struct {
		name       string
		data       []byte
		wantCerts  int
		wantErrors []certs.Reason
	}{
		{"leaf only", chain.Leaf.CertPEM, 1, nil},
		{"full chain", chain.CertPEM(), 3, nil},
		{"chain with root", append(chain.CertPEM(), chain.Root.CertPEM...), 4, nil},
		{"malformed middle block", join(chain.Leaf.CertPEM, garbled, chain.Root.CertPEM), 2,
			[]certs.Reason{certs.ReasonMalformed}},
		{"key inside chain", join(chain.Leaf.CertPEM, chain.Leaf.KeyPEM), 1,
			[]certs.Reason{certs.ReasonUnexpectedBlock}},
		{"other block inside chain", join(pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: []byte{1}}), chain.Leaf.CertPEM), 1,
			[]certs.Reason{certs.ReasonUnexpectedBlock}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bundle, err := certs.ParseCertificates(tt.data)
			if err != nil {
				t.Fatalf("ParseCertificates: %v", err)
			}
			if got := len(bundle.Certificates); got != tt.wantCerts {
				t.Errorf("certificates = %d, want %d", got, tt.wantCerts)
			}
			var reasons []certs.Reason
			for _, blockErr := range bundle.Errors {
				reasons = append(reasons, blockErr.Reason)
			}
			if !equalReasons(reasons, tt.wantErrors) {
				t.Errorf("block errors = %v, want %v", reasons, tt.wantErrors)
			}
		})
	}
}

func TestParseCertificatesKeepsBlockIndex(t *testing.T) {
	chain := testcerts.NewChain(t, 3, testcerts.Options{KeyKind: testcerts.ECDSAP256})
	bundle, err := certs.ParseCertificates(join(chain.Leaf.KeyPEM, chain.CertPEM()))
	if err != nil {
		t.Fatalf("ParseCertificates: %v", err)
	}
	if got := bundle.Errors[0].Block; got != 0 {
		t.Errorf("key block index = %d, want 0", got)
	}
	if got := bundle.Certificates[0].Block; got != 1 {
		t.Errorf("leaf block index = %d, want 1", got)
	}
	if got, want := bundle.Certificates[0].Fingerprint(), hexSHA256(chain.Leaf.X509.Raw); got != want {
		t.Errorf("fingerprint = %s, want %s", got, want)
	}
}

func TestParsePrivateKey(t *testing.T) {
	rsaKey := testcerts.Key(t, testcerts.RSA2048, 0)
	ecKey := testcerts.Key(t, testcerts.ECDSAP256, 0)
	edKey := testcerts.Key(t, testcerts.Ed25519, 0)
	pkcs1 := pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey.(*rsaPrivateKey)))
	sec1DER, err := x509.MarshalECPrivateKey(ecKey.(*ecdsaPrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	sec1 := pemBlock("EC PRIVATE KEY", sec1DER)
	ecParams := pemBlock("EC PARAMETERS", []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07})
	legacyEncrypted := pem.EncodeToMemory(&pem.Block{
		Type:    "RSA PRIVATE KEY",
		Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00000000000000000000000000000000"},
		Bytes:   []byte{1, 2, 3},
	})

	tests := []struct {
		name      string
		data      []byte
		algorithm certs.KeyAlgorithm
		bits      int
		reason    certs.Reason
	}{
		{"pkcs8 rsa", testcerts.EncodePKCS8(t, rsaKey), certs.AlgorithmRSA, 2048, ""},
		{"pkcs1 rsa", pkcs1, certs.AlgorithmRSA, 2048, ""},
		{"pkcs8 ecdsa", testcerts.EncodePKCS8(t, ecKey), certs.AlgorithmECDSA, 256, ""},
		{"sec1 ecdsa", sec1, certs.AlgorithmECDSA, 256, ""},
		{"sec1 after ec parameters", join(ecParams, sec1), certs.AlgorithmECDSA, 256, ""},
		{"pkcs8 ed25519", testcerts.EncodePKCS8(t, edKey), certs.AlgorithmEd25519, 256, ""},
		{"encrypted pkcs8", pemBlock("ENCRYPTED PRIVATE KEY", []byte{1}), "", 0, certs.ReasonEncryptedKey},
		{"encrypted legacy", legacyEncrypted, "", 0, certs.ReasonEncryptedKey},
		{"certificate instead of key", testcerts.New(t, testcerts.Options{}).CertPEM, "", 0, certs.ReasonUnexpectedBlock},
		{"garbage key", pemBlock("PRIVATE KEY", []byte{0x30, 0x00}), "", 0, certs.ReasonMalformed},
		{"parameters only", ecParams, "", 0, certs.ReasonEmpty},
		{"empty", nil, "", 0, certs.ReasonEmpty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, err := certs.ParsePrivateKey(tt.data)
			if tt.reason != "" {
				if got := certs.ReasonOf(err); err == nil || got != tt.reason {
					t.Fatalf("error = %v (reason %q), want reason %q", err, got, tt.reason)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePrivateKey: %v", err)
			}
			if key.Algorithm != tt.algorithm {
				t.Errorf("algorithm = %s, want %s", key.Algorithm, tt.algorithm)
			}
			if key.Bits != tt.bits {
				t.Errorf("bits = %d, want %d", key.Bits, tt.bits)
			}
		})
	}
}

func TestPrivateKeyMatches(t *testing.T) {
	for _, kind := range []testcerts.KeyKind{testcerts.RSA2048, testcerts.ECDSAP256, testcerts.Ed25519} {
		t.Run(string(kind), func(t *testing.T) {
			cert := testcerts.New(t, testcerts.Options{KeyKind: kind})
			other := testcerts.New(t, testcerts.Options{KeyKind: kind, KeyIndex: 1})

			key, err := certs.ParsePrivateKey(cert.KeyPEM)
			if err != nil {
				t.Fatalf("ParsePrivateKey: %v", err)
			}
			if !key.Matches(cert.X509) {
				t.Error("key does not match its own certificate")
			}
			if key.Matches(other.X509) {
				t.Error("key matches another key's certificate")
			}
		})
	}
}

func join(parts ...[]byte) []byte {
	return bytes.Join(parts, nil)
}

func pemBlock(blockType string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der})
}

func equalReasons(got, want []certs.Reason) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}
