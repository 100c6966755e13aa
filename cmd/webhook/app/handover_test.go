package app_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/meshcert/meshcert/internal/testcerts"
	"github.com/meshcert/meshcert/internal/testenv"
	"github.com/meshcert/meshcert/internal/wellknown"
)

const (
	// meshcertNamespace is meshcert's namespace, as in the chart's
	// rendering. It contains the Lease, the peer Secret and the
	// certificate Secret.
	meshcertNamespace = "meshcert-system"
	// leaseName is the leader-election ID that app.NewManager sets.
	leaseName = "meshcert-webhook"
	// sourceNamespace contains the mirrored Secrets on both clusters.
	sourceNamespace = "gateways"
	// handoverTimeout bounds every wait. It is a deadline for a hung
	// test, not a speed assertion, because polls return as soon as the
	// outcome holds.
	handoverTimeout = 2 * time.Minute
)

// leaderSeries is controller-runtime's gauge of leadership, 1 on the
// replica that holds the Lease.
var leaderSeries = fmt.Sprintf("leader_election_master_status{name=%q}", leaseName)

// TestMirrorHandover runs two webhook replicas with leader election and
// the mirror, as the chart deploys them. It stops the leader with SIGTERM
// and checks that the other replica takes the Lease and applies the
// changes made meanwhile to the peer cluster.
func TestMirrorHandover(t *testing.T) {
	clusters := testenv.StartN(t, 2, testenv.Options{})
	local, remote := clusters[0], clusters[1]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	for _, namespace := range []string{meshcertNamespace, sourceNamespace} {
		createObject(t, ctx, local.Client, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}})
	}
	createObject(t, ctx, remote.Client, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: sourceNamespace}})
	createObject(t, ctx, local.Client, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: meshcertNamespace, Name: "peers",
			Labels: map[string]string{wellknown.PeerClusterLabel: wellknown.True}},
		Data: map[string][]byte{remote.Name: kubeconfigOf(t, remote.Env, "meshcert-mirror")},
	})
	// A Secret on the peer that meshcert does not own, with the name of a
	// source created later.
	unowned := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: sourceNamespace, Name: "contested"},
		Data:       map[string][]byte{"certificate": []byte("the peer's own")},
	}
	createObject(t, ctx, remote.Client, unowned)

	updated := mirrorSource("updated", "v1")
	deleted := mirrorSource("deleted", "v1")
	createObject(t, ctx, local.Client, updated)
	createObject(t, ctx, local.Client, deleted)

	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, kubeconfigOf(t, local.Env, "meshcert-webhook"), 0o600); err != nil {
		t.Fatalf("write kubeconfig: %v", err)
	}
	leader, follower := waitForLeader(t, ctx, startMirrorReplica(t, "a", kubeconfig), startMirrorReplica(t, "b", kubeconfig))
	holder, err := leaseHolder(ctx, local.Client)
	if err != nil {
		t.Fatalf("get Lease %s/%s: %v", meshcertNamespace, leaseName, err)
	}
	if holder == "" {
		t.Fatalf("Lease %s/%s names no holder while replica %s leads", meshcertNamespace, leaseName, leader.name)
	}
	clusterID := kubeSystemUID(t, ctx, local.Client)
	waitForCopy(t, ctx, remote.Client, updated, clusterID)
	waitForCopy(t, ctx, remote.Client, deleted, clusterID)
	// With the finalizer in place, deleting the source leaves it
	// Terminating until a mirror has deleted the copy.
	pollUntil(t, ctx, "finalizer on source "+deleted.Name, func(ctx context.Context) error {
		if err := local.Client.Get(ctx, client.ObjectKeyFromObject(deleted), deleted); err != nil {
			return err
		}
		if !controllerutil.ContainsFinalizer(deleted, wellknown.MirrorFinalizer) {
			return fmt.Errorf("source %s has no finalizer %s", deleted.Name, wellknown.MirrorFinalizer)
		}
		return nil
	})

	// The follower serves the webhooks but runs no mirror.
	body, err := follower.scrape(ctx)
	if err != nil {
		t.Fatalf("scrape follower %s: %v", follower.name, err)
	}
	if value, err := seriesValue(body, leaderSeries); err != nil || value != 0 {
		t.Errorf("follower %s: %s = %v (parse error %v), want 0", follower.name, leaderSeries, value, err)
	}
	if strings.Contains(body, "meshcert_mirror_peer_up{") {
		t.Errorf("follower %s connected to peers: it reports meshcert_mirror_peer_up", follower.name)
	}

	stopped := time.Now()
	if err := leader.stop(); err != nil {
		t.Fatalf("stop leader %s: %v", leader.name, err)
	}
	t.Logf("leader %s exited %v after SIGTERM", leader.name, time.Since(stopped).Round(time.Millisecond))
	// With LeaderElectionReleaseOnCancel the manager releases the Lease
	// before it returns, instead of leaving it to expire.
	released, err := leaseHolder(ctx, local.Client)
	if err != nil {
		t.Fatalf("get Lease %s/%s: %v", meshcertNamespace, leaseName, err)
	}
	if released == holder {
		t.Fatalf("Lease still names the stopped leader %s after it exited: holder %q", leader.name, released)
	}

	// Changes while the Lease passes to the follower.
	patchData(t, ctx, local.Client, updated, "v2")
	added := mirrorSource("added", "v1")
	createObject(t, ctx, local.Client, added)
	if err := local.Client.Delete(ctx, deleted); err != nil {
		t.Fatalf("delete source %s: %v", deleted.Name, err)
	}
	contested := mirrorSource(unowned.Name, "v1")
	createObject(t, ctx, local.Client, contested)

	pollUntil(t, ctx, "follower "+follower.name+" leads", func(ctx context.Context) error {
		return follower.leads(ctx)
	})
	t.Logf("follower %s leads %v after SIGTERM", follower.name, time.Since(stopped).Round(time.Millisecond))
	newHolder, err := leaseHolder(ctx, local.Client)
	if err != nil {
		t.Fatalf("get Lease %s/%s: %v", meshcertNamespace, leaseName, err)
	}
	if newHolder == "" || newHolder == holder {
		t.Errorf("Lease holder = %q while follower %s leads, want a holder other than %q", newHolder, follower.name, holder)
	}

	waitForCopy(t, ctx, remote.Client, updated, clusterID)
	waitForCopy(t, ctx, remote.Client, added, clusterID)
	pollUntil(t, ctx, "deleted source's copy removed", func(ctx context.Context) error {
		return absent(ctx, remote.Client, deleted)
	})
	pollUntil(t, ctx, "deleted source released", func(ctx context.Context) error {
		return absent(ctx, local.Client, deleted)
	})
	conflicts := fmt.Sprintf("meshcert_mirror_conflicts{peer=%q}", remote.Name)
	pollUntil(t, ctx, "conflict reported by "+follower.name, func(ctx context.Context) error {
		value, err := follower.metric(ctx, conflicts)
		if err == nil && value != 1 {
			err = fmt.Errorf("%s = %v, want 1", conflicts, value)
		}
		return err
	})
	t.Logf("peer in sync %v after SIGTERM", time.Since(stopped).Round(time.Millisecond))

	var stored corev1.Secret
	if err := remote.Client.Get(ctx, client.ObjectKeyFromObject(unowned), &stored); err != nil {
		t.Fatalf("get unowned Secret on the peer: %v", err)
	}
	if stored.ResourceVersion != unowned.ResourceVersion {
		t.Errorf("unowned Secret on the peer was written: resourceVersion %s, want %s", stored.ResourceVersion, unowned.ResourceVersion)
	}
	if _, ok := stored.Labels[wellknown.ManagedByLabel]; ok {
		t.Errorf("unowned Secret on the peer gained label %s", wellknown.ManagedByLabel)
	}
}

