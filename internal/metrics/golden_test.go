package metrics

import (
	"bytes"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/meshcert/meshcert/internal/testcerts"
)

const goldenDir = "testdata/golden"

// goldenCase is one Secret and the scrape it must produce.
type goldenCase struct {
	name   string
	source string
	data   map[string][]byte
}

func goldenCases(t *testing.T) []goldenCase {
	t.Helper()
	f := fixtures(t)
	key := testcerts.EncodePKCS8(t, testcerts.Key(t, testcerts.ECDSAP256, 9))
	chain := join(f["leaf"], f["intermediate"])
	garbled := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0x03, 0x02, 0x01, 0x01}})
	crl := pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: []byte{0x30, 0x00}})

	return []goldenCase{
		{"chain", sourceSecret, map[string][]byte{"tls.crt": chain, "tls.key": key, "ca.crt": f["root"]}},
		{"chain-with-root", sourceSecret, map[string][]byte{"tls.crt": join(chain, f["root"]), "tls.key": key}},
		{"rsa", sourceSecret, map[string][]byte{"tls.crt": join(f["leaf-rsa"], f["intermediate"]), "tls.key": key}},
		{"duplicate", sourceSecret, map[string][]byte{"tls.crt": join(f["leaf"], f["leaf"], f["intermediate"]), "tls.key": key}},
		{"ca-rotation", sourceIstioSecret, map[string][]byte{"cacert": join(f["ca-old"], f["ca-new"])}},
		{"ca-only", sourceIstioSecret, map[string][]byte{"ca.crt": f["root"]}},
		{"istio", sourceIstioSecret, map[string][]byte{"cert": chain, "key": key, "cacert": f["root"]}},
		{"empty", sourceSecret, map[string][]byte{"tls.crt": {}, "tls.key": {}}},
		{"bad-block", sourceSecret, map[string][]byte{"tls.crt": join(f["leaf"], garbled, f["intermediate"]), "tls.key": key}},
		{"negative-serial", sourceSecret, map[string][]byte{"tls.crt": join(f["negative-serial"], f["intermediate"]), "tls.key": key}},
		{"malformed-san", sourceSecret, map[string][]byte{"tls.crt": join(f["malformed-san"], f["intermediate"]), "tls.key": key}},
		{"not-pem", sourceSecret, map[string][]byte{"tls.crt": []byte("not a certificate"), "tls.key": key}},
		{"der", sourceSecret, map[string][]byte{"tls.crt": certDER(t, f["leaf"]), "tls.key": key}},
		{"double-base64", sourceSecret, map[string][]byte{"tls.crt": []byte(base64.StdEncoding.EncodeToString(chain)), "tls.key": key}},
		{"escaped-newlines", sourceSecret, map[string][]byte{"tls.crt": bytes.ReplaceAll(chain, []byte("\n"), []byte(`\n`)), "tls.key": key}},
		{"leading-garbage", sourceSecret, map[string][]byte{"tls.crt": join([]byte("\xef\xbb\xbf"), chain), "tls.key": key}},
		{"unexpected-block", sourceSecret, map[string][]byte{"tls.crt": join(chain, crl), "tls.key": key}},
		{"key-only", sourceSecret, map[string][]byte{"tls.crt": key, "tls.key": key}},
	}
}

func join(parts ...[]byte) []byte {
	return bytes.Join(parts, nil)
}

// fakeSecret returns a Secret named after the case in namespace
// "gateways" (TLS) or "istio-system" (Istio layout).
func fakeSecret(c goldenCase) *corev1.Secret {
	// The exporter wipes the data it has read, so each Secret gets a copy.
	data := make(map[string][]byte, len(c.data))
	for key, value := range c.data {
		data[key] = bytes.Clone(value)
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: c.name, Namespace: "gateways", UID: types.UID("uid-" + c.name), ResourceVersion: "1"},
		Type:       corev1.SecretTypeTLS,
		Data:       data,
	}
	if c.source == sourceIstioSecret {
		secret.Namespace, secret.Type = "istio-system", corev1.SecretTypeOpaque
	}
	return secret
}

// testExporter is an Exporter whose sources are fed by the test, with a
// fixed clock and build.
type testExporter struct {
	*Exporter
	sources map[string]*secretSource
	files   *fileSource
}

var goldenTime = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

func newTestExporter(t testing.TB, paths ...string) *testExporter {
	t.Helper()
	e := &Exporter{state: NewState(), self: prometheus.NewRegistry(), logger: logr.Discard()}
	sources := []string{sourceSecret, sourceIstioSecret, sourceFile}
	build := BuildInfo{Version: "v0.1.0", Commit: "0123456789abcdef", GoVersion: "go1.26.8"}
	deps := sourceDeps{parser: newParser(), state: e.state, logger: logr.Discard(),
		self: newSelfMetrics(e.self, e.state, build, clocktesting.NewFakeClock(goldenTime), sources)}

	te := &testExporter{Exporter: e, sources: map[string]*secretSource{}}
	te.sources[sourceSecret] = &secretSource{source: sourceSecret, keys: tlsKeys, parser: deps.parser,
		state: deps.state, self: deps.self, logger: deps.logger}
	te.sources[sourceIstioSecret] = &secretSource{source: sourceIstioSecret, keys: istioKeys, parser: deps.parser,
		state: deps.state, self: deps.self, logger: deps.logger}
	if len(paths) > 0 {
		files, err := newFileSource(paths, time.Hour, deps)
		if err != nil {
			t.Fatal(err)
		}
		te.files = files
	}
	return te
}

