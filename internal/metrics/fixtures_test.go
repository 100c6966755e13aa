package metrics

import (
	"encoding/pem"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/meshcert/meshcert/internal/testcerts"
)

// update rewrites the golden files, and writes the fixture certificates
// when testdata/certs lacks them. Delete testdata/certs to issue new ones.
var update = flag.Bool("update", false, "rewrite golden files and write missing fixture certificates")

const certsDir = "testdata/certs"

// Fixture validity: fixed dates far in the future, so that golden files
// do not change with time.
var (
	fixtureNotBefore = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	leafNotAfter     = time.Date(2098, 1, 1, 0, 0, 0, 0, time.UTC)
	caNotAfter       = time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	oldCANotAfter    = time.Date(2097, 1, 1, 0, 0, 0, 0, time.UTC)
)

// fixtureNames are the PEM files under testdata/certs.
var fixtureNames = []string{
	"root", "intermediate", "leaf", "leaf-rsa", "ca-old", "ca-new", "negative-serial", "malformed-san",
}

// fixtures returns the fixture certificates by name, as PEM.
func fixtures(t *testing.T) map[string][]byte {
	t.Helper()
	if _, err := os.Stat(filepath.Join(certsDir, "root.pem")); errors.Is(err, os.ErrNotExist) && *update {
		writeFixtures(t)
	}
	out := map[string][]byte{}
	for _, name := range fixtureNames {
		data, err := os.ReadFile(filepath.Join(certsDir, name+".pem"))
		if err != nil {
			t.Fatalf("read fixture: %v (run 'go test ./internal/metrics -run TestGolden -update' to write it)", err)
		}
		out[name] = data
	}
	return out
}

func writeFixtures(t *testing.T) {
	t.Helper()
	opts := func(cn string, notAfter time.Time, isCA bool, index int, issuer *testcerts.Cert) testcerts.Options {
		return testcerts.Options{CommonName: cn, NotBefore: fixtureNotBefore, NotAfter: notAfter,
			IsCA: isCA, KeyKind: testcerts.ECDSAP256, KeyIndex: index, Issuer: issuer}
	}
	root := testcerts.New(t, opts("meshcert fixture root", caNotAfter, true, 0, nil))
	intermediate := testcerts.New(t, opts("meshcert fixture intermediate", caNotAfter, true, 1, root))
	leafOpts := opts("gateway.example.com", leafNotAfter, false, 2, intermediate)
	leafOpts.DNSNames = []string{"gateway.example.com", "*.gateway.example.com"}
	rsaOpts := opts("api.example.com", leafNotAfter, false, 0, intermediate)
	rsaOpts.KeyKind, rsaOpts.DNSNames = testcerts.RSA2048, []string{"api.example.com"}
	badSANOpts := opts("broken.example.com", leafNotAfter, false, 2, intermediate)
	badSANOpts.DNSNames = []string{"san.broken.example.com"}
	badSAN := testcerts.New(t, badSANOpts)
	negativeOpts := opts("negative.example.com", leafNotAfter, false, 2, intermediate)
	negativeOpts.DNSNames = []string{"negative.example.com"}

	certificates := map[string][]byte{
		"root":            root.X509.Raw,
		"intermediate":    intermediate.X509.Raw,
		"leaf":            testcerts.New(t, leafOpts).X509.Raw,
		"leaf-rsa":        testcerts.New(t, rsaOpts).X509.Raw,
		"ca-old":          testcerts.New(t, opts("meshcert fixture rotating CA", oldCANotAfter, true, 3, nil)).X509.Raw,
		"ca-new":          testcerts.New(t, opts("meshcert fixture rotating CA", caNotAfter, true, 4, nil)).X509.Raw,
		"negative-serial": testcerts.NegativeSerial(t, testcerts.New(t, negativeOpts)),
		"malformed-san":   testcerts.MalformedSAN(t, badSAN, "san.broken.example.com"),
	}
	if err := os.MkdirAll(certsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, der := range certificates {
		data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		if err := os.WriteFile(filepath.Join(certsDir, name+".pem"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// certDER returns the DER of a one-certificate fixture.
func certDER(t *testing.T, data []byte) []byte {
	t.Helper()
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatal("fixture has no PEM block")
	}
	return block.Bytes
}
