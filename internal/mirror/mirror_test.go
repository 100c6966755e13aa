package mirror

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/meshcert/meshcert/internal/testenv"
	"github.com/meshcert/meshcert/internal/wellknown"
)

// mesh is one source cluster whose mirror copies to three peers.
type mesh struct {
	clusters []*testenv.Cluster
	source   client.Client
	peers    []client.Client
	// peerNames are the data keys of the peer Secret, and kubeconfigs
	// their values.
	peerNames   []string
	kubeconfigs map[string][]byte
}

const sourceID = "cluster-1"

func startMesh(t *testing.T) *mesh {
	clusters := testenv.StartN(t, 4, testenv.Options{})
	m := &mesh{clusters: clusters, source: clusters[0].Client}
	kubeconfigs := map[string][]byte{}
	for _, peer := range clusters[1:] {
		kubeconfig, c := kubeconfigFor(t, peer.Env, "mirror")
		kubeconfigs[peer.Name] = kubeconfig
		m.peers = append(m.peers, c)
		m.peerNames = append(m.peerNames, peer.Name)
	}
	// A kubeconfig of the source cluster itself, which the mirror must
	// reject without holding finalizers or reporting conflicts.
	kubeconfigs["self"] = mustKubeconfig(t, clusters[0])
	m.kubeconfigs = kubeconfigs
	writePeerSecret(t, m.source, "peers", kubeconfigs)
	startMirror(t, clusters[0].Config, testOptions(sourceID))
	return m
}

func newSource(namespace, name string, data map[string][]byte) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: namespace,
			Name:      name,
			Labels:    map[string]string{wellknown.MirrorLabel: wellknown.True},
		},
		Type: corev1.SecretTypeTLS,
		Data: data,
	}
}

func tlsData(tag string) map[string][]byte {
	return map[string][]byte{
		corev1.TLSCertKey:       []byte("certificate " + tag),
		corev1.TLSPrivateKeyKey: []byte("key " + tag),
	}
}

func (m *mesh) create(t *testing.T, secret *corev1.Secret) {
	t.Helper()
	ensureNamespace(t, m.source, secret.Namespace)
	if err := m.source.Create(testenv.Context(t), secret); err != nil {
		t.Fatalf("create source %s/%s: %v", secret.Namespace, secret.Name, err)
	}
}

// waitCopies polls until every peer in peers holds a copy of source.
func waitCopies(t *testing.T, peers []client.Client, source *corev1.Secret) {
	t.Helper()
	for i, peer := range peers {
		eventually(t, fmt.Sprintf("copy on peer %d", i+1), func(ctx context.Context) error {
			return copyMatches(ctx, peer, source, sourceID)
		})
	}
}

func waitAbsent(t *testing.T, peers []client.Client, namespace, name string) {
	t.Helper()
	for i, peer := range peers {
		eventually(t, fmt.Sprintf("no copy on peer %d", i+1), func(ctx context.Context) error {
			return absent(ctx, peer, namespace, name)
		})
	}
}

func (m *mesh) update(t *testing.T, namespace, name string, mutate func(*corev1.Secret)) *corev1.Secret {
	t.Helper()
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	_, err := controllerutil.CreateOrUpdate(testenv.Context(t), m.source, secret, func() error {
		mutate(secret)
		return nil
	})
	if err != nil {
		t.Fatalf("update source %s/%s: %v", namespace, name, err)
	}
	return secret
}

func TestMirror(t *testing.T) {
	m := startMesh(t)
	t.Run("lifecycle", m.testLifecycle)
	t.Run("tool keys", m.testToolKeys)
	t.Run("conflict", m.testConflict)
	t.Run("orphan policy", m.testOrphan)
	t.Run("large secret", m.testLarge)
	t.Run("idle resync", m.testIdleResync)
	t.Run("rotated kubeconfig", m.testRotation)
	t.Run("mutual mirrors", m.testMutual)
	t.Run("removed peer", m.testRemovedPeer)
	t.Run("peer down", m.testPeerDown)
}

