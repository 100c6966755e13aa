package metrics

import (
	"bytes"
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/meshcert/meshcert/internal/testcerts"
	"github.com/meshcert/meshcert/internal/testenv"
)

const (
	benchSecrets       = 10_000
	benchNamespaces    = 100
	benchIntermediates = 10
	benchKeys          = 4
	benchWorkers       = 32
)

// BenchmarkTenThousandSecrets syncs an exporter with 10,000 TLS Secrets
// from a real API server. Each Secret has a unique leaf and one of ten
// intermediates, and every tenth also carries one shared CA bundle. The
// benchmark measures the heap the exporter keeps, counts private keys in
// a heap dump and times scrapes.
//
// State memory is the live heap (HeapInuse after two GCs) with the
// exporter synced minus the live heap just before it started, in the same
// process: the Secrets were created and their data dropped before the
// baseline, so the difference is the informer cache, the State and the
// shared facts.
func BenchmarkTenThousandSecrets(b *testing.B) {
	cluster := testenv.Start(b, testenv.Options{})
	keys, kubeconfig := createSecretsInChild(b, cluster)

	if copies := searchHeapDump(b, "before the exporter started", keys); copies != 0 {
		b.Fatalf("the benchmark itself holds %d copies of private keys", copies)
	}
	baseline := liveHeap()
	var peak atomic.Uint64
	stopSampling := sampleHeap(&peak)
	start := time.Now()
	exporter := startBenchExporter(b, cluster.Config)
	for !exporter.Ready() {
		time.Sleep(10 * time.Millisecond)
	}
	syncTime := time.Since(start)
	stopSampling()
	state := liveHeap() - baseline

	objects := exporter.state.count(sourceSecret)
	if objects != benchSecrets {
		b.Fatalf("synced %d Secrets, want %d", objects, benchSecrets)
	}
	keyCopies := searchHeapDump(b, "with the exporter synced", keys)

	b.Run("sync", func(b *testing.B) {
		b.ReportMetric(syncTime.Seconds(), "sync-s")
		b.ReportMetric(float64(state)/(1<<20), "state-MiB")
		b.ReportMetric(float64(state)/benchSecrets, "state-B/secret")
		b.ReportMetric(float64(peak.Load()-baseline)/(1<<20), "peak-MiB")
		b.ReportMetric(float64(keyCopies), "key-copies")
	})
	b.Run("write", func(b *testing.B) {
		for b.Loop() {
			if err := exporter.state.writeText(io.Discard, exporter.self); err != nil {
				b.Fatal(err)
			}
		}
	})
	handler := exporter.Handler("/metrics")
	b.Run("scrape", func(b *testing.B) {
		benchScrape(b, handler, "")
		b.ReportMetric(float64(bytes.Count(scrapeBody(handler, ""), []byte("\nmeshcert_"))), "series")
	})
	b.Run("scrape-gzip", func(b *testing.B) {
		// The first gzip scrape compresses the certificate series; the
		// timed ones reuse them, as scrapes do while nothing changes.
		scrapeBody(handler, "gzip")
		benchScrape(b, handler, "gzip")
	})
	// A change to one Secret before each scrape makes the scrape compress
	// the chunks that hold its series again, as the first scrape after an
	// update does.
	b.Run("scrape-gzip-changed", func(b *testing.B) {
		objects := exporter.state.snapshot()
		var changes int
		benchScrapeAfter(b, handler, "gzip", func() {
			exporter.state.set(objects[changes%len(objects)])
			changes++
		})
	})
	// Removing the first Secret, or adding it back, before each scrape
	// shifts every other Secret to another chunk, so the scrape compresses
	// all certificate series again: the worst case.
	b.Run("scrape-gzip-shifted", func(b *testing.B) {
		first := exporter.state.snapshot()[0]
		var changes int
		benchScrapeAfter(b, handler, "gzip", func() {
			if changes%2 == 0 {
				exporter.state.remove(first.id())
			} else {
				exporter.state.set(first)
			}
			changes++
		})
	})
	b.Run("binary", func(b *testing.B) {
		for b.Loop() {
		}
		syncTime, resident, peak := measureExporterBinary(b, kubeconfig)
		b.ReportMetric(syncTime.Seconds(), "sync-s")
		b.ReportMetric(float64(resident)/(1<<20), "rss-MiB")
		b.ReportMetric(float64(peak)/(1<<20), "peak-rss-MiB")
	})
}

