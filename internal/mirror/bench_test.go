package mirror

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshcert/meshcert/internal/testenv"
	"github.com/meshcert/meshcert/internal/wellknown"
)

// benchMesh starts a source cluster and three peers; the mirror starts
// when start is called, so a benchmark can create sources first.
func benchMesh(b *testing.B) (*testenv.Cluster, []*testenv.Cluster, func()) {
	clusters := testenv.StartN(b, 4, testenv.Options{})
	kubeconfigs := map[string][]byte{}
	for _, peer := range clusters[1:] {
		kubeconfig, _ := kubeconfigFor(b, peer.Env, "mirror")
		kubeconfigs[peer.Name] = kubeconfig
	}
	start := func() {
		opts := testOptions(sourceID)
		opts.PeerQPS, opts.PeerBurst = 2000, 4000
		opts.PeerWorkers = 8
		opts.SweepInterval = time.Second
		writePeerSecret(b, clusters[0].Client, "peers", kubeconfigs)
		startMirror(b, clusters[0].Config, opts)
	}
	return clusters[0], clusters[1:], start
}

// BenchmarkPropagation measures the time from a source update to the new
// data being readable on each peer, observed through a watch per peer.
func BenchmarkPropagation(b *testing.B) {
	source, peers, start := benchMesh(b)
	start()
	const ns, name = "bench", "latency"
	ensureNamespace(b, source.Client, ns)
	secret := newSource(ns, name, map[string][]byte{"tls.crt": []byte("0")})
	secret.Type = corev1.SecretTypeOpaque
	if err := source.Client.Create(testenv.Context(b), secret); err != nil {
		b.Fatalf("create source: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	seen := make([]chan observedCopy, len(peers))
	for i, peer := range peers {
		seen[i] = watchCopyData(b, ctx, peer, ns, name)
	}

	var latencies []time.Duration
	b.ResetTimer()
	for i := range b.N {
		value := strconv.Itoa(i + 1)
		patch := client.MergeFrom(secret.DeepCopy())
		secret.Data = map[string][]byte{"tls.crt": []byte(value)}
		written := time.Now()
		if err := source.Client.Patch(ctx, secret, patch); err != nil {
			b.Fatalf("update source: %v", err)
		}
		for _, ch := range seen {
			for observed := range ch {
				if observed.data == value {
					latencies = append(latencies, observed.at.Sub(written))
					break
				}
			}
		}
	}
	b.StopTimer()
	slices.Sort(latencies)
	b.ReportMetric(float64(percentile(latencies, 50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(latencies, 99).Microseconds())/1000, "p99-ms")
}

func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[(len(sorted)-1)*p/100]
}

// observedCopy is one version of a copy seen by a watch.
type observedCopy struct {
	data string
	at   time.Time
}

// watchCopyData sends the tls.crt value of every version of the copy seen
// on cluster, with the time the watch delivered it.
func watchCopyData(b *testing.B, ctx context.Context, cluster *testenv.Cluster, namespace, name string) chan observedCopy {
	c, err := client.NewWithWatch(cluster.Config, client.Options{Scheme: testenv.Scheme})
	if err != nil {
		b.Fatalf("watch client: %v", err)
	}
	w, err := c.Watch(ctx, &corev1.SecretList{}, client.InNamespace(namespace))
	if err != nil {
		b.Fatalf("watch %s: %v", cluster.Name, err)
	}
	out := make(chan observedCopy, 1024)
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			secret, ok := ev.Object.(*corev1.Secret)
			if ok && ev.Type != watch.Deleted && secret.Name == name {
				out <- observedCopy{data: string(secret.Data["tls.crt"]), at: time.Now()}
			}
		}
	}()
	return out
}

// BenchmarkInitialSync measures syncing 1,000 labelled Secrets to three
// peers from scratch, then counts the writes of the resyncs that follow.
func BenchmarkInitialSync(b *testing.B) {
	const count = 1000
	source, peers, start := benchMesh(b)
	ctx := testenv.Context(b)
	ensureNamespace(b, source.Client, "bulk")
	createSources(b, source.Client, "bulk", count)

	b.ResetTimer()
	began := time.Now()
	start()
	var wg sync.WaitGroup
	for _, peer := range peers {
		wg.Go(func() {
			eventually(b, "all copies on "+peer.Name, func(ctx context.Context) error {
				var list corev1.SecretList
				if err := peer.Client.List(ctx, &list, client.InNamespace("bulk"),
					client.MatchingLabels{wellknown.ManagedByLabel: wellknown.ManagedByMirror}); err != nil {
					return err
				}
				if len(list.Items) < count {
					return fmt.Errorf("%d of %d copies", len(list.Items), count)
				}
				return nil
			})
		})
	}
	wg.Wait()
	b.ReportMetric(time.Since(began).Seconds(), "sync-s")
	b.StopTimer()

	before := secretWrites(b, ctx, peers)
	// Three sweeps at the benchmark's one-second interval.
	time.Sleep(3500 * time.Millisecond)
	after := secretWrites(b, ctx, peers)
	b.ReportMetric(after-before, "resync-writes")
}

func createSources(b *testing.B, c client.Client, namespace string, count int) {
	var wg sync.WaitGroup
	errs := make(chan error, count)
	for worker := range 16 {
		wg.Go(func() {
			for i := worker; i < count; i += 16 {
				secret := newSource(namespace, fmt.Sprintf("cert-%04d", i), tlsData(strconv.Itoa(i)))
				if err := c.Create(context.Background(), secret); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatalf("create source: %v", err)
	}
}

// secretWrites sums the API servers' apiserver_request_total for writes
// to Secrets.
func secretWrites(b testing.TB, ctx context.Context, peers []*testenv.Cluster) float64 {
	total := 0.0
	for _, peer := range peers {
		clientset, err := kubernetes.NewForConfig(peer.Config)
		if err != nil {
			b.Fatalf("clientset: %v", err)
		}
		raw, err := clientset.RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
		if err != nil {
			b.Fatalf("metrics of %s: %v", peer.Name, err)
		}
		scanner := bufio.NewScanner(bytes.NewReader(raw))
		scanner.Buffer(nil, 1<<20)
		for scanner.Scan() {
			line := scanner.Text()
			if !strings.HasPrefix(line, "apiserver_request_total{") || !strings.Contains(line, `resource="secrets"`) {
				continue
			}
			if !strings.Contains(line, `verb="POST"`) && !strings.Contains(line, `verb="PUT"`) &&
				!strings.Contains(line, `verb="PATCH"`) && !strings.Contains(line, `verb="DELETE"`) &&
				!strings.Contains(line, `verb="APPLY"`) {
				continue
			}
			fields := strings.Fields(line)
			value, err := strconv.ParseFloat(fields[len(fields)-1], 64)
			if err == nil {
				total += value
			}
		}
	}
	return total
}