func (m *mesh) testLifecycle(t *testing.T) {
	const ns, name = "lifecycle", "gateway-cert"
	source := newSource(ns, name, tlsData("v1"))
	source.Data[corev1.ServiceAccountRootCAKey] = []byte("ca v1")
	source.Labels["team"] = "edge"
	m.create(t, source)
	waitCopies(t, m.peers, source)
	eventually(t, "finalizer on source", func(ctx context.Context) error {
		got, err := getSecret(ctx, m.source, ns, name)
		if err != nil {
			return err
		}
		if !controllerutil.ContainsFinalizer(got, wellknown.MirrorFinalizer) {
			return errors.New("no mirror finalizer")
		}
		return nil
	})

	// The update drops a data key and a label that the copy's create wrote.
	updated := m.update(t, ns, name, func(s *corev1.Secret) {
		s.Data = tlsData("v2")
		delete(s.Labels, "team")
	})
	waitCopies(t, m.peers, updated)
	for i, peer := range m.peers {
		eventually(t, fmt.Sprintf("dropped label gone on peer %d", i+1), func(ctx context.Context) error {
			copied, err := getSecret(ctx, peer, ns, name)
			if err != nil {
				return err
			}
			if _, ok := copied.Labels["team"]; ok {
				return errors.New("copy still has label team")
			}
			return nil
		})
	}

	m.update(t, ns, name, func(s *corev1.Secret) { delete(s.Labels, wellknown.MirrorLabel) })
	waitAbsent(t, m.peers, ns, name)
	eventually(t, "finalizer released after unlabelling", func(ctx context.Context) error {
		got, err := getSecret(ctx, m.source, ns, name)
		if err != nil {
			return err
		}
		if controllerutil.ContainsFinalizer(got, wellknown.MirrorFinalizer) {
			return errors.New("mirror finalizer still present")
		}
		return nil
	})

	relabelled := m.update(t, ns, name, func(s *corev1.Secret) {
		s.Labels = map[string]string{wellknown.MirrorLabel: wellknown.True}
	})
	waitCopies(t, m.peers, relabelled)

	if err := m.source.Delete(testenv.Context(t), relabelled); err != nil {
		t.Fatalf("delete source: %v", err)
	}
	waitAbsent(t, m.peers, ns, name)
	waitAbsent(t, []client.Client{m.source}, ns, name)
	if err := findEvent(testenv.Context(t), m.source, ns, name, "MirrorConflict"); err == nil {
		t.Error("conflict reported: the mirror copied to its own cluster")
	}
}

func (m *mesh) testToolKeys(t *testing.T) {
	const ns, name = "tool-keys", "helm-cert"
	source := newSource(ns, name, tlsData("helm"))
	source.Labels["app.kubernetes.io/managed-by"] = "Helm"
	source.Labels["team"] = "edge"
	source.Annotations = map[string]string{
		"meta.helm.sh/release-name":             "edge",
		wellknown.LastAppliedAnnotation:         "{}",
		"kustomize.toolkit.fluxcd.io/name":      "edge",
		"example.com/owner":                     "edge-team",
		wellknown.DeletionPolicyAnnotation:      wellknown.DeletionPolicyDelete,
		"argocd.argoproj.io/sync-options":       "Prune=false",
		wellknown.Prefix + "fingerprint-sha256": "abc",
	}
	m.create(t, source)
	waitCopies(t, m.peers, source)

	copied, err := getSecret(testenv.Context(t), m.peers[0], ns, name)
	if err != nil {
		t.Fatalf("get copy: %v", err)
	}
	for _, key := range []string{"team", wellknown.ManagedByLabel, wellknown.SourceClusterLabel} {
		if _, ok := copied.Labels[key]; !ok {
			t.Errorf("copy lacks label %s", key)
		}
	}
	for _, key := range []string{"app.kubernetes.io/managed-by", wellknown.MirrorLabel} {
		if _, ok := copied.Labels[key]; ok {
			t.Errorf("copy has label %s", key)
		}
	}
	for _, key := range []string{"example.com/owner", wellknown.Prefix + "fingerprint-sha256", wellknown.SourceUIDAnnotation, wellknown.ContentHashAnnotation} {
		if _, ok := copied.Annotations[key]; !ok {
			t.Errorf("copy lacks annotation %s", key)
		}
	}
	for _, key := range []string{"meta.helm.sh/release-name", wellknown.LastAppliedAnnotation, "kustomize.toolkit.fluxcd.io/name", "argocd.argoproj.io/sync-options", wellknown.DeletionPolicyAnnotation} {
		if _, ok := copied.Annotations[key]; ok {
			t.Errorf("copy has annotation %s", key)
		}
	}
	if copied.Type != corev1.SecretTypeTLS {
		t.Errorf("copy type = %s, want %s", copied.Type, corev1.SecretTypeTLS)
	}
	if len(copied.Finalizers) != 0 || len(copied.OwnerReferences) != 0 {
		t.Errorf("copy has finalizers %v or owner references %v", copied.Finalizers, copied.OwnerReferences)
	}
}

