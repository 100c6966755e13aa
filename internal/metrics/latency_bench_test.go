package metrics

import (
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/meshcert/meshcert/internal/testcerts"
	"github.com/meshcert/meshcert/internal/testenv"
)

// BenchmarkSecretChangeLatency times how long a created, updated or
// deleted Secret takes to show in the exporter's State, from the return
// of the API call: the watch event, the read of the Secret's data on a
// new connection and the parse.
func BenchmarkSecretChangeLatency(b *testing.B) {
	cluster := testenv.Start(b, testenv.Options{})
	client := kubernetes.NewForConfigOrDie(cluster.Config)
	ctx := testenv.Context(b)
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "gateways"}},
		metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	exporter := startBenchExporter(b, cluster.Config)
	for !exporter.Ready() {
		time.Sleep(10 * time.Millisecond)
	}
	first := testcerts.NewChain(b, 2, testcerts.Options{KeyKind: testcerts.ECDSAP256})
	second := testcerts.NewChain(b, 2, testcerts.Options{KeyKind: testcerts.ECDSAP256})
	secrets := client.CoreV1().Secrets("gateways")

	var created, updated, deleted []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		name := fmt.Sprintf("secret-%d", i)
		key := objectKey{source: sourceSecret, namespace: "gateways", name: name}
		secret := newSecret("gateways", name, corev1.SecretTypeTLS, map[string][]byte{"tls.crt": first.CertPEM(), "tls.key": first.Leaf.KeyPEM})
		if _, err := secrets.Create(ctx, secret, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		created = append(created, waitFor(b, func() bool { return exporter.state.has(key) }))

		before := exporter.state.objectFor(key)
		secret.Data = map[string][]byte{"tls.crt": second.CertPEM(), "tls.key": second.Leaf.KeyPEM}
		if _, err := secrets.Update(ctx, secret, metav1.UpdateOptions{}); err != nil {
			b.Fatal(err)
		}
		updated = append(updated, waitFor(b, func() bool { return exporter.state.objectFor(key) != before }))

		if err := secrets.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			b.Fatal(err)
		}
		deleted = append(deleted, waitFor(b, func() bool { return !exporter.state.has(key) }))
	}
	b.StopTimer()
	for name, latencies := range map[string][]time.Duration{"create": created, "update": updated, "delete": deleted} {
		slices.Sort(latencies)
		b.ReportMetric(float64(latencies[len(latencies)/2])/1e6, name+"-p50-ms")
		b.ReportMetric(float64(latencies[(len(latencies)*99)/100])/1e6, name+"-p99-ms")
	}
}

// waitFor polls condition every 100 µs and returns how long it took to
// hold, failing after a minute.
func waitFor(b *testing.B, condition func() bool) time.Duration {
	b.Helper()
	start := time.Now()
	for !condition() {
		if time.Since(start) > time.Minute {
			b.Fatal("the exporter did not follow a change within a minute")
		}
		time.Sleep(100 * time.Microsecond)
	}
	return time.Since(start)
}
