package app_test

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	ctrlwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/meshcert/meshcert/internal/testcerts"
	"github.com/meshcert/meshcert/internal/testenv"
	"github.com/meshcert/meshcert/internal/validate"
	"github.com/meshcert/meshcert/internal/webhook"
	"github.com/meshcert/meshcert/internal/wellknown"
)

// BenchmarkSecretCreate creates kubernetes.io/tls Secrets through a real
// API server in three namespaces, one after the other:
//
//   - "bench-webhook", which meshcert's webhooks serve;
//   - "bench-floor", which two stand-in webhooks serve instead: a mutating
//     one that returns a fixed patch of the same nine annotations without
//     reading the request, and a validating one that allows everything;
//   - "bench-plain", which no webhook serves.
//
// Each Secret has a new leaf certificate (ECDSA P-256, one intermediate),
// so meshcert's certificate checks run cold; the key is the same each
// time. The difference between the meshcert and plain distributions is
// what meshcert's webhooks add. The difference between the floor and
// plain distributions is what any pair of webhooks costs on this API
// server and machine when the mutating one changes the object, measured
// in the same run.
func BenchmarkSecretCreate(b *testing.B) {
	wc := startWebhookCluster(b)
	ctx := testenv.Context(b)
	floorSelector := startFloorWebhooks(b, wc)
	namespaces := []struct {
		name   string
		labels map[string]string
	}{
		{"bench-webhook", nil},
		{"bench-floor", map[string]string{wellknown.ValidationLabel: wellknown.Disabled, floorSelector: "true"}},
		{"bench-plain", map[string]string{wellknown.ValidationLabel: wellknown.Disabled}},
	}
	for _, namespace := range namespaces {
		createNamespaceB(b, wc, namespace.name, namespace.labels)
	}
	waitForFloorWebhooks(b, wc)

	issuer := testcerts.NewChain(b, 3, testcerts.Options{KeyKind: testcerts.ECDSAP256})
	latencies := map[string][]time.Duration{}
	handlerBefore := handlerSeconds(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		leaf := testcerts.New(b, testcerts.Options{KeyKind: testcerts.ECDSAP256, Issuer: issuer.Intermediates[0]})
		certPEM := append(append([]byte{}, leaf.CertPEM...), issuer.Intermediates[0].CertPEM...)
		for _, namespace := range namespaces {
			secret := tlsSecret(namespace.name, fmt.Sprintf("secret-%d", i), certPEM, leaf.KeyPEM)
			start := time.Now()
			if _, err := wc.clientset.CoreV1().Secrets(namespace.name).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
				b.Fatalf("create %s/%s: %v", namespace.name, secret.Name, err)
			}
			latencies[namespace.name] = append(latencies[namespace.name], time.Since(start))
		}
	}
	b.StopTimer()
	handlerAfter := handlerSeconds(b)
	// Time spent in the two handlers per Secret, from the request
	// duration histogram: the rest of the added latency is the API
	// server's webhook calls.
	b.ReportMetric((handlerAfter-handlerBefore)/float64(b.N)*1e6, "handlers-us/secret")
	plain := latencies["bench-plain"]
	for name, measured := range map[string][]time.Duration{"meshcert": latencies["bench-webhook"], "floor": latencies["bench-floor"]} {
		b.ReportMetric(float64(percentile(measured, 0.5)-percentile(plain, 0.5))/1e6, name+"-added-p50-ms")
		b.ReportMetric(float64(percentile(measured, 0.99)-percentile(plain, 0.99))/1e6, name+"-added-p99-ms")
	}
	b.ReportMetric(float64(percentile(plain, 0.5))/1e6, "plain-p50-ms")
	b.ReportMetric(float64(percentile(plain, 0.99))/1e6, "plain-p99-ms")
}

