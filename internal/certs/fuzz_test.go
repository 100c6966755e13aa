package certs_test

import (
	"testing"

	"github.com/meshcert/meshcert/internal/certs"
	"github.com/meshcert/meshcert/internal/testcerts"
)

// FuzzParse feeds arbitrary bytes to every parser entry point. They must
// return, without panicking, either a result or a *certs.Error.
func FuzzParse(f *testing.F) {
	chain := testcerts.NewChain(f, 3, testcerts.Options{KeyKind: testcerts.ECDSAP256})
	f.Add(chain.CertPEM())
	f.Add(chain.Leaf.KeyPEM)
	f.Add(chain.Leaf.X509.Raw)
	f.Add([]byte("-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----"))
	f.Add([]byte("\xef\xbb\xbf-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"))

	f.Fuzz(func(t *testing.T, data []byte) {
		if bundle, err := certs.ParseCertificates(data); err == nil && bundle == nil {
			t.Fatal("ParseCertificates returned neither a bundle nor an error")
		}
		if key, err := certs.ParsePrivateKey(data); err == nil && key == nil {
			t.Fatal("ParsePrivateKey returned neither a key nor an error")
		}
	})
}
