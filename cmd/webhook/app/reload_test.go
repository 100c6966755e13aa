package app_test

import (
	"crypto/sha256"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/meshcert/meshcert/cmd/webhook/app"
	"github.com/meshcert/meshcert/internal/testcerts"
	"github.com/meshcert/meshcert/internal/validate"
)

// testServingCertificateReload starts a second manager on its own
// certificate directory, replaces the certificate on disk and waits until
// the webhook server presents the new one, without a restart.
func testServingCertificateReload(t *testing.T, wc *webhookCluster) {
	certDir := t.TempDir()
	first := testcerts.New(t, testcerts.Options{CommonName: "first", DNSNames: []string{"localhost"}})
	second := testcerts.New(t, testcerts.Options{CommonName: "second", DNSNames: []string{"localhost"}, KeyIndex: 1})
	writeServingCert(t, certDir, first)

	host, portText, err := net.SplitHostPort(freeAddress(t))
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(portText)
	mgr, err := app.NewManager(wc.cluster.Config, app.Options{
		CertDir: certDir, WebhookHost: host, WebhookPort: port,
		MetricsBindAddress: "0", HealthProbeBindAddress: "0", Policy: validate.DefaultPolicy(),
	}, logr.Discard())
	if err != nil {
		t.Fatalf("create manager: %v", err)
	}
	startManager(t, mgr)

	address := net.JoinHostPort(host, portText)
	waitForTLS(t, address)
	if got := servedCertificate(t, address); got != sha256.Sum256(first.X509.Raw) {
		t.Fatal("server does not present the first certificate")
	}

	replaced := time.Now()
	writeServingCert(t, certDir, second)
	want := sha256.Sum256(second.X509.Raw)
	deadline := time.Now().Add(time.Minute)
	for servedCertificate(t, address) != want {
		if time.Now().After(deadline) {
			t.Fatal("server still presents the first certificate a minute after it was replaced")
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("new certificate served %s after the files were replaced", time.Since(replaced).Round(time.Millisecond))
}

// writeServingCert writes cert as tls.key, then tls.crt, each replaced
// by a rename so that the server never reads half a file.
func writeServingCert(t *testing.T, dir string, cert *testcerts.Cert) {
	t.Helper()
	files := []struct {
		name string
		data []byte
	}{{"tls.key", cert.KeyPEM}, {"tls.crt", cert.CertPEM}}
	for _, file := range files {
		name, data := file.name, file.data
		temporary := filepath.Join(dir, "."+name+".tmp")
		if err := os.WriteFile(temporary, data, 0o600); err != nil {
			t.Fatalf("write %s: %v", name, err)
		}
		if err := os.Rename(temporary, filepath.Join(dir, name)); err != nil {
			t.Fatalf("replace %s: %v", name, err)
		}
	}
}

func servedCertificate(t *testing.T, address string) [32]byte {
	t.Helper()
	conn, err := tls.Dial("tcp", address, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("dial %s: %v", address, err)
	}
	defer conn.Close()
	return sha256.Sum256(conn.ConnectionState().PeerCertificates[0].Raw)
}
