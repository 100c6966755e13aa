package mirror

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/meshcert/meshcert/internal/testenv"
	"github.com/meshcert/meshcert/internal/wellknown"
)

// testMutual runs a second mirror on cluster-2 whose peers are cluster-1
// and cluster-3, so cluster-1 and cluster-2 mirror each other.
func (m *mesh) testMutual(t *testing.T) {
	const secondID = "cluster-2"
	second := m.clusters[1]
	// This mirror reads its peers from an Istio remote secret.
	istioLabel := map[string]string{wellknown.IstioRemoteSecretLabel: wellknown.IstioRemoteSecretValue}
	writeLabelledPeerSecret(t, second.Client, "istio-remote-secret-loop", istioLabel, map[string][]byte{
		"loop-1": mustKubeconfig(t, m.clusters[0]),
		"loop-3": m.kubeconfigs[m.clusters[2].Name],
	})
	secondOpts := testOptions(secondID)
	secondOpts.CreateNamespaces = false
	startMirror(t, second.Config, secondOpts)

	const ns = "mutual"
	origin := newSource(ns, "origin", tlsData("origin"))
	m.create(t, origin)
	waitCopies(t, m.peers, origin)
	originVersion := settledVersion(t, m.source, ns, "origin")

	// A source on cluster-2 created after the copy arrived there: once its
	// copy reaches cluster-1, cluster-2's mirror has seen the copy of
	// origin too.
	ensureNamespace(t, second.Client, ns)
	marker := newSource(ns, "marker", tlsData("marker"))
	if err := second.Client.Create(testenv.Context(t), marker); err != nil {
		t.Fatalf("create marker on cluster-2: %v", err)
	}
	for _, c := range []client.Client{m.source, m.peers[1]} {
		eventually(t, "marker copied from cluster-2", func(ctx context.Context) error {
			return copyMatches(ctx, c, marker, secondID)
		})
	}

	got, err := getSecret(testenv.Context(t), m.source, ns, "origin")
	if err != nil {
		t.Fatalf("get origin: %v", err)
	}
	if got.ResourceVersion != originVersion || isCopy(got) {
		t.Errorf("origin on cluster-1 was written after it settled: resourceVersion %s, then %s; labels %v",
			originVersion, got.ResourceVersion, got.Labels)
	}
	copied, err := getSecret(testenv.Context(t), second.Client, ns, "origin")
	if err != nil {
		t.Fatalf("get copy of origin on cluster-2: %v", err)
	}
	if len(copied.Finalizers) != 0 {
		t.Errorf("copy on cluster-2 was treated as a source: finalizers %v", copied.Finalizers)
	}

	m.testPrecedence(t, second.Client)
	m.testMissingNamespace(t, second.Client)
}

// testMissingNamespace checks that cluster-2's mirror, which may not
// create namespaces, reports a source whose namespace is missing on its
// peers and copies it once the namespace exists.
func (m *mesh) testMissingNamespace(t *testing.T, second client.Client) {
	const ns, name = "missing-on-peers", "cert"
	ensureNamespace(t, second, ns)
	source := newSource(ns, name, tlsData("missing namespace"))
	if err := second.Create(testenv.Context(t), source); err != nil {
		t.Fatalf("create source on cluster-2: %v", err)
	}
	eventually(t, "failure event on the source", func(ctx context.Context) error {
		return findEvent(ctx, second, ns, name, "MirrorFailed")
	})
	errorsBefore := testutil.ToFloat64(syncErrors.WithLabelValues("loop-1", reasonNamespaceMissing))
	if errorsBefore < 1 {
		t.Errorf("sync errors with reason %s = %v, want at least 1", reasonNamespaceMissing, errorsBefore)
	}
	if err := absent(testenv.Context(t), m.source, ns, name); err != nil {
		t.Fatalf("copy without its namespace: %v", err)
	}

	for _, c := range []client.Client{m.source, m.peers[1]} {
		ensureNamespace(t, c, ns)
		eventually(t, "copy once the namespace exists", func(ctx context.Context) error {
			return copyMatches(ctx, c, source, "cluster-2")
		})
	}
}

// testPrecedence creates a source of one name on cluster-1 and cluster-2.
// Each leaves the other's source alone, and on cluster-3 the lower
// cluster ID, cluster-1, wins.
func (m *mesh) testPrecedence(t *testing.T, second client.Client) {
	const ns, name = "mutual", "both"
	// Both Secrets exist before either is labelled, or the first mirror
	// would copy its source into the other cluster first.
	first := newSource(ns, name, tlsData("from cluster-1"))
	rival := newSource(ns, name, tlsData("from cluster-2"))
	first.Labels, rival.Labels = nil, nil
	if err := second.Create(testenv.Context(t), rival); err != nil {
		t.Fatalf("create source on cluster-2: %v", err)
	}
	m.create(t, first)
	for _, c := range []client.Client{second, m.source} {
		secret := &corev1.Secret{ObjectMeta: first.ObjectMeta}
		_, err := controllerutil.CreateOrUpdate(testenv.Context(t), c, secret, func() error {
			secret.Labels = map[string]string{wellknown.MirrorLabel: wellknown.True}
			return nil
		})
		if err != nil {
			t.Fatalf("label source: %v", err)
		}
	}

	eventually(t, "cluster-1's copy wins on cluster-3", func(ctx context.Context) error {
		return copyMatches(ctx, m.peers[1], first, sourceID)
	})
	eventually(t, "conflict reported on cluster-2's source", func(ctx context.Context) error {
		return findEvent(ctx, second, ns, name, "MirrorConflict")
	})
	eventually(t, "conflict reported on cluster-1's source", func(ctx context.Context) error {
		return findEvent(ctx, m.source, ns, name, "MirrorConflict")
	})
	for cluster, c := range map[string]client.Client{"cluster-1": m.source, "cluster-2": second} {
		got, err := getSecret(testenv.Context(t), c, ns, name)
		if err != nil {
			t.Fatalf("get source on %s: %v", cluster, err)
		}
		if isCopy(got) {
			t.Errorf("source on %s was overwritten by a copy: labels %v", cluster, got.Labels)
		}
	}
	if got, err := getSecret(testenv.Context(t), m.peers[1], ns, name); err == nil && got.Labels[wellknown.SourceClusterLabel] != sourceID {
		t.Errorf("copy on cluster-3 comes from %s, want %s", got.Labels[wellknown.SourceClusterLabel], sourceID)
	}
}

