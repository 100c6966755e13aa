package dashboards

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
)

// TestDashboardQueriesOnExporterOutput runs the real exporter binary on
// certificate files that expire at chosen times around fixtureTime. Every
// panel that reads only exporter metrics is evaluated on that scrape
// alone, which proves it shows data the exporter really produces.
func TestDashboardQueriesOnExporterOutput(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the exporter")
	}
	certDir := t.TempDir()
	for name, notAfter := range map[string]time.Time{
		"expired.pem":     fixtureTime.Add(-24 * time.Hour),
		"three-days.pem":  fixtureTime.Add(3 * 24 * time.Hour),
		"twenty-days.pem": fixtureTime.Add(20 * 24 * time.Hour),
		"next-year.pem":   fixtureTime.Add(365 * 24 * time.Hour),
	} {
		writeCertificate(t, filepath.Join(certDir, name), notAfter)
	}
	if err := os.WriteFile(filepath.Join(certDir, "broken.pem"), []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}

	scrapePath := filepath.Join(t.TempDir(), "scrape.prom")
	if err := os.WriteFile(scrapePath, scrapeExporter(t, filepath.Join(certDir, "*.pem")), 0o600); err != nil {
		t.Fatal(err)
	}
	db := loadScrape(t, scrapePath)
	promqlParser := parser.NewParser(parser.Options{})
	engine := promql.NewEngine(promql.EngineOpts{
		Parser: promqlParser, MaxSamples: 1_000_000, Timeout: time.Minute, LookbackDelta: 5 * time.Minute,
	})

	checked := 0
	for _, p := range queryPanels(loadDashboard(t).Panels) {
		for _, tg := range p.Targets {
			expr := zeroFallback.ReplaceAllString(variableValues.Replace(tg.Expr), "")
			if !readsOnlyExporterMetrics(t, promqlParser, expr) {
				continue
			}
			checked++
			t.Run(p.Title+"/"+tg.RefID, func(t *testing.T) {
				if n := evaluate(t, engine, db, expr, tg.Instant); n == 0 {
					t.Errorf("query returned no series on the exporter's scrape: %s", expr)
				}
			})
		}
	}
	if checked == 0 {
		t.Fatal("no panel reads exporter metrics only")
	}
}

func readsOnlyExporterMetrics(t *testing.T, p parser.Parser, expr string) bool {
	t.Helper()
	parsed, err := p.ParseExpr(expr)
	if err != nil {
		t.Fatalf("parse %s: %v", expr, err)
	}
	only, found := true, false
	parser.Inspect(parsed, func(node parser.Node, _ []parser.Node) error {
		if selector, ok := node.(*parser.VectorSelector); ok {
			found = true
			only = only && exporterMetric.MatchString(selector.Name)
		}
		return nil
	})
	return found && only
}

// scrapeExporter builds cmd/exporter, runs it on the files that glob
// matches and returns one scrape of its /metrics.
func scrapeExporter(t *testing.T, glob string) []byte {
	t.Helper()
	binary := filepath.Join(t.TempDir(), "exporter")
	build := exec.Command("go", "build", "-o", binary, "./cmd/exporter")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build exporter: %v\n%s", err, out)
	}

	address := freeAddress(t)
	exporter := exec.Command(binary, "--path="+glob, "--web.listen-address="+address, "--log.format=text")
	exporter.Stdout, exporter.Stderr = io.Discard, io.Discard
	if err := exporter.Start(); err != nil {
		t.Fatalf("start exporter: %v", err)
	}
	t.Cleanup(func() {
		_ = exporter.Process.Signal(syscall.SIGTERM)
		_ = exporter.Wait()
	})

	deadline := time.Now().Add(time.Minute)
	for {
		body, err := get("http://" + address + "/metrics")
		if err == nil && strings.Contains(string(body), "meshcert_secret_error{") {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("exporter at %s never published its scrape: %v", address, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func get(url string) ([]byte, error) {
	response, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer response.Body.Close()
	if response.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, response.Status)
	}
	return io.ReadAll(response.Body)
}

func freeAddress(t *testing.T) string {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer listener.Close()
	return listener.Addr().String()
}

// writeCertificate writes a self-signed server certificate that expires at
// notAfter, without its key.
func writeCertificate(t *testing.T, path string, notAfter time.Time) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber: big.NewInt(notAfter.Unix()),
		Subject:      pkix.Name{CommonName: filepath.Base(path)},
		DNSNames:     []string{"example.com"},
		NotBefore:    notAfter.Add(-90 * 24 * time.Hour),
		NotAfter:     notAfter,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