// startFloorWebhooks serves the stand-in webhooks of BenchmarkSecretCreate
// from a second server in the test process, registers them with the API
// server for namespaces with the returned label, and stops the server
// when the benchmark ends. The mutating stand-in always returns the
// annotations meshcert would add to one fixed certificate.
func startFloorWebhooks(b *testing.B, wc *webhookCluster) string {
	b.Helper()
	const label = "bench.meshcert.io/floor"
	chain := testcerts.NewChain(b, 3, testcerts.Options{KeyKind: testcerts.ECDSAP256})
	facts, _ := validate.CheckSecret(tlsSecret("bench-floor", "fixed", chain.CertPEM(), chain.Leaf.KeyPEM),
		validate.DefaultPolicy(), time.Now())
	patch := webhook.AnnotationPatch(nil, webhook.LeafAnnotations(facts))

	install := wc.cluster.Env.WebhookInstallOptions
	address := freeAddress(b)
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		b.Fatal(err)
	}
	portNumber, _ := strconv.Atoi(port)
	server := ctrlwebhook.NewServer(ctrlwebhook.Options{Host: host, Port: portNumber, CertDir: install.LocalServingCertDir})
	server.Register("/mutate", &admission.Webhook{Handler: admission.HandlerFunc(
		func(context.Context, admission.Request) admission.Response { return admission.Patched("", patch...) })})
	server.Register("/validate", &admission.Webhook{Handler: admission.HandlerFunc(
		func(context.Context, admission.Request) admission.Response { return admission.Allowed("") })})
	startManager(b, server)
	waitForTLS(b, address)

	selector := &metav1.LabelSelector{MatchLabels: map[string]string{label: "true"}}
	rules := []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
		Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"secrets"}},
	}}
	sideEffects := admissionregistrationv1.SideEffectClassNone
	clientConfig := func(path string) admissionregistrationv1.WebhookClientConfig {
		url := "https://" + address + path
		return admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: install.LocalServingCAData}
	}
	registrations := wc.clientset.AdmissionregistrationV1()
	if _, err := registrations.MutatingWebhookConfigurations().Create(testenv.Context(b), &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "bench-floor"},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name: "mutate.floor.bench.meshcert.io", ClientConfig: clientConfig("/mutate"), Rules: rules,
			NamespaceSelector: selector, SideEffects: &sideEffects, AdmissionReviewVersions: []string{"v1"},
		}},
	}, metav1.CreateOptions{}); err != nil {
		b.Fatalf("register the floor mutating webhook: %v", err)
	}
	if _, err := registrations.ValidatingWebhookConfigurations().Create(testenv.Context(b), &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "bench-floor"},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name: "validate.floor.bench.meshcert.io", ClientConfig: clientConfig("/validate"), Rules: rules,
			NamespaceSelector: selector, SideEffects: &sideEffects, AdmissionReviewVersions: []string{"v1"},
		}},
	}, metav1.CreateOptions{}); err != nil {
		b.Fatalf("register the floor validating webhook: %v", err)
	}
	return label
}

// waitForFloorWebhooks creates Secrets in bench-floor until the API
// server sends them to the stand-in webhooks, which annotate them.
func waitForFloorWebhooks(b *testing.B, wc *webhookCluster) {
	b.Helper()
	chain := testcerts.NewChain(b, 2, testcerts.Options{KeyKind: testcerts.ECDSAP256})
	secrets := wc.clientset.CoreV1().Secrets("bench-floor")
	deadline := time.Now().Add(time.Minute)
	for attempt := 0; ; attempt++ {
		created, err := secrets.Create(testenv.Context(b), tlsSecret("bench-floor", fmt.Sprintf("probe-%d", attempt),
			chain.CertPEM(), chain.Leaf.KeyPEM), metav1.CreateOptions{})
		if err != nil {
			b.Fatalf("create a probe Secret: %v", err)
		}
		if _, annotated := created.Annotations[wellknown.NotAfterAnnotation]; annotated {
			return
		}
		if time.Now().After(deadline) {
			b.Fatal("the API server never called the floor webhooks")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func createNamespaceB(b *testing.B, wc *webhookCluster, name string, labels map[string]string) {
	b.Helper()
	namespace := namespaceObject(name, labels)
	if _, err := wc.clientset.CoreV1().Namespaces().Create(testenv.Context(b), namespace, metav1.CreateOptions{}); err != nil {
		b.Fatalf("create namespace %s: %v", name, err)
	}
}

// percentile returns the q-quantile of latencies by the nearest-rank
// method.
func percentile(latencies []time.Duration, q float64) time.Duration {
	if len(latencies) == 0 {
		return 0
	}
	sorted := slices.Clone(latencies)
	slices.Sort(sorted)
	rank := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

// handlerSeconds sums meshcert_webhook_request_duration_seconds over
// both webhooks.
func handlerSeconds(b *testing.B) float64 {
	b.Helper()
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		b.Fatalf("gather metrics: %v", err)
	}
	var total float64
	for _, family := range families {
		if family.GetName() != "meshcert_webhook_request_duration_seconds" {
			continue
		}
		for _, metric := range family.GetMetric() {
			total += metric.GetHistogram().GetSampleSum()
		}
	}
	return total
}