func mustKubeconfig(t *testing.T, cluster *testenv.Cluster) []byte {
	kubeconfig, _ := kubeconfigFor(t, cluster.Env, "mirror-peer")
	return kubeconfig
}

// settledVersion waits for the source's finalizer and returns the
// resourceVersion it has then.
func settledVersion(t *testing.T, c client.Client, namespace, name string) string {
	var version string
	eventually(t, "finalizer on "+name, func(ctx context.Context) error {
		got, err := getSecret(ctx, c, namespace, name)
		if err != nil {
			return err
		}
		if !controllerutil.ContainsFinalizer(got, wellknown.MirrorFinalizer) {
			return errors.New("no mirror finalizer")
		}
		version = got.ResourceVersion
		return nil
	})
	return version
}

// testPeerDown stops cluster-4's API server (etcd keeps running), deletes
// sources while it is down, and checks that it catches up once it is back
// with a rotated kubeconfig (the restarted API server has a new serving
// CA).
func (m *mesh) testPeerDown(t *testing.T) {
	const ns = "peer-down"
	held := newSource(ns, "held", tlsData("held"))
	swept := newSource(ns, "swept", tlsData("swept"))
	m.create(t, held)
	m.create(t, swept)
	waitCopies(t, m.peers, held)
	waitCopies(t, m.peers, swept)
	settledVersion(t, m.source, ns, "swept")

	down := m.clusters[3]
	stopAPIServer(t, down)
	up := m.peers[:2]

	whileDown := newSource(ns, "while-down", tlsData("while-down"))
	m.create(t, whileDown)
	waitCopies(t, up, whileDown)

	ctx := testenv.Context(t)
	if err := m.source.Delete(ctx, held); err != nil {
		t.Fatalf("delete held: %v", err)
	}
	waitAbsent(t, up, ns, "held")
	got, err := getSecret(ctx, m.source, ns, "held")
	if err != nil {
		t.Fatalf("source held while its peer is down: %v", err)
	}
	if !controllerutil.ContainsFinalizer(got, wellknown.MirrorFinalizer) {
		t.Fatalf("finalizer released while %s could not confirm", down.Name)
	}

	// A source whose finalizer is removed by hand leaves its copy on the
	// stopped peer to the sweep.
	m.update(t, ns, "swept", func(s *corev1.Secret) { controllerutil.RemoveFinalizer(s, wellknown.MirrorFinalizer) })
	if err := m.source.Delete(ctx, swept); err != nil {
		t.Fatalf("delete swept: %v", err)
	}
	waitAbsent(t, up, ns, "swept")

	if err := down.Env.ControlPlane.APIServer.Start(); err != nil {
		t.Fatalf("restart API server of %s: %v", down.Name, err)
	}
	kubeconfig, restarted := kubeconfigFor(t, down.Env, "mirror-after-restart")
	m.kubeconfigs[down.Name] = kubeconfig
	writePeerSecret(t, m.source, "peers", m.kubeconfigs)

	waitAbsent(t, []client.Client{restarted}, ns, "held")
	waitAbsent(t, []client.Client{restarted}, ns, "swept")
	waitAbsent(t, []client.Client{m.source}, ns, "held")
	waitCopies(t, []client.Client{restarted}, whileDown)
	eventually(t, "peer up again", func(context.Context) error {
		if v := peerUpValue(down.Name); v != 1 {
			return fmt.Errorf("peer_up = %v", v)
		}
		return nil
	})
}

// stopAPIServer kills the API server of cluster, as a crash would: a
// graceful stop waits a minute for the peer's open watches.
func stopAPIServer(t *testing.T, cluster *testenv.Cluster) {
	apiServer := cluster.Env.ControlPlane.APIServer
	graceful := apiServer.StopTimeout
	apiServer.StopTimeout = time.Second
	// Stop reports a timeout when it had to kill the process.
	_ = apiServer.Stop()
	apiServer.StopTimeout = graceful
	address := net.JoinHostPort(apiServer.SecureServing.Address, apiServer.SecureServing.Port)
	eventually(t, "API server port closed", func(context.Context) error {
		conn, err := net.DialTimeout("tcp", address, time.Second)
		if err != nil {
			return nil
		}
		conn.Close()
		return fmt.Errorf("%s still accepts connections", address)
	})
}