func (m *mesh) testConflict(t *testing.T) {
	const ns, name = "conflict", "shared-cert"
	ctx := testenv.Context(t)
	ensureNamespace(t, m.peers[0], ns)
	unmanaged := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Data:       map[string][]byte{"owner": []byte("someone else")},
	}
	if err := m.peers[0].Create(ctx, unmanaged); err != nil {
		t.Fatalf("create unmanaged Secret on peer: %v", err)
	}
	source := newSource(ns, name, tlsData("conflict"))
	m.create(t, source)
	waitCopies(t, m.peers[1:], source)

	eventually(t, "conflict event on source", func(ctx context.Context) error {
		return findEvent(ctx, m.source, ns, name, "MirrorConflict")
	})
	if got := testutil.ToFloat64(peerConflicts.WithLabelValues(m.peerNames[0])); got < 1 {
		t.Errorf("%s{peer=%q} = %v, want at least 1", "meshcert_mirror_conflicts", m.peerNames[0], got)
	}
	kept, err := getSecret(ctx, m.peers[0], ns, name)
	if err != nil {
		t.Fatalf("get unmanaged Secret: %v", err)
	}
	if isCopy(kept) || string(kept.Data["owner"]) != "someone else" || kept.UID != unmanaged.UID {
		t.Fatalf("unmanaged Secret was overwritten: labels %v", kept.Labels)
	}

	if err := m.peers[0].Delete(ctx, kept); err != nil {
		t.Fatalf("delete unmanaged Secret: %v", err)
	}
	waitCopies(t, m.peers[:1], source)
	eventually(t, "conflict gauge back to zero", func(context.Context) error {
		if got := testutil.ToFloat64(peerConflicts.WithLabelValues(m.peerNames[0])); got != 0 {
			return fmt.Errorf("conflicts = %v", got)
		}
		return nil
	})
}

func findEvent(ctx context.Context, c client.Client, namespace, name, reason string) error {
	var events eventsv1.EventList
	if err := c.List(ctx, &events, client.InNamespace(namespace)); err != nil {
		return err
	}
	for _, event := range events.Items {
		if event.Regarding.Name == name && event.Reason == reason {
			return nil
		}
	}
	return fmt.Errorf("no %s event on Secret %s/%s among %d events", reason, namespace, name, len(events.Items))
}

func (m *mesh) testOrphan(t *testing.T) {
	const ns, name = "orphan", "kept-cert"
	source := newSource(ns, name, tlsData("orphan"))
	source.Annotations = map[string]string{wellknown.DeletionPolicyAnnotation: wellknown.DeletionPolicyOrphan}
	m.create(t, source)
	waitCopies(t, m.peers, source)
	eventually(t, "finalizer on source", func(ctx context.Context) error {
		got, err := getSecret(ctx, m.source, ns, name)
		if err != nil {
			return err
		}
		if !controllerutil.ContainsFinalizer(got, wellknown.MirrorFinalizer) {
			return errors.New("no mirror finalizer")
		}
		return nil
	})

	if err := m.source.Delete(testenv.Context(t), source); err != nil {
		t.Fatalf("delete source: %v", err)
	}
	waitAbsent(t, []client.Client{m.source}, ns, name)
	for i, peer := range m.peers {
		kept, err := getSecret(testenv.Context(t), peer, ns, name)
		if err != nil {
			t.Fatalf("orphaned copy on peer %d: %v", i+1, err)
		}
		if isCopy(kept) {
			t.Errorf("orphaned copy on peer %d still carries %s", i+1, wellknown.ManagedByLabel)
		}
		if !bytes.Equal(kept.Data[corev1.TLSCertKey], source.Data[corev1.TLSCertKey]) {
			t.Errorf("orphaned copy on peer %d lost its data", i+1)
		}
	}
}

func (m *mesh) testLarge(t *testing.T) {
	const ns, name = "large", "bundle"
	blob := make([]byte, 1<<20-4096)
	for i := range blob {
		blob[i] = byte(i*7 + i>>8)
	}
	source := newSource(ns, name, map[string][]byte{"ca-bundle.pem": blob})
	source.Type = corev1.SecretTypeOpaque
	m.create(t, source)
	waitCopies(t, m.peers, source)
}