// replica is one webhook process that startReplica started.
type replica struct {
	name string
	cmd  *exec.Cmd
	// webhookAddress, metricsAddress and healthAddress are the loopback
	// addresses of the HTTPS webhook server, of /metrics and of /healthz
	// and /readyz.
	webhookAddress string
	metricsAddress string
	healthAddress  string
	output         *lockedBuffer
	// exited closes when the process has exited. Its exit error is then
	// in err.
	exited chan struct{}
	err    error
}

// startMirrorReplica starts a replica as TestMirrorHandover needs it:
// leader election and the mirror on, and a test serving certificate in
// place of certificate rotation.
func startMirrorReplica(t *testing.T, name, kubeconfig string) *replica {
	t.Helper()
	certDir := t.TempDir()
	writeServingCert(t, certDir, testcerts.New(t, testcerts.Options{CommonName: "localhost", DNSNames: []string{"localhost"}}))
	return startReplica(t, name, kubeconfig,
		"--cert-dir="+certDir,
		"--leader-elect=true",
		"--mirror=true",
		"--cert-rotation.enabled=false",
		"--log.format=text",
	)
}

// startReplica starts the test binary as a webhook replica (see
// runReplica) with flags and the environment of the chart, and stops it
// when the test ends. The replica listens on loopback ports of its own,
// which startReplica sets, so flags must not set them.
func startReplica(t *testing.T, name, kubeconfig string, flags ...string) *replica {
	t.Helper()
	r := &replica{
		name:           name,
		webhookAddress: freeAddress(t),
		metricsAddress: freeAddress(t),
		healthAddress:  freeAddress(t),
		output:         &lockedBuffer{},
		exited:         make(chan struct{}),
	}

	host, port, err := net.SplitHostPort(r.webhookAddress)
	if err != nil {
		t.Fatalf("split webhook address %s: %v", r.webhookAddress, err)
	}
	args := append(slices.Clone(flags),
		"--webhook-host="+host,
		"--webhook-port="+port,
		"--metrics-bind-address="+r.metricsAddress,
		"--health-probe-bind-address="+r.healthAddress,
	)
	r.cmd = exec.Command(os.Args[0], args...)
	r.cmd.Env = append(os.Environ(), replicaEnv+"=1", "KUBECONFIG="+kubeconfig, "POD_NAMESPACE="+meshcertNamespace)
	r.cmd.Stdout, r.cmd.Stderr = r.output, r.output
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start replica %s: %v", name, err)
	}

	go func() {
		r.err = r.cmd.Wait()
		close(r.exited)
	}()
	t.Cleanup(func() {
		if err := r.stop(); err != nil {
			t.Errorf("stop replica %s: %v", r.name, err)
		}
		if t.Failed() {
			t.Logf("output of replica %s:\n%s", r.name, r.output.String())
		}
	})
	return r
}

