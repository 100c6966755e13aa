package certs_test

import (
	"encoding/pem"
	"testing"
	"time"

	"github.com/meshcert/meshcert/internal/certs"
	"github.com/meshcert/meshcert/internal/testcerts"
)

func TestParseCertificatesLenient(t *testing.T) {
	notAfter := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	chain := testcerts.NewChain(t, 3, testcerts.Options{
		CommonName: "lenient.example", DNSNames: []string{"san.lenient.example"},
		KeyKind: testcerts.ECDSAP256, NotAfter: notAfter,
	})
	negative := pemBlock("CERTIFICATE", testcerts.NegativeSerial(t, chain.Leaf))
	badSAN := pemBlock("CERTIFICATE", testcerts.MalformedSAN(t, chain.Leaf, "san.lenient.example"))
	truncated := pemBlock("CERTIFICATE", chain.Leaf.X509.Raw[:40])

	tests := []struct {
		name       string
		data       []byte
		wantCerts  int
		wantErrors []certs.Reason
		recovered  int
	}{
		{"valid chain", chain.CertPEM(), 2, nil, 0},
		{"negative serial", join(negative, chain.Intermediates[0].CertPEM), 1, []certs.Reason{certs.ReasonNegativeSerial}, 1},
		{"malformed san", badSAN, 0, []certs.Reason{certs.ReasonMalformed}, 1},
		{"truncated", join(chain.Leaf.CertPEM, truncated), 1, []certs.Reason{certs.ReasonMalformed}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bundle, err := certs.ParseCertificatesLenient(tt.data)
			if err != nil {
				t.Fatalf("ParseCertificatesLenient: %v", err)
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
			if got := len(bundle.Recovered); got != tt.recovered {
				t.Fatalf("recovered = %d, want %d", got, tt.recovered)
			}
			for _, cert := range bundle.Recovered {
				checkRecovered(t, cert, chain.Leaf)
			}
		})
	}
}

func checkRecovered(t *testing.T, got *certs.LenientCertificate, want *testcerts.Cert) {
	t.Helper()
	if !got.NotAfter.Equal(want.X509.NotAfter) {
		t.Errorf("not after = %v, want %v", got.NotAfter, want.X509.NotAfter)
	}
	if !got.NotBefore.Equal(want.X509.NotBefore) {
		t.Errorf("not before = %v, want %v", got.NotBefore, want.X509.NotBefore)
	}
	if got.SubjectCN != "lenient.example" {
		t.Errorf("subject CN = %q, want lenient.example", got.SubjectCN)
	}
	if got.IssuerCN != "meshcert test intermediate 1" {
		t.Errorf("issuer CN = %q, want meshcert test intermediate 1", got.IssuerCN)
	}
	if got.IsCA {
		t.Error("leaf recovered as a CA")
	}
	if got.SANCount != 1 {
		t.Errorf("SAN count = %d, want 1", got.SANCount)
	}
	if got.Algorithm != certs.AlgorithmECDSA || got.Bits != 256 {
		t.Errorf("key = %s %d, want ECDSA 256", got.Algorithm, got.Bits)
	}
}

func TestParseCertificateLenientMatchesStrict(t *testing.T) {
	chain := testcerts.NewChain(t, 3, testcerts.Options{KeyKind: testcerts.RSA2048})
	for _, cert := range []*testcerts.Cert{chain.Leaf, chain.Intermediates[0], chain.Root} {
		got, err := certs.ParseCertificateLenient(cert.X509.Raw)
		if err != nil {
			t.Fatalf("ParseCertificateLenient: %v", err)
		}
		if got.SerialNumber.Cmp(cert.X509.SerialNumber) != 0 {
			t.Errorf("serial = %v, want %v", got.SerialNumber, cert.X509.SerialNumber)
		}
		if got.IsCA != cert.X509.IsCA {
			t.Errorf("%s: is CA = %v, want %v", cert.X509.Subject.CommonName, got.IsCA, cert.X509.IsCA)
		}
		if string(got.RawSubject) != string(cert.X509.RawSubject) {
			t.Errorf("%s: raw subject differs", cert.X509.Subject.CommonName)
		}
	}
}

// FuzzParseLenient feeds arbitrary DER to the lenient reader and arbitrary
// PEM to ParseCertificatesLenient: both return without panicking.
func FuzzParseLenient(f *testing.F) {
	chain := testcerts.NewChain(f, 3, testcerts.Options{KeyKind: testcerts.ECDSAP256})
	f.Add(chain.Leaf.X509.Raw)
	f.Add(testcerts.NegativeSerial(f, chain.Leaf))
	f.Add(chain.Root.X509.Raw[:60])
	f.Add(chain.CertPEM())

	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = certs.ParseCertificateLenient(data)
		wrapped := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: data})
		bundle, err := certs.ParseCertificatesLenient(append(wrapped, data...))
		if err == nil && bundle == nil {
			t.Fatal("ParseCertificatesLenient returned neither a bundle nor an error")
		}
	})
}