func (m *mesh) testRotation(t *testing.T) {
	kubeconfigs := map[string][]byte{}
	for i, peer := range m.clusters[1:] {
		kubeconfig, c := kubeconfigFor(t, peer.Env, "mirror-rotated")
		kubeconfigs[peer.Name] = kubeconfig
		m.peers[i] = c
	}
	// A kubeconfig of the source cluster itself, which the mirror must
	// reject without holding finalizers or reporting conflicts.
	kubeconfigs["self"] = mustKubeconfig(t, m.clusters[0])
	m.kubeconfigs = kubeconfigs
	writePeerSecret(t, m.source, "peers", kubeconfigs)

	const ns, name = "rotation", "after-rotation"
	source := newSource(ns, name, tlsData("rotated"))
	m.create(t, source)
	waitCopies(t, m.peers, source)
	updated := m.update(t, ns, name, func(s *corev1.Secret) { s.Data = tlsData("rotated-v2") })
	waitCopies(t, m.peers, updated)
}

func peerUpValue(peer string) float64 {
	return testutil.ToFloat64(peerUp.WithLabelValues(peer))
}

// testIdleResync counts the Secret writes the peers' API servers receive
// while the mirror resyncs Secrets that did not change.
func (m *mesh) testIdleResync(t *testing.T) {
	peers := m.clusters[1:]
	ctx := testenv.Context(t)
	before := settledSecretWrites(t, ctx, peers)
	// Two and a half sweeps at the test's two-second interval.
	time.Sleep(5 * time.Second)
	if after := secretWrites(t, ctx, peers); after != before {
		t.Errorf("peers received %v Secret writes during an idle resync, want 0", after-before)
	}
}

// settledSecretWrites waits until the peers receive no Secret write for a
// whole sweep interval, so that writes the earlier subtests started, such
// as a retried update, are not counted as the idle resync's, and returns
// the count then.
func settledSecretWrites(t *testing.T, ctx context.Context, peers []*testenv.Cluster) float64 {
	t.Helper()
	interval := testOptions("").SweepInterval
	deadline := time.Now().Add(time.Minute)
	count := secretWrites(t, ctx, peers)
	for {
		time.Sleep(interval)
		next := secretWrites(t, ctx, peers)
		if next == count {
			return count
		}
		if time.Now().After(deadline) {
			t.Fatalf("the peers still received Secret writes a minute after the earlier subtests")
		}
		count = next
	}
}

// testRemovedPeer removes cluster-4 from the configuration: deleting a
// source no longer waits for it, and its copy is swept once the peer is
// configured again.
func (m *mesh) testRemovedPeer(t *testing.T) {
	const ns, name = "removed-peer", "cert"
	source := newSource(ns, name, tlsData("removed"))
	m.create(t, source)
	waitCopies(t, m.peers, source)
	settledVersion(t, m.source, ns, name)

	removedName := m.clusters[3].Name
	kubeconfigs := maps.Clone(m.kubeconfigs)
	delete(kubeconfigs, removedName)
	writePeerSecret(t, m.source, "peers", kubeconfigs)
	eventually(t, "metrics of the removed peer deleted", func(context.Context) error {
		if hasPeerSeries(peerUp, removedName) {
			return fmt.Errorf("meshcert_mirror_peer_up{peer=%q} still exported", removedName)
		}
		return nil
	})

	if err := m.source.Delete(testenv.Context(t), source); err != nil {
		t.Fatalf("delete source: %v", err)
	}
	waitAbsent(t, m.peers[:2], ns, name)
	waitAbsent(t, []client.Client{m.source}, ns, name)
	if err := copyMatches(testenv.Context(t), m.peers[2], source, sourceID); err != nil {
		t.Fatalf("copy on the removed peer: %v", err)
	}

	writePeerSecret(t, m.source, "peers", m.kubeconfigs)
	waitAbsent(t, m.peers[2:], ns, name)
}

// hasPeerSeries reports whether collector exports a series for peer.
func hasPeerSeries(collector prometheus.Collector, peer string) bool {
	ch := make(chan prometheus.Metric, 64)
	go func() {
		collector.Collect(ch)
		close(ch)
	}()
	found := false
	for metric := range ch {
		var written dto.Metric
		if metric.Write(&written) != nil {
			continue
		}
		for _, label := range written.GetLabel() {
			if label.GetName() == "peer" && label.GetValue() == peer {
				found = true
			}
		}
	}
	return found
}
