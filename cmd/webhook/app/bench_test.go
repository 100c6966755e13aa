package app_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/meshcert/meshcert/internal/testcerts"
	"github.com/meshcert/meshcert/internal/testenv"
	"github.com/meshcert/meshcert/internal/wellknown"
)

// BenchmarkSecretCreate creates kubernetes.io/tls Secrets through a real
// API server, alternating between a namespace the webhooks serve and one
// labelled meshcert.io/validation=disabled, which the API server skips.
// Each Secret has a new leaf certificate (ECDSA P-256, one intermediate),
// so the certificate checks run cold; the key is the same each time. The
// difference of the two latency distributions is what the webhooks add.
func BenchmarkSecretCreate(b *testing.B) {
	wc := startWebhookCluster(b)
	ctx := testenv.Context(b)
	for _, namespace := range []struct {
		name   string
		labels map[string]string
	}{{"bench-webhook", nil}, {"bench-plain", map[string]string{wellknown.ValidationLabel: wellknown.Disabled}}} {
		createNamespaceB(b, wc, namespace.name, namespace.labels)
	}

	issuer := testcerts.NewChain(b, 3, testcerts.Options{KeyKind: testcerts.ECDSAP256})
	var withWebhook, without []time.Duration
	handlerBefore := handlerSeconds(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		leaf := testcerts.New(b, testcerts.Options{KeyKind: testcerts.ECDSAP256, Issuer: issuer.Intermediates[0]})
		certPEM := append(append([]byte{}, leaf.CertPEM...), issuer.Intermediates[0].CertPEM...)
		for _, namespace := range []string{"bench-webhook", "bench-plain"} {
			secret := tlsSecret(namespace, fmt.Sprintf("secret-%d", i), certPEM, leaf.KeyPEM)
			start := time.Now()
			if _, err := wc.clientset.CoreV1().Secrets(namespace).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
				b.Fatalf("create %s/%s: %v", namespace, secret.Name, err)
			}
			if namespace == "bench-webhook" {
				withWebhook = append(withWebhook, time.Since(start))
			} else {
				without = append(without, time.Since(start))
			}
		}
	}
	b.StopTimer()
	handlerAfter := handlerSeconds(b)
	// Time spent in the two handlers per Secret, from the request
	// duration histogram: the rest of the added latency is the API
	// server's webhook calls.
	b.ReportMetric((handlerAfter-handlerBefore)/float64(b.N)*1e6, "handlers-us/secret")
	report(b, "webhook", withWebhook)
	report(b, "plain", without)
	b.ReportMetric(float64(percentile(withWebhook, 0.99)-percentile(without, 0.99))/1e6, "p99-added-ms")
	b.ReportMetric(float64(percentile(withWebhook, 0.5)-percentile(without, 0.5))/1e6, "p50-added-ms")
}

func createNamespaceB(b *testing.B, wc *webhookCluster, name string, labels map[string]string) {
	b.Helper()
	namespace := namespaceObject(name, labels)
	if _, err := wc.clientset.CoreV1().Namespaces().Create(testenv.Context(b), namespace, metav1.CreateOptions{}); err != nil {
		b.Fatalf("create namespace %s: %v", name, err)
	}
}

func report(b *testing.B, name string, latencies []time.Duration) {
	b.ReportMetric(float64(percentile(latencies, 0.5))/1e6, name+"-p50-ms")
	b.ReportMetric(float64(percentile(latencies, 0.99))/1e6, name+"-p99-ms")
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