// stop sends SIGTERM, as the kubelet does when it deletes a pod, and
// returns the exit error once the process has exited.
func (r *replica) stop() error {
	select {
	case <-r.exited:
		return r.err
	default:
	}
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("send SIGTERM: %w", err)
	}
	select {
	case <-r.exited:
		return r.err
	case <-time.After(time.Minute):
		_ = r.cmd.Process.Kill()
		<-r.exited
		return errors.New("still running a minute after SIGTERM, killed")
	}
}

func (r *replica) scrape(ctx context.Context) (string, error) {
	select {
	case <-r.exited:
		return "", fmt.Errorf("replica %s exited: %v", r.name, r.err)
	default:
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	request, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+r.metricsAddress+"/metrics", nil)
	if err != nil {
		return "", err
	}
	response, err := http.DefaultClient.Do(request)
	if err != nil {
		return "", err
	}
	defer response.Body.Close()
	body, err := io.ReadAll(response.Body)
	if err != nil {
		return "", err
	}
	if response.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET /metrics of replica %s: status %d", r.name, response.StatusCode)
	}
	return string(body), nil
}

// metric returns the value of series in the replica's /metrics, and 0
// when the series is absent.
func (r *replica) metric(ctx context.Context, series string) (float64, error) {
	body, err := r.scrape(ctx)
	if err != nil {
		return 0, err
	}
	return seriesValue(body, series)
}

// seriesValue returns the value of series, such as name{label="value"},
// in a Prometheus text exposition, and 0 when the series is absent.
func seriesValue(exposition, series string) (float64, error) {
	for line := range strings.SplitSeq(exposition, "\n") {
		if value, ok := strings.CutPrefix(line, series+" "); ok {
			return strconv.ParseFloat(value, 64)
		}
	}
	return 0, nil
}

// leads returns nil when the replica reports that it holds the Lease.
func (r *replica) leads(ctx context.Context) error {
	value, err := r.metric(ctx, leaderSeries)
	if err == nil && value != 1 {
		err = fmt.Errorf("replica %s: %s = %v, want 1", r.name, leaderSeries, value)
	}
	return err
}

// waitForLeader returns the replica that acquires the Lease first, and
// the other one.
func waitForLeader(t *testing.T, ctx context.Context, a, b *replica) (leader, follower *replica) {
	t.Helper()
	pollUntil(t, ctx, "a replica leads", func(ctx context.Context) error {
		if err := a.leads(ctx); err == nil {
			leader, follower = a, b
			return nil
		}
		if err := b.leads(ctx); err != nil {
			return err
		}
		leader, follower = b, a
		return nil
	})
	return leader, follower
}

// lockedBuffer collects a process's output from its stdout and stderr
// copiers.
type lockedBuffer struct {
	mu     sync.Mutex
	buffer bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buffer.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buffer.String()
}

