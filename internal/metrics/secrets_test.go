package metrics

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientfeatures "k8s.io/client-go/features"
	clientfeaturestesting "k8s.io/client-go/features/testing"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/meshcert/meshcert/internal/testcerts"
	"github.com/meshcert/meshcert/internal/testenv"
)

const notAfterFamily = "meshcert_certificate_not_after_timestamp_seconds"

// startExporter runs an exporter against config until the test ends.
func startExporter(t *testing.T, config *rest.Config, opts Options) *Exporter {
	t.Helper()
	opts.Config = config
	opts.Logger = testr.NewWithOptions(t, testr.Options{Verbosity: 0})
	exporter, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		exporter.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return exporter
}

func createNamespaces(t *testing.T, client kubernetes.Interface, names ...string) {
	t.Helper()
	for _, name := range names {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if _, err := client.CoreV1().Namespaces().Create(testenv.Context(t), ns, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create namespace %s: %v", name, err)
		}
	}
}

func newSecret(namespace, name string, secretType corev1.SecretType, data map[string][]byte) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Type:       secretType,
		Data:       data,
	}
}

// fingerprints returns the fingerprints of the not-after series of one
// Secret key, in index order.
func fingerprints(t *testing.T, e *Exporter, namespace, name, key string) []string {
	t.Helper()
	found := samples(t, e.Gatherer(), notAfterFamily, map[string]string{"namespace": namespace, "secret": name, "key": key})
	out := make([]string, len(found))
	for _, s := range found {
		index := int(s.labels["index"][0] - '0')
		if index < len(out) {
			out[index] = s.labels["fingerprint"]
		}
	}
	return out
}

func equalStrings(a, b []string) bool {
	return strings.Join(a, ",") == strings.Join(b, ",")
}

