package cli

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/meshcert/meshcert/internal/testcerts"
)

var (
	update        = flag.Bool("update", false, "rewrite the golden files in testdata/golden")
	writeFixtures = flag.Bool("write-fixtures", false, "rewrite the certificates and keys in testdata/fixtures")
)

// goldenNow is the time every golden test evaluates certificates at, so
// that days left never change.
const goldenNow = "2026-12-04T00:00:00Z"

// fixedNow is goldenNow as a time.
var fixedNow, _ = time.Parse(time.RFC3339, goldenNow)

var fixtureDates = struct{ start, end, expiring, expired time.Time }{
	start:    time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
	end:      time.Date(2099, 12, 31, 0, 0, 0, 0, time.UTC),
	expiring: time.Date(2026, 12, 20, 0, 0, 0, 0, time.UTC),
	expired:  time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC),
}

// TestWriteFixtures writes the certificates the golden tests read, once:
// their serials, keys and fingerprints then stay the same. Run it with
// 'go test ./internal/cli -run TestWriteFixtures -write-fixtures' and
// regenerate the goldens with -update afterwards.
func TestWriteFixtures(t *testing.T) {
	if !*writeFixtures {
		t.Skip("run with -write-fixtures to rewrite testdata/fixtures")
	}
	d := fixtureDates
	root := testcerts.New(t, testcerts.Options{CommonName: "Example Root CA", IsCA: true,
		KeyKind: testcerts.ECDSAP384, KeyIndex: 1, NotBefore: d.start, NotAfter: d.end})
	intermediate := testcerts.New(t, testcerts.Options{CommonName: "Example Intermediate CA", IsCA: true,
		KeyKind: testcerts.ECDSAP256, KeyIndex: 2, Issuer: root, NotBefore: d.start, NotAfter: d.end})
	leaf := func(name string, kind testcerts.KeyKind, index int, notAfter time.Time) *testcerts.Cert {
		return testcerts.New(t, testcerts.Options{CommonName: name, DNSNames: []string{name, "www." + name},
			KeyKind: kind, KeyIndex: index, Issuer: intermediate, NotBefore: d.start, NotAfter: notAfter})
	}
	web := leaf("web.example.com", testcerts.ECDSAP256, 3, d.end)
	expiring := leaf("shop.example.com", testcerts.RSA2048, 4, d.expiring)
	expired := leaf("old.example.com", testcerts.ECDSAP256, 5, d.expired)
	other := testcerts.Key(t, testcerts.ECDSAP256, 6)

	files := map[string][]byte{
		"root.crt":         root.CertPEM,
		"intermediate.crt": intermediate.CertPEM,
		"web.crt":          web.CertPEM,
		"web.key":          web.KeyPEM,
		"expiring.crt":     expiring.CertPEM,
		"expiring.key":     expiring.KeyPEM,
		"expired.crt":      expired.CertPEM,
		"expired.key":      expired.KeyPEM,
		"other.key":        testcerts.EncodePKCS8(t, other),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join("testdata", "fixtures", name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// fixture returns the content of a file of testdata/fixtures.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(fixturePath(name))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	return data
}

func fixturePath(name string) string {
	return filepath.Join("testdata", "fixtures", name)
}

// fixtureChain returns the concatenation of fixtures, as a chain value.
func fixtureChain(t testing.TB, names ...string) []byte {
	t.Helper()
	var out []byte
	for _, name := range names {
		out = append(out, fixture(t, name)...)
	}
	return out
}

// checkGolden compares got with testdata/golden/name, or rewrites the
// file under -update.
func checkGolden(t *testing.T, name string, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
