package app_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/meshcert/meshcert/cmd/webhook/app"
	"github.com/meshcert/meshcert/internal/testcerts"
	"github.com/meshcert/meshcert/internal/testenv"
	"github.com/meshcert/meshcert/internal/validate"
	"github.com/meshcert/meshcert/internal/wellknown"
)

const webhooksManifest = "../../../config/webhook/webhooks.yaml"

// warningRecorder collects the admission warnings of API responses.
type warningRecorder struct {
	mu       sync.Mutex
	warnings []string
}

func (r *warningRecorder) HandleWarningHeader(_ int, _ string, text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.warnings = append(r.warnings, text)
}

func (r *warningRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	taken := r.warnings
	r.warnings = nil
	return taken
}

// webhookCluster is an API server that calls the webhook served in
// process by the binary's own manager.
type webhookCluster struct {
	cluster *testenv.Cluster
	// probeAddress and metricsAddress serve /healthz, /readyz and /metrics.
	probeAddress   string
	metricsAddress string
	clientset      *kubernetes.Clientset
	warnings       *warningRecorder
}

func startWebhookCluster(tb testing.TB) *webhookCluster {
	tb.Helper()
	cluster := testenv.Start(tb, testenv.Options{
		Webhook: &envtest.WebhookInstallOptions{Paths: []string{webhooksManifest}},
	})
	install := cluster.Env.WebhookInstallOptions
	opts := app.Options{
		CertDir:                install.LocalServingCertDir,
		WebhookHost:            install.LocalServingHost,
		WebhookPort:            install.LocalServingPort,
		MetricsBindAddress:     freeAddress(tb),
		HealthProbeBindAddress: freeAddress(tb),
		Policy:                 validate.DefaultPolicy(),
	}
	ctrl.SetLogger(logr.Discard())
	mgr, err := app.NewManager(cluster.Config, opts, logr.Discard())
	if err != nil {
		tb.Fatalf("create manager: %v", err)
	}
	startManager(tb, mgr)
	waitForTLS(tb, net.JoinHostPort(install.LocalServingHost, strconv.Itoa(install.LocalServingPort)))

	recorder := &warningRecorder{}
	config := rest.CopyConfig(cluster.Config)
	config.WarningHandler = recorder
	clientset, err := kubernetes.NewForConfig(config)
	if err != nil {
		tb.Fatalf("create clientset: %v", err)
	}
	wc := &webhookCluster{cluster: cluster, clientset: clientset, warnings: recorder,
		probeAddress: opts.HealthProbeBindAddress, metricsAddress: opts.MetricsBindAddress}
	wc.waitForWebhook(tb)
	return wc
}

// startManager runs mgr, a manager or a server, until the test ends, and
// fails the test when it returns an error.
func startManager(tb testing.TB, mgr manager.Runnable) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("%T: %v", mgr, err)
		}
	})
}

// freeAddress returns a loopback address with a port that was free a
// moment ago.
func freeAddress(tb testing.TB) string {
	tb.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("find a free port: %v", err)
	}
	defer listener.Close()
	return listener.Addr().String()
}

