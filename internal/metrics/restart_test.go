package metrics

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/meshcert/meshcert/internal/testcerts"
	"github.com/meshcert/meshcert/internal/testenv"
)

// TestSecretsSurviveAPIServerRestart restarts the kube-apiserver process
// under a running exporter while etcd keeps the data. Secrets change just
// before the process stops, so their watch events race the end of the
// watch, and just after the new process starts, before the exporter has
// reconnected. The scrape must then show exactly the Secrets that exist,
// each with its current certificate and each once.
func TestSecretsSurviveAPIServerRestart(t *testing.T) {
	cluster := testenv.Start(t, testenv.Options{})
	client := kubernetes.NewForConfigOrDie(cluster.Config)
	createNamespaces(t, client, "gateways")
	ctx := testenv.Context(t)
	exporter := startExporter(t, cluster.Config, Options{})
	secrets := client.CoreV1().Secrets("gateways")

	// want maps each Secret that exists to its leaf certificate, in the
	// form that exportedCertificates returns.
	want := map[string][]string{}
	create := func(name string) {
		t.Helper()
		chain := testcerts.NewChain(t, 2, testcerts.Options{KeyKind: testcerts.ECDSAP256})
		secret := newSecret("gateways", name, corev1.SecretTypeTLS, map[string][]byte{"tls.crt": chain.CertPEM(), "tls.key": chain.Leaf.KeyPEM})
		if _, err := secrets.Create(ctx, secret, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create Secret %s: %v", name, err)
		}
		want["gateways/"+name] = []string{"tls.crt[0] " + fp(chain.Leaf)}
	}
	update := func(name string) {
		t.Helper()
		chain := testcerts.NewChain(t, 2, testcerts.Options{KeyKind: testcerts.ECDSAP256})
		secret := newSecret("gateways", name, corev1.SecretTypeTLS, map[string][]byte{"tls.crt": chain.CertPEM(), "tls.key": chain.Leaf.KeyPEM})
		if _, err := secrets.Update(ctx, secret, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("update Secret %s: %v", name, err)
		}
		want["gateways/"+name] = []string{"tls.crt[0] " + fp(chain.Leaf)}
	}
	remove := func(name string) {
		t.Helper()
		if err := secrets.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatalf("delete Secret %s: %v", name, err)
		}
		delete(want, "gateways/"+name)
	}
	var got map[string][]string
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last scrape: %v\nwant: %v", got, want)
		}
	})
	exportMatches := func() bool {
		got = exportedCertificates(t, exporter)
		return maps.EqualFunc(got, want, slices.Equal)
	}

	for _, name := range []string{"kept", "deleted-before", "updated-before", "deleted-after", "updated-after"} {
		create(name)
	}
	eventually(t, "five Secrets exported", exportMatches)
	restartsBefore := watchRestarts(t, exporter)

	remove("deleted-before")
	update("updated-before")
	create("created-before")
	cluster.RestartAPIServer(t)
	// The informer waits with backoff between failed watches, so these
	// changes usually land before it reconnects.
	remove("deleted-after")
	update("updated-after")
	create("created-after")

	eventually(t, "watch restart counted", func() bool { return watchRestarts(t, exporter) > restartsBefore })
	eventually(t, "Secrets changed around the restart exported", exportMatches)

	// Once reconnected, the exporter receives new changes as watch events.
	create("created-later")
	update("kept")
	eventually(t, "Secrets changed after the reconnection exported", exportMatches)

	list, err := secrets.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var stored []string
	for _, secret := range list.Items {
		stored = append(stored, "gateways/"+secret.Name)
	}
	slices.Sort(stored)
	if wantStored := slices.Sorted(maps.Keys(want)); !slices.Equal(stored, wantStored) {
		t.Errorf("Secrets in the API server = %v, want %v", stored, wantStored)
	}
}

// exportedCertificates maps "namespace/secret" to one "key[index]
// fingerprint" entry per exported not-after series, sorted. A Secret that
// is exported twice, or with a stale certificate, has extra entries.
func exportedCertificates(t *testing.T, e *Exporter) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, s := range samples(t, e.Gatherer(), notAfterFamily, nil) {
		name := s.labels["namespace"] + "/" + s.labels["secret"]
		entry := fmt.Sprintf("%s[%s] %s", s.labels["key"], s.labels["index"], s.labels["fingerprint"])
		out[name] = append(out[name], entry)
	}
	for _, entries := range out {
		slices.Sort(entries)
	}
	return out
}

// watchRestarts sums meshcert_exporter_watch_restarts_total over its series.
func watchRestarts(t *testing.T, e *Exporter) float64 {
	t.Helper()
	var total float64
	for _, s := range samples(t, e.Gatherer(), "meshcert_exporter_watch_restarts_total", nil) {
		total += s.value
	}
	return total
}