// measureExporterBinary builds cmd/exporter, runs it against the cluster
// of kubeconfig until it is ready and has served one scrape, and returns
// the time to ready and its resident memory then and at its peak, read
// from /proc. It runs with the soft memory limit the chart sets.
func measureExporterBinary(b *testing.B, kubeconfig string) (time.Duration, uint64, uint64) {
	b.Helper()
	binary := filepath.Join(b.TempDir(), "exporter")
	if output, err := exec.Command("go", "build", "-o", binary, "github.com/meshcert/meshcert/cmd/exporter").CombinedOutput(); err != nil {
		b.Fatalf("build the exporter: %v\n%s", err, output)
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	address := listener.Addr().String()
	listener.Close()

	var logs bytes.Buffer
	cmd := exec.Command(binary, "--kubeconfig", kubeconfig, "--web.listen-address", address, "--log.level", "error")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.Env = append(os.Environ(), "GOMEMLIMIT="+chartGoMemLimit(b))
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatalf("start the exporter: %v", err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	deadline := start.Add(5 * time.Minute)
	for !httpOK("http://" + address + "/readyz") {
		if time.Now().After(deadline) {
			b.Fatalf("the exporter was not ready after 5 minutes:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	syncTime := time.Since(start)
	if !httpOK("http://" + address + "/metrics") {
		b.Fatalf("scrape of the exporter failed:\n%s", logs.String())
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))

	if err != nil {
		b.Fatal(err)
	}
	return syncTime, procStatusBytes(b, status, "VmRSS"), procStatusBytes(b, status, "VmHWM")
}

// chartGoMemLimit returns the chart's default exporter.goMemLimit, the
// GOMEMLIMIT of the exporter container.
func chartGoMemLimit(b *testing.B) string {
	b.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "charts", "meshcert", "values.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	var values struct {
		Exporter struct {
			GoMemLimit string `json:"goMemLimit"`
		} `json:"exporter"`
	}
	if err := yaml.Unmarshal(data, &values); err != nil {
		b.Fatalf("parse the chart's values: %v", err)
	}
	if values.Exporter.GoMemLimit == "" {
		b.Fatal("the chart sets no exporter.goMemLimit")
	}
	return values.Exporter.GoMemLimit
}

// httpOK reports whether a GET of url returns 200 OK, reading the body.
func httpOK(url string) bool {
	response, err := http.Get(url)
	if err != nil {
		return false
	}
	defer response.Body.Close()
	_, err = io.Copy(io.Discard, response.Body)
	return err == nil && response.StatusCode == http.StatusOK
}

// procStatusBytes returns a field of /proc/PID/status given in kB, such
// as "VmRSS:     51234 kB", in bytes.
func procStatusBytes(b *testing.B, status []byte, field string) uint64 {
	b.Helper()
	for line := range strings.Lines(string(status)) {
		name, value, ok := strings.Cut(line, ":")
		if !ok || name != field {
			continue
		}
		kilobytes, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			b.Fatalf("parse %s in /proc status: %v", field, err)
		}
		return kilobytes << 10
	}
	b.Fatalf("no %s in /proc status", field)
	return 0
}

// benchScrape times scrapes of handler that accept encoding (empty for
// none) and reports the size of the body as sent.
func benchScrape(b *testing.B, handler http.Handler, encoding string) {
	benchScrapeAfter(b, handler, encoding, nil)
}

// benchScrapeAfter is benchScrape with change, when not nil, called
// before each scrape outside the timer.
func benchScrapeAfter(b *testing.B, handler http.Handler, encoding string, change func()) {
	var size int
	for b.Loop() {
		if change != nil {
			b.StopTimer()
			change()
			b.StartTimer()
		}
		recorder := httptest.NewRecorder()
		request := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		if encoding != "" {
			request.Header.Set("Accept-Encoding", encoding)
		}
		handler.ServeHTTP(recorder, request)
		if recorder.Code != http.StatusOK {
			b.Fatalf("scrape status %d", recorder.Code)
		}
		if got := recorder.Header().Get("Content-Encoding"); got != encoding {
			b.Fatalf("Content-Encoding %q, want %q", got, encoding)
		}
		size = recorder.Body.Len()
	}
	b.ReportMetric(float64(size)/(1<<20), "body-MiB")
}

// scrapeBody scrapes handler, accepting encoding (empty for none), and
// returns the body as sent.
func scrapeBody(handler http.Handler, encoding string) []byte {
	recorder := httptest.NewRecorder()
	request := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if encoding != "" {
		request.Header.Set("Accept-Encoding", encoding)
	}
	handler.ServeHTTP(recorder, request)
	body, _ := io.ReadAll(recorder.Body)
	return body
}

// Environment of the child process that creates the benchmark's Secrets.
const (
	benchKubeconfigEnv = "MESHCERT_BENCH_KUBECONFIG"
	benchKeysEnv       = "MESHCERT_BENCH_KEYS"
)

// createSecretsInChild creates the Secrets from a child process running
// TestCreateBenchSecrets, so that no buffer of this process ever held the
// private keys and a heap dump of it shows only what the exporter keeps.
// It returns the keys as DER and as PEM, each with every bit inverted
// (see searchHeapDump), and the path of a kubeconfig for the cluster.
func createSecretsInChild(b *testing.B, cluster *testenv.Cluster) ([][]byte, string) {
	b.Helper()
	user, err := cluster.Env.AddUser(envtest.User{Name: "bench", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	kubeconfigPath, keysPath := filepath.Join(dir, "kubeconfig"), filepath.Join(dir, "keys.pem")
	if err := os.WriteFile(kubeconfigPath, kubeconfig, 0o600); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCreateBenchSecrets$", "-test.v")
	cmd.Env = append(os.Environ(), benchKubeconfigEnv+"="+kubeconfigPath, benchKeysEnv+"="+keysPath)
	if output, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("create Secrets in a child process: %v\n%s", err, output)
	}
	return readInvertedKeys(b, keysPath), kubeconfigPath
}

func readInvertedKeys(b *testing.B, path string) [][]byte {
	b.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	defer clear(data)
	var keys [][]byte
	for rest := data; ; {
		block, next := pem.Decode(rest)
		if block == nil {
			break
		}
		keys = append(keys, invert(block.Bytes), invert(rest[:len(rest)-len(next)]))
		clear(block.Bytes)
		rest = next
	}
	return keys
}

// TestCreateBenchSecrets is the child process of BenchmarkTenThousandSecrets;
// it does nothing unless the benchmark runs it.
func TestCreateBenchSecrets(t *testing.T) {
	kubeconfig := os.Getenv(benchKubeconfigEnv)
	if kubeconfig == "" {
		t.Skip("runs only as the child process of BenchmarkTenThousandSecrets")
	}
	config, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	config.QPS, config.Burst = 1000, 2000
	keys := createBenchSecrets(t, config)
	if err := os.WriteFile(os.Getenv(benchKeysEnv), keys, 0o600); err != nil {
		t.Fatal(err)
	}
}

// createBenchSecrets creates the Secrets concurrently and returns the
// private keys they carry, as PEM.
func createBenchSecrets(b testing.TB, config *rest.Config) []byte {
	b.Helper()
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for n := range benchNamespaces {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bench-%02d", n)}}
		if _, err := client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}

	root := testcerts.New(b, testcerts.Options{CommonName: "bench root", IsCA: true, KeyKind: testcerts.ECDSAP256, KeyIndex: 200})
	var intermediates []*testcerts.Cert
	for i := range benchIntermediates {
		intermediates = append(intermediates, testcerts.New(b, testcerts.Options{
			CommonName: fmt.Sprintf("bench intermediate %d", i), IsCA: true,
			KeyKind: testcerts.ECDSAP256, KeyIndex: 210 + i, Issuer: root,
		}))
	}
	var keys []byte
	for i := range benchKeys {
		keys = append(keys, testcerts.EncodePKCS8(b, testcerts.Key(b, testcerts.ECDSAP256, 300+i))...)
	}

	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, benchWorkers)
	for range benchWorkers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < benchSecrets; i = int(next.Add(1) - 1) {
				if err := createBenchSecret(ctx, b, client, i, intermediates, root); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return keys
}

func createBenchSecret(ctx context.Context, b testing.TB, client kubernetes.Interface, i int, intermediates []*testcerts.Cert, root *testcerts.Cert) error {
	intermediate := intermediates[i%benchIntermediates]
	name := fmt.Sprintf("gateway-%05d", i)
	leaf := testcerts.New(b, testcerts.Options{
		CommonName: name + ".example.com", DNSNames: []string{name + ".example.com"},
		KeyKind: testcerts.ECDSAP256, KeyIndex: 300 + i%benchKeys, Issuer: intermediate,
	})
	data := map[string][]byte{"tls.crt": join(leaf.CertPEM, intermediate.CertPEM), "tls.key": leaf.KeyPEM}
	if i%10 == 0 {
		data["ca.crt"] = root.CertPEM
	}
	namespace := fmt.Sprintf("bench-%02d", i%benchNamespaces)
	_, err := client.CoreV1().Secrets(namespace).Create(ctx, newSecret(namespace, name, corev1.SecretTypeTLS, data), metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create Secret %s/%s: %w", namespace, name, err)
	}
	return nil
}

func startBenchExporter(b *testing.B, config *rest.Config) *Exporter {
	b.Helper()
	exporter, err := New(Options{Config: config, Logger: logr.Discard()})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		exporter.Run(ctx)
	}()
	b.Cleanup(func() {
		cancel()
		<-done
	})
	return exporter
}

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var stats runtime.MemStats
	runtime.ReadMemStats(&stats)
	return stats.HeapInuse
}

// sampleHeap records the largest HeapInuse seen until the returned
// function is called.
func sampleHeap(peak *atomic.Uint64) func() {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		ticker := time.NewTicker(20 * time.Millisecond)
		defer ticker.Stop()
		for {
			var stats runtime.MemStats
			runtime.ReadMemStats(&stats)
			if stats.HeapInuse > peak.Load() {
				peak.Store(stats.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-ticker.C:
			}
		}
	}()
	return func() {
		close(stop)
		<-done
	}
}

// maxKeyCopies is how many copies of private keys the heap may hold once
// the exporter has synced: none. The watches carry metadata only, the
// reads wipe what they decode and close their connections, so no buffer
// is left that held a key.
const maxKeyCopies = 0

// searchHeapDump writes the heap with debug.WriteHeapDump and counts the
// copies of the private keys the Secrets carried, as DER or PEM. The keys
// are held here with every bit inverted, so that the needles are not in
// the heap themselves: the dump is inverted before the search.
func searchHeapDump(b *testing.B, when string, invertedKeys [][]byte) int {
	b.Helper()
	path := filepath.Join(b.TempDir(), "heap.dump")
	file, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	// Two collections empty the sync.Pools, whose buffers may still hold
	// request bodies.
	runtime.GC()
	runtime.GC()
	debug.WriteHeapDump(file.Fd())
	if err := file.Close(); err != nil {
		b.Fatal(err)
	}
	dump, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	inverted := invert(dump)
	copies := 0
	for _, key := range invertedKeys {
		copies += bytes.Count(inverted, key)
	}
	b.Logf("found %d copies of %d private keys in a %d MiB heap dump %s",
		copies, len(invertedKeys)/2, len(dump)>>20, when)
	if copies > maxKeyCopies {
		b.Errorf("the heap dump %s holds %d copies of private keys, want at most %d", when, copies, maxKeyCopies)
	}
	return copies
}

func invert(data []byte) []byte {
	out := make([]byte, len(data))
	for i, c := range data {
		out[i] = ^c
	}
	return out
}