// pollUntil calls check until it returns nil, and fails the test with its
// last error after handoverTimeout.
func pollUntil(t *testing.T, ctx context.Context, what string, check func(context.Context) error) {
	t.Helper()
	deadline := time.Now().Add(handoverTimeout)
	for {
		err := check(ctx)
		if err == nil {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("%s: still not true after %v: %v", what, handoverTimeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// kubeconfigOf provisions a cluster administrator on env and returns a
// kubeconfig with its inline credentials.
func kubeconfigOf(t *testing.T, env *envtest.Environment, user string) []byte {
	t.Helper()
	return userKubeconfig(t, env, envtest.User{Name: user, Groups: []string{"system:masters"}})
}

// userKubeconfig provisions user on env, with a client certificate that
// names it and its groups, and returns a kubeconfig with its inline
// credentials.
func userKubeconfig(t *testing.T, env *envtest.Environment, user envtest.User) []byte {
	t.Helper()
	authenticated, err := env.AddUser(user, &rest.Config{})
	if err != nil {
		t.Fatalf("add user %s: %v", user.Name, err)
	}
	kubeconfig, err := authenticated.KubeConfig()
	if err != nil {
		t.Fatalf("kubeconfig of user %s: %v", user.Name, err)
	}
	return kubeconfig
}

// kubeSystemUID returns the UID of kube-system, the cluster ID that the
// mirror writes on its copies by default.
func kubeSystemUID(t *testing.T, ctx context.Context, c client.Client) string {
	t.Helper()
	var namespace corev1.Namespace
	pollUntil(t, ctx, "namespace kube-system exists", func(ctx context.Context) error {
		return c.Get(ctx, client.ObjectKey{Name: metav1.NamespaceSystem}, &namespace)
	})
	return string(namespace.UID)
}

func leaseHolder(ctx context.Context, c client.Client) (string, error) {
	var lease coordinationv1.Lease
	if err := c.Get(ctx, client.ObjectKey{Namespace: meshcertNamespace, Name: leaseName}, &lease); err != nil {
		return "", err
	}
	return ptr.Deref(lease.Spec.HolderIdentity, ""), nil
}

func createObject(t *testing.T, ctx context.Context, c client.Client, object client.Object) {
	t.Helper()
	if err := c.Create(ctx, object); err != nil {
		t.Fatalf("create %T %s: %v", object, object.GetName(), err)
	}
}

// mirrorSource returns a Secret labelled for mirroring whose data names
// version.
func mirrorSource(name, version string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: sourceNamespace, Name: name,
			Labels: map[string]string{wellknown.MirrorLabel: wellknown.True}},
		Data: map[string][]byte{"certificate": []byte(name + " " + version)},
	}
}

// patchData replaces the source's data with that of version, by a merge
// patch that does not conflict with the finalizer the mirror adds.
func patchData(t *testing.T, ctx context.Context, c client.Client, source *corev1.Secret, version string) {
	t.Helper()
	patch := client.MergeFrom(source.DeepCopy())
	source.Data = mirrorSource(source.Name, version).Data
	if err := c.Patch(ctx, source, patch); err != nil {
		t.Fatalf("update source %s: %v", source.Name, err)
	}
}

// waitForCopy polls until the peer contains a copy of source with its data,
// written by the mirror of clusterID.
func waitForCopy(t *testing.T, ctx context.Context, peer client.Client, source *corev1.Secret, clusterID string) {
	t.Helper()
	pollUntil(t, ctx, "copy of "+source.Name+" on the peer", func(ctx context.Context) error {
		var copied corev1.Secret
		if err := peer.Get(ctx, client.ObjectKeyFromObject(source), &copied); err != nil {
			return err
		}
		if copied.Labels[wellknown.ManagedByLabel] != wellknown.ManagedByMirror ||
			copied.Labels[wellknown.SourceClusterLabel] != clusterID {
			return fmt.Errorf("Secret %s on the peer is not a copy from cluster %s: labels %v", source.Name, clusterID, copied.Labels)
		}
		if len(copied.Data) != len(source.Data) {
			return fmt.Errorf("copy of %s has %d data keys, want %d", source.Name, len(copied.Data), len(source.Data))
		}
		for key, value := range source.Data {
			if !bytes.Equal(copied.Data[key], value) {
				return fmt.Errorf("copy of %s: data key %s differs from the source", source.Name, key)
			}
		}
		return nil
	})
}

// absent returns nil when c contains no Secret with the name of secret.
func absent(ctx context.Context, c client.Client, secret *corev1.Secret) error {
	err := c.Get(ctx, client.ObjectKeyFromObject(secret), &corev1.Secret{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("Secret %s/%s still exists", secret.Namespace, secret.Name)
}