func TestSecretsLifecycle(t *testing.T) {
	cluster := testenv.Start(t, testenv.Options{})
	client := kubernetes.NewForConfigOrDie(cluster.Config)
	createNamespaces(t, client, "gateways", "excluded", "istio-system")
	ctx := testenv.Context(t)

	exporter := startExporter(t, cluster.Config, Options{
		IstioSecrets: true,
		// A short resync replays the cache to the handlers while the test
		// runs, which must not drop or duplicate series.
		Secrets: SecretOptions{NamespaceExclude: []string{"excluded"}, ResyncPeriod: time.Second},
	})
	handler := exporter.Handler("/metrics")
	eventually(t, "exporter ready", func() bool { return status(handler, "/readyz") == http.StatusOK })

	first := testcerts.NewChain(t, 3, testcerts.Options{KeyKind: testcerts.ECDSAP256})
	second := testcerts.NewChain(t, 2, testcerts.Options{KeyKind: testcerts.ECDSAP256})
	secrets := client.CoreV1().Secrets("gateways")
	tlsData := map[string][]byte{"tls.crt": first.CertPEM(), "tls.key": first.Leaf.KeyPEM}

	if _, err := client.CoreV1().Secrets("excluded").Create(ctx, newSecret("excluded", "skipped", corev1.SecretTypeTLS, tlsData), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := secrets.Create(ctx, newSecret("gateways", "web", corev1.SecretTypeTLS, tlsData), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	want := []string{fp(first.Leaf), fp(first.Intermediates[0])}
	eventually(t, "created Secret exported", func() bool {
		return equalStrings(fingerprints(t, exporter, "gateways", "web", "tls.crt"), want)
	})
	if got := samples(t, exporter.Gatherer(), notAfterFamily, map[string]string{"namespace": "excluded"}); len(got) != 0 {
		t.Errorf("excluded namespace exported %d series", len(got))
	}

	updated := newSecret("gateways", "web", corev1.SecretTypeTLS, map[string][]byte{"tls.crt": second.CertPEM(), "tls.key": second.Leaf.KeyPEM})
	if _, err := secrets.Update(ctx, updated, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "updated Secret exported", func() bool {
		return equalStrings(fingerprints(t, exporter, "gateways", "web", "tls.crt"), []string{fp(second.Leaf)})
	})

	bundle := newSecret("istio-system", "gateway-cacert", corev1.SecretTypeOpaque, map[string][]byte{"ca.crt": first.Root.CertPEM})
	if _, err := client.CoreV1().Secrets("istio-system").Create(ctx, bundle, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "Istio CA Secret exported", func() bool {
		return equalStrings(fingerprints(t, exporter, "istio-system", "gateway-cacert", "ca.crt"), []string{fp(first.Root)})
	})

	if err := secrets.Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "deleted Secret's series removed", func() bool {
		return len(samples(t, exporter.Gatherer(), notAfterFamily, map[string]string{"secret": "web"})) == 0
	})
	watched := samples(t, exporter.Gatherer(), "meshcert_exporter_watched_objects", map[string]string{"source": sourceIstioSecret})
	if len(watched) != 1 || watched[0].value != 1 {
		t.Errorf("watched Istio Secrets = %v, want one series of value 1", watched)
	}
}

// TestSecretsSurviveBrokenWatch cuts the exporter's connections to the API
// server, changes Secrets while it cannot see them, and reconnects: the
// scrape must then show exactly the Secrets that exist.
func TestSecretsSurviveBrokenWatch(t *testing.T) {
	cluster := testenv.Start(t, testenv.Options{})
	client := kubernetes.NewForConfigOrDie(cluster.Config)
	createNamespaces(t, client, "gateways")
	ctx := testenv.Context(t)

	apiServer, err := url.Parse(cluster.Config.Host)
	if err != nil {
		t.Fatal(err)
	}
	proxy := startProxy(t, apiServer.Host)
	proxied := rest.CopyConfig(cluster.Config)
	proxied.Host = "https://" + proxy.addr()
	exporter := startExporter(t, proxied, Options{})

	chain := testcerts.NewChain(t, 2, testcerts.Options{KeyKind: testcerts.ECDSAP256})
	data := map[string][]byte{"tls.crt": chain.CertPEM(), "tls.key": chain.Leaf.KeyPEM}
	secrets := client.CoreV1().Secrets("gateways")
	for _, name := range []string{"kept", "deleted", "updated"} {
		if _, err := secrets.Create(ctx, newSecret("gateways", name, corev1.SecretTypeTLS, data), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "three Secrets exported", func() bool {
		return len(samples(t, exporter.Gatherer(), notAfterFamily, nil)) == 3
	})

	proxy.setDown(true)
	other := testcerts.NewChain(t, 2, testcerts.Options{KeyKind: testcerts.ECDSAP256})
	if err := secrets.Delete(ctx, "deleted", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := secrets.Update(ctx, newSecret("gateways", "updated", corev1.SecretTypeTLS,
		map[string][]byte{"tls.crt": other.CertPEM(), "tls.key": other.Leaf.KeyPEM}), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := secrets.Create(ctx, newSecret("gateways", "created", corev1.SecretTypeTLS, data), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "failed reconnection counted", func() bool {
		restarts := samples(t, exporter.Gatherer(), "meshcert_exporter_watch_restarts_total", nil)
		return len(restarts) == 1 && restarts[0].value > 0
	})
	proxy.setDown(false)

	eventually(t, "Secrets changed during the outage exported", func() bool {
		return equalStrings(fingerprints(t, exporter, "gateways", "updated", "tls.crt"), []string{fp(other.Leaf)}) &&
			len(samples(t, exporter.Gatherer(), notAfterFamily, map[string]string{"secret": "created"})) == 1 &&
			len(samples(t, exporter.Gatherer(), notAfterFamily, map[string]string{"secret": "deleted"})) == 0
	})
	all := samples(t, exporter.Gatherer(), notAfterFamily, nil)
	if len(all) != 3 {
		t.Errorf("not-after series = %d, want 3 (kept, updated, created)", len(all))
	}
}

func fp(cert *testcerts.Cert) string {
	return shortFingerprint(sha256Sum(cert.X509.Raw))
}

func status(handler http.Handler, path string) int {
	recorder := httptest.NewRecorder()
	handler.ServeHTTP(recorder, httptest.NewRequest(http.MethodGet, path, nil))
	return recorder.Code
}

func TestSecretsNamespaceAndLabelSelection(t *testing.T) {
	cluster := testenv.Start(t, testenv.Options{})
	client := kubernetes.NewForConfigOrDie(cluster.Config)
	createNamespaces(t, client, "team-a", "team-b", "team-c")
	ctx := testenv.Context(t)

	exporter := startExporter(t, cluster.Config, Options{
		Secrets: SecretOptions{NamespaceInclude: []string{"team-a", "team-b"}, LabelSelector: "tier=edge"},
	})
	chain := testcerts.NewChain(t, 2, testcerts.Options{KeyKind: testcerts.ECDSAP256})
	data := map[string][]byte{"tls.crt": chain.CertPEM(), "tls.key": chain.Leaf.KeyPEM}
	create := func(namespace, name string, labels map[string]string) {
		secret := newSecret(namespace, name, corev1.SecretTypeTLS, data)
		secret.Labels = labels
		if _, err := client.CoreV1().Secrets(namespace).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	edge := map[string]string{"tier": "edge"}
	create("team-c", "other-namespace", edge)
	create("team-a", "unlabelled", nil)
	create("team-a", "selected", edge)
	create("team-b", "selected", edge)

	eventually(t, "selected Secrets in both namespaces exported", func() bool {
		return len(samples(t, exporter.Gatherer(), notAfterFamily, map[string]string{"secret": "selected"})) == 2
	})
	if got := len(samples(t, exporter.Gatherer(), notAfterFamily, nil)); got != 2 {
		t.Errorf("not-after series = %d, want 2 (only the labelled Secrets of team-a and team-b)", got)
	}
}

// listRecorder records the list requests for Secrets that pass through a
// client's transport, split into metadata lists (the watches' initial
// lists) and data lists (the reads).
type listRecorder struct {
	mu             sync.Mutex
	metadata, data []url.Values
}

func (r *listRecorder) wrap(next http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(request *http.Request) (*http.Response, error) {
		query := request.URL.Query()
		if request.Method == http.MethodGet && strings.HasSuffix(request.URL.Path, "/secrets") && query.Get("watch") != "true" {
			r.mu.Lock()
			if strings.Contains(request.Header.Get("Accept"), "as=PartialObjectMetadata") {
				r.metadata = append(r.metadata, query)
			} else {
				r.data = append(r.data, query)
			}
			r.mu.Unlock()
		}
		return next.RoundTrip(request)
	})
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(request *http.Request) (*http.Response, error) { return f(request) }

// checkPaged fails the test unless lists, the list requests of one
// client, are pages of listPageSize Secrets that follow one another
// through continue tokens.
func checkPaged(t *testing.T, client string, lists []url.Values, wantPages int) {
	t.Helper()
	continued := 0
	for _, query := range lists {
		if query.Get("limit") != strconv.Itoa(listPageSize) {
			t.Errorf("%s list with limit %q, want %d", client, query.Get("limit"), listPageSize)
		}
		if query.Get("continue") != "" {
			continued++
		}
	}
	if continued < wantPages-1 {
		t.Errorf("%s lists: %d with a continue token among %d, want at least %d", client, continued, len(lists), wantPages-1)
	}
}

// The exporter reads the data of many Secrets with a paged list, and
// lists their metadata in pages too when the API server or client does
// not stream the initial state through the watch.
func TestSecretsInitialListIsPaged(t *testing.T) {
	cluster := testenv.Start(t, testenv.Options{})
	client := kubernetes.NewForConfigOrDie(cluster.Config)
	createNamespaces(t, client, "gateways")
	ctx := testenv.Context(t)
	chain := testcerts.NewChain(t, 2, testcerts.Options{KeyKind: testcerts.ECDSAP256})
	data := map[string][]byte{"tls.crt": chain.CertPEM(), "tls.key": chain.Leaf.KeyPEM}
	const count = 2*listPageSize + 100
	for i := range count {
		secret := newSecret("gateways", fmt.Sprintf("secret-%04d", i), corev1.SecretTypeTLS, data)
		if _, err := client.CoreV1().Secrets("gateways").Create(ctx, secret, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	wantPages := count/listPageSize + 1

	for _, watchList := range []bool{true, false} {
		t.Run(fmt.Sprintf("WatchListClient=%t", watchList), func(t *testing.T) {
			clientfeaturestesting.SetFeatureDuringTest(t, clientfeatures.WatchListClient, watchList)
			recorder := &listRecorder{}
			config := rest.CopyConfig(cluster.Config)
			config.Wrap(recorder.wrap)
			exporter := startExporter(t, config, Options{})
			eventually(t, "exporter synced", exporter.Ready)

			if got := exporter.state.count(sourceSecret); got != count {
				t.Errorf("exporter holds %d Secrets, want %d", got, count)
			}
			recorder.mu.Lock()
			checkPaged(t, "data", recorder.data, wantPages)
			if !watchList {
				checkPaged(t, "metadata", recorder.metadata, wantPages)
			}
			recorder.data = nil
			recorder.mu.Unlock()

			// Changes after the sync are read Secret by Secret, not with
			// another list of every Secret.
			const changed = readOneByOne + 10
			for i := range changed {
				name := fmt.Sprintf("secret-%04d", i)
				secret, err := client.CoreV1().Secrets("gateways").Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				secret.Labels = map[string]string{"changed": strconv.FormatBool(watchList)}
				if _, err := client.CoreV1().Secrets("gateways").Update(ctx, secret, metav1.UpdateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			eventually(t, "changed Secrets read", func() bool {
				recorder.mu.Lock()
				defer recorder.mu.Unlock()
				return len(recorder.data) >= changed
			})
			recorder.mu.Lock()
			defer recorder.mu.Unlock()
			for _, query := range recorder.data {
				if !strings.Contains(query.Get("fieldSelector"), "metadata.name=") {
					t.Errorf("%d changes among %d Secrets were read with a list of them all: %v", changed, count, query)
				}
			}
		})
	}
}