// add passes secret through the transform and the add handler, as the
// informer does.
func (te *testExporter) add(source string, secret *corev1.Secret) {
	s := te.sources[source]
	s.apply(s.summarize(secret))
}

// scrape returns the text exposition of gatherer.
func scrape(t testing.TB, gatherer prometheus.Gatherer) []byte {
	t.Helper()
	families, err := gatherer.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var buf bytes.Buffer
	for _, family := range families {
		if _, err := expfmt.MetricFamilyToText(&buf, family); err != nil {
			t.Fatalf("encode %s: %v", family.GetName(), err)
		}
	}
	return buf.Bytes()
}

// certText returns the text exposition of the certificate families alone.
func certText(t testing.TB, state *State) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := state.writeText(&buf, nil); err != nil {
		t.Fatalf("write the exposition: %v", err)
	}
	return buf.Bytes()
}

// serve scrapes handler at /metrics, accepting encoding unless it is
// empty, and returns the body as sent.
func serve(t testing.TB, handler http.Handler, encoding string) []byte {
	t.Helper()
	recorder := httptest.NewRecorder()
	request := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if encoding != "" {
		request.Header.Set("Accept-Encoding", encoding)
	}
	handler.ServeHTTP(recorder, request)
	if recorder.Code != http.StatusOK {
		t.Fatalf("scrape status %d: %s", recorder.Code, recorder.Body)
	}
	if got := recorder.Header().Get("Content-Encoding"); got != encoding {
		t.Fatalf("Content-Encoding %q, want %q", got, encoding)
	}
	if got := recorder.Header().Get("Content-Type"); !strings.HasPrefix(got, "text/plain; version=0.0.4") {
		t.Fatalf("Content-Type %q, want the text format 0.0.4", got)
	}
	return recorder.Body.Bytes()
}

func TestGoldenSecrets(t *testing.T) {
	for _, c := range goldenCases(t) {
		t.Run(c.name, func(t *testing.T) {
			te := newTestExporter(t)
			te.add(c.source, fakeSecret(c))
			got := certText(t, te.state)
			compareGolden(t, filepath.Join(goldenDir, c.name+".prom"), got)
			checkNoKey(t, got, c.data["tls.key"])
		})
	}
}

// TestGoldenAll scrapes every case, the file source and the exporter's own
// metrics into one file that dashboards are checked against.
func TestGoldenAll(t *testing.T) {
	cases := goldenCases(t)
	writeFileFixtures(t, fixtures(t))
	te := newTestExporter(t, "testdata/files/*")
	for _, c := range cases {
		te.add(c.source, fakeSecret(c))
	}
	te.files.scan()
	for _, source := range []string{sourceSecret, sourceIstioSecret, sourceFile} {
		te.sources[sourceSecret].self.markSynced(source)
	}

	got := serve(t, te.Handler("/metrics"), "")
	checkNoKey(t, got, testcerts.EncodePKCS8(t, testcerts.Key(t, testcerts.ECDSAP256, 9)))
	path := filepath.Join(goldenDir, "all.prom")
	compareGolden(t, path, got)
	promtoolCheck(t, got)
}

// writeFileFixtures writes the files the file source reads in
// TestGoldenAll: a chain and a CA bundle, named as Kubernetes mounts them,
// and a certificate followed by its private key in one file.
func writeFileFixtures(t *testing.T, f map[string][]byte) {
	t.Helper()
	if !*update {
		return
	}
	key := testcerts.EncodePKCS8(t, testcerts.Key(t, testcerts.ECDSAP256, 9))
	files := map[string][]byte{
		"tls.crt":      join(f["leaf"], f["intermediate"]),
		"ca.crt":       f["root"],
		"combined.pem": join(f["leaf"], key),
	}
	if err := os.MkdirAll("testdata/files", 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join("testdata/files", name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file: %v (run with -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("scrape differs from %s (run with -update to accept):\n%s", path, lineDiff(string(want), string(got)))
	}
}

// lineDiff lists the lines only in want (-) and only in got (+).
func lineDiff(want, got string) string {
	inWant := map[string]bool{}
	for _, line := range strings.Split(want, "\n") {
		inWant[line] = true
	}
	inGot := map[string]bool{}
	var out strings.Builder
	for _, line := range strings.Split(got, "\n") {
		inGot[line] = true
		if !inWant[line] {
			out.WriteString("+ " + line + "\n")
		}
	}
	for _, line := range strings.Split(want, "\n") {
		if !inGot[line] {
			out.WriteString("- " + line + "\n")
		}
	}
	return out.String()
}

// checkNoKey fails when any line of the key's PEM body is in the scrape.
func checkNoKey(t *testing.T, scrape, key []byte) {
	t.Helper()
	for _, line := range bytes.Split(key, []byte("\n")) {
		if len(line) > 16 && !bytes.HasPrefix(line, []byte("-----")) && bytes.Contains(scrape, line) {
			t.Fatal("the scrape contains private key material")
		}
	}
}

// promtoolCheck runs 'promtool check metrics', Prometheus' linter of the
// exposition format and naming conventions, on a scrape.
func promtoolCheck(t *testing.T, scrape []byte) {
	t.Helper()
	promtool := os.Getenv("MESHCERT_PROMTOOL")
	if promtool == "" {
		t.Fatal("MESHCERT_PROMTOOL is not set: run the tests with 'make test', which builds promtool " +
			"and sets it, or eval \"$(hack/tools/env.sh)\" first")
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(scrape)
	if output, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, output)
	}
}