// waitForTLS waits until the webhook server accepts TLS connections.
func waitForTLS(tb testing.TB, address string) {
	tb.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		conn, err := tls.Dial("tcp", address, &tls.Config{InsecureSkipVerify: true})
		if err == nil {
			_ = conn.Close()
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("webhook server at %s did not start: %v", address, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitForWebhook waits until the API server calls the webhook: with
// failurePolicy Ignore, writes pass unchecked until it has loaded the
// configuration and reached the server.
func (wc *webhookCluster) waitForWebhook(tb testing.TB) {
	tb.Helper()
	ctx := testenv.Context(tb)
	probe := tlsSecret("default", "readiness-probe", []byte("not pem"), []byte("not pem"))
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := wc.clientset.CoreV1().Secrets("default").Create(ctx, probe,
			metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if apierrors.IsForbidden(err) || apierrors.IsInvalid(err) {
			wc.warnings.take()
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("API server never called the webhook: last create returned %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func tlsSecret(namespace, name string, certPEM, keyPEM []byte) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM},
	}
}

func namespaceObject(name string, labels map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

func createNamespace(t *testing.T, wc *webhookCluster, name string, labels map[string]string) {
	t.Helper()
	namespace := namespaceObject(name, labels)
	if _, err := wc.clientset.CoreV1().Namespaces().Create(testenv.Context(t), namespace, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
}

// TestSecretWebhooks runs every case against one API server, because
// starting one takes several seconds.
func TestSecretWebhooks(t *testing.T) {
	wc := startWebhookCluster(t)
	t.Run("admission", func(t *testing.T) { testSecretAdmission(t, wc) })
	t.Run("annotations", func(t *testing.T) { testSecretAnnotations(t, wc) })
	t.Run("metadata update of expired", func(t *testing.T) { testMetadataUpdateOfExpired(t, wc) })
	t.Run("excluded secrets", func(t *testing.T) { testExcludedSecrets(t, wc) })
	t.Run("probes and metrics", func(t *testing.T) { testProbesAndMetrics(t, wc) })
	t.Run("serving certificate reload", func(t *testing.T) { testServingCertificateReload(t, wc) })
}

func testProbesAndMetrics(t *testing.T, wc *webhookCluster) {
	for _, path := range []string{"/healthz", "/readyz"} {
		if body := get(t, "http://"+wc.probeAddress+path); body != "ok" {
			t.Errorf("%s = %q, want ok", path, body)
		}
	}
	metrics := get(t, "http://"+wc.metricsAddress+"/metrics")
	for _, want := range []string{
		`meshcert_webhook_requests_total{operation="UPDATE",result="error",webhook="validate-secret"}`,
		`meshcert_webhook_requests_total{operation="DELETE",result="denied",webhook="validate-secret"}`,
		`meshcert_webhook_findings_total{action="deny",rule="key-mismatch",webhook="validate-secret"}`,
		`meshcert_webhook_findings_total{action="deny",rule="secret-in-use",webhook="validate-secret"}`,
		`meshcert_webhook_findings_total{action="warn",rule="delete-in-use",webhook="validate-secret"}`,
		`meshcert_webhook_request_duration_seconds_bucket{webhook="mutate-secret",le="0.001"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	response, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer response.Body.Close()
	body, err := io.ReadAll(response.Body)
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	if response.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", url, response.StatusCode, body)
	}
	return string(body)
}

func testSecretAdmission(t *testing.T, wc *webhookCluster) {
	createNamespace(t, wc, "gateways", nil)
	ctx := testenv.Context(t)
	secrets := wc.clientset.CoreV1().Secrets("gateways")

	valid := testcerts.NewChain(t, 3, testcerts.Options{KeyKind: testcerts.ECDSAP256})
	soon := testcerts.New(t, testcerts.Options{KeyKind: testcerts.ECDSAP256, NotAfter: time.Now().Add(5 * 24 * time.Hour)})
	other := testcerts.New(t, testcerts.Options{KeyKind: testcerts.ECDSAP256, KeyIndex: 1})

	tests := []struct {
		name        string
		secret      *corev1.Secret
		dryRun      bool
		wantDenied  []string
		wantWarning string
	}{
		{name: "valid chain", secret: tlsSecret("gateways", "valid", valid.CertPEM(), valid.Leaf.KeyPEM)},
		{name: "expiring soon", secret: tlsSecret("gateways", "soon", soon.CertPEM, soon.KeyPEM),
			wantWarning: "[expiring-soon]"},
		{name: "der certificate", secret: tlsSecret("gateways", "der", valid.Leaf.X509.Raw, valid.Leaf.KeyPEM),
			wantDenied: []string{"Secret gateways/der key tls.crt", "binary DER", "[der]"}},
		{name: "key mismatch", secret: tlsSecret("gateways", "mismatch", valid.CertPEM(), other.KeyPEM),
			wantDenied: []string{"key tls.key", "[key-mismatch]"}},
		{name: "key mismatch dry run", secret: tlsSecret("gateways", "mismatch-dry", valid.CertPEM(), other.KeyPEM),
			dryRun: true, wantDenied: []string{"[key-mismatch]"}},
		{name: "two problems", secret: tlsSecret("gateways", "two", valid.Leaf.X509.Raw, []byte("oops")),
			wantDenied: []string{"has 2 problems", "[der]", "[not-pem]"}},
		{name: "generic layout", secret: generic(tlsSecret("gateways", "generic", valid.CertPEM(), other.KeyPEM)),
			wantDenied: []string{"key key:", "[key-mismatch]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			options := metav1.CreateOptions{}
			if tt.dryRun {
				options.DryRun = []string{metav1.DryRunAll}
			}
			_, err := secrets.Create(ctx, tt.secret, options)
			warnings := wc.warnings.take()
			if len(tt.wantDenied) > 0 {
				if !apierrors.IsForbidden(err) {
					t.Fatalf("create error = %v, want forbidden", err)
				}
				for _, want := range tt.wantDenied {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("denial %q lacks %q", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			if tt.wantWarning == "" && len(warnings) > 0 {
				t.Errorf("warnings = %q, want none", warnings)
			}
			if tt.wantWarning != "" && !containsAny(warnings, tt.wantWarning) {
				t.Errorf("warnings = %q, want one with %q", warnings, tt.wantWarning)
			}
			for _, warning := range warnings {
				if len(warning) > 130 {
					t.Errorf("warning has %d characters, want at most about 120: %q", len(warning), warning)
				}
			}
		})
	}
}

// generic moves a Secret's certificate and key to Istio's cert and key.
func generic(secret *corev1.Secret) *corev1.Secret {
	secret.Type = corev1.SecretTypeOpaque
	secret.Data = map[string][]byte{"cert": secret.Data[corev1.TLSCertKey], "key": secret.Data[corev1.TLSPrivateKeyKey]}
	return secret
}

func containsAny(lines []string, want string) bool {
	for _, line := range lines {
		if strings.Contains(line, want) {
			return true
		}
	}
	return false
}

func testSecretAnnotations(t *testing.T, wc *webhookCluster) {
	createNamespace(t, wc, "annotated", nil)
	ctx := testenv.Context(t)
	secrets := wc.clientset.CoreV1().Secrets("annotated")

	chain := testcerts.NewChain(t, 3, testcerts.Options{KeyKind: testcerts.RSA2048,
		DNSNames: []string{"a.example", "b.example"}})
	created, err := secrets.Create(ctx, tlsSecret("annotated", "web", chain.CertPEM(), chain.Leaf.KeyPEM), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	want := map[string]string{
		wellknown.NotAfterAnnotation:     chain.Leaf.X509.NotAfter.UTC().Format(time.RFC3339),
		wellknown.DNSNamesAnnotation:     "a.example,b.example",
		wellknown.KeyAlgorithmAnnotation: "RSA-2048",
		wellknown.ChainLengthAnnotation:  "2",
		wellknown.SerialAnnotation:       chain.Leaf.X509.SerialNumber.Text(16),
	}
	for key, value := range want {
		if got := created.Annotations[key]; got != value {
			t.Errorf("annotation %s = %q, want %q", key, got, value)
		}
	}

	// A no-op update stays a no-op: an empty patch leaves the
	// resourceVersion as it is.
	unchanged, err := secrets.Update(ctx, created, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("no-op update: %v", err)
	}
	if unchanged.ResourceVersion != created.ResourceVersion {
		t.Errorf("no-op update changed resourceVersion from %s to %s", created.ResourceVersion, unchanged.ResourceVersion)
	}

	created.Labels = map[string]string{"team": "edge"}
	updated, err := secrets.Update(ctx, created, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update labels: %v", err)
	}
	if got := updated.Annotations[wellknown.FingerprintAnnotation]; got != created.Annotations[wellknown.FingerprintAnnotation] {
		t.Errorf("fingerprint changed on a label update: %q", got)
	}

	managed := tlsSecret("annotated", "managed", chain.CertPEM(), chain.Leaf.KeyPEM)
	managed.Annotations = map[string]string{wellknown.CertManagerCertificateAnnotation: "web"}
	managed, err = secrets.Create(ctx, managed, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create cert-manager Secret: %v", err)
	}
	if _, ok := managed.Annotations[wellknown.NotAfterAnnotation]; ok {
		t.Error("a cert-manager Secret was annotated")
	}
}

func testMetadataUpdateOfExpired(t *testing.T, wc *webhookCluster) {
	createNamespace(t, wc, "expired", nil)
	ctx := testenv.Context(t)
	secrets := wc.clientset.CoreV1().Secrets("expired")

	expired := testcerts.New(t, testcerts.Options{KeyKind: testcerts.ECDSAP256,
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	secret := tlsSecret("expired", "old", expired.CertPEM, expired.KeyPEM)
	if _, err := secrets.Create(ctx, secret, metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("create of an expired certificate: error = %v, want forbidden", err)
	}

	// Written while opted out, the Secret is then opted in by a
	// metadata-only update, and annotated by another.
	secret.Labels = map[string]string{wellknown.ValidationLabel: wellknown.Disabled}
	stored, err := secrets.Create(ctx, secret, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create opted-out Secret: %v", err)
	}
	stored.Labels = nil
	if stored, err = secrets.Update(ctx, stored, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("metadata-only update of an expired certificate: %v", err)
	}
	stored.Annotations = map[string]string{"owner": "edge-team"}
	if stored, err = secrets.Update(ctx, stored, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("annotation update of an expired certificate: %v", err)
	}

	stored.Data[corev1.TLSCertKey] = expired.X509.Raw
	if _, err := secrets.Update(ctx, stored, metav1.UpdateOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("update to DER material: error = %v, want forbidden", err)
	}
}

func testExcludedSecrets(t *testing.T, wc *webhookCluster) {
	createNamespace(t, wc, "apps", nil)
	createNamespace(t, wc, "opted-out", map[string]string{wellknown.ValidationLabel: wellknown.Disabled})
	ctx := testenv.Context(t)

	excluded := []*corev1.Secret{
		{ObjectMeta: metav1.ObjectMeta{Name: "token", Namespace: "apps",
			Annotations: map[string]string{corev1.ServiceAccountNameKey: "default"}},
			Type: corev1.SecretTypeServiceAccountToken, Data: map[string][]byte{"ca.crt": []byte("not pem")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "release", Namespace: "apps"},
			Type: "helm.sh/release.v1", Data: map[string][]byte{"release": []byte("H4sI")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "password", Namespace: "apps"},
			Data: map[string][]byte{"password": []byte("hunter2")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "web-next-key", Namespace: "apps",
			Labels: map[string]string{"cert-manager.io/next-private-key": "true"}},
			Data: map[string][]byte{corev1.TLSPrivateKeyKey: []byte("staged key")}},
		tlsSecret("opted-out", "broken", []byte("not pem"), []byte("not pem")),
	}
	before := webhookRequests(t)
	for _, secret := range excluded {
		if _, err := wc.clientset.CoreV1().Secrets(secret.Namespace).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
			t.Errorf("create %s/%s: %v", secret.Namespace, secret.Name, err)
		}
	}
	if after := webhookRequests(t); after != before {
		t.Errorf("webhook requests grew from %v to %v for Secrets it must never see", before, after)
	}

	chain := testcerts.NewChain(t, 2, testcerts.Options{KeyKind: testcerts.ECDSAP256})
	included := tlsSecret("apps", "included", chain.CertPEM(), chain.Leaf.KeyPEM)
	if _, err := wc.clientset.CoreV1().Secrets("apps").Create(ctx, included, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create certificate Secret: %v", err)
	}
	if after := webhookRequests(t); after != before+2 {
		t.Errorf("webhook requests = %v after one certificate Secret, want %v (mutating and validating)", after, before+2)
	}
}

// webhookRequests sums meshcert_webhook_requests_total over all labels.
func webhookRequests(t *testing.T) float64 {
	t.Helper()
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatalf("gather metrics: %v", err)
	}
	var total float64
	for _, family := range families {
		if family.GetName() == "meshcert_webhook_requests_total" {
			total += sumCounters(family.GetMetric())
		}
	}
	return total
}

func sumCounters(metrics []*dto.Metric) float64 {
	var total float64
	for _, metric := range metrics {
		total += metric.GetCounter().GetValue()
	}
	return total
}
