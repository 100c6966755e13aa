package mirror

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/meshcert/meshcert/internal/logging"
	"github.com/meshcert/meshcert/internal/testenv"
	"github.com/meshcert/meshcert/internal/wellknown"
)

// mirrorNamespace holds the peer Secrets in the tests.
const mirrorNamespace = "meshcert-system"

// pollTimeout bounds every wait for an outcome. It is a deadline for a
// hung test, not a speed assertion: polls return as soon as the outcome
// holds.
const pollTimeout = 2 * time.Minute

// testOptions are short periods, so sweeps and retries happen within a
// test's polling.
func testOptions(clusterID string) Options {
	opts := DefaultOptions()
	opts.Namespace = mirrorNamespace
	opts.ClusterID = clusterID
	opts.CreateNamespaces = true
	opts.PeerQPS, opts.PeerBurst = 500, 1000
	opts.PeerTimeout = 5 * time.Second
	opts.SweepInterval = 2 * time.Second
	opts.HealthInterval = time.Second
	opts.RetryBaseDelay = 20 * time.Millisecond
	opts.RetryMaxDelay = time.Second
	return opts
}

// testLogger logs to stderr when MESHCERT_TEST_LOG is set to a level.
func testLogger(t testing.TB) logr.Logger {
	level := os.Getenv("MESHCERT_TEST_LOG")
	if level == "" {
		// A logger with a sink, so controller-runtime does not fall back
		// to its global logger.
		return funcr.New(func(string, string) {}, funcr.Options{})
	}
	logger, err := logging.New(logging.Options{Level: level, Format: "text"})
	if err != nil {
		t.Fatalf("build logger: %v", err)
	}
	return logger
}

var setGlobalLogger sync.Once

// startMirror runs a manager with the mirror on cluster until the test
// ends.
func startMirror(t testing.TB, cluster *rest.Config, opts Options) {
	t.Helper()
	// Peer clients log API warnings through controller-runtime's global
	// logger.
	setGlobalLogger.Do(func() { ctrllog.SetLogger(testLogger(t)) })
	mgr, err := manager.New(cluster, manager.Options{
		Scheme:                 testenv.Scheme,
		Logger:                 testLogger(t),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// Several managers run in one test process.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatalf("create manager: %v", err)
	}
	if err := Add(mgr, opts); err != nil {
		t.Fatalf("add mirror: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager stopped with error: %v", err)
		}
	})
}

// kubeconfigFor provisions a user with full access on cluster and returns
// its kubeconfig and a client that acts as that user.
func kubeconfigFor(t testing.TB, env *envtest.Environment, user string) ([]byte, client.Client) {
	t.Helper()
	authenticated, err := env.AddUser(envtest.User{Name: user, Groups: []string{"system:masters"}}, &rest.Config{QPS: 1000, Burst: 2000})
	if err != nil {
		t.Fatalf("add user %s: %v", user, err)
	}
	kubeconfig, err := authenticated.KubeConfig()
	if err != nil {
		t.Fatalf("kubeconfig of user %s: %v", user, err)
	}
	c, err := client.New(authenticated.Config(), client.Options{Scheme: testenv.Scheme})
	if err != nil {
		t.Fatalf("client for user %s: %v", user, err)
	}
	return kubeconfig, c
}

// writePeerSecret creates or updates a peer Secret in meshcert's layout.
func writePeerSecret(t testing.TB, c client.Client, name string, kubeconfigs map[string][]byte) {
	t.Helper()
	writeLabelledPeerSecret(t, c, name, map[string]string{wellknown.PeerClusterLabel: wellknown.True}, kubeconfigs)
}

// writeLabelledPeerSecret creates or updates a peer Secret with labels.
func writeLabelledPeerSecret(t testing.TB, c client.Client, name string, labels map[string]string, kubeconfigs map[string][]byte) {
	t.Helper()
	ctx := testenv.Context(t)
	ensureNamespace(t, c, mirrorNamespace)
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: mirrorNamespace, Name: name}}
	_, err := controllerutilCreateOrUpdate(ctx, c, secret, func() {
		secret.Labels = labels
		secret.Data = kubeconfigs
	})
	if err != nil {
		t.Fatalf("write peer Secret %s: %v", name, err)
	}
}

func ensureNamespace(t testing.TB, c client.Client, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := c.Create(testenv.Context(t), ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create namespace %s: %v", name, err)
	}
}

// eventually polls check until it returns nil, failing the test with the
// last error after pollTimeout.
func eventually(t testing.TB, what string, check func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), pollTimeout)
	defer cancel()
	var last error
	for {
		if last = check(ctx); last == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: still not true after %v: %v", what, pollTimeout, last)
		case <-time.After(25 * time.Millisecond):
		}
	}
}

func getSecret(ctx context.Context, c client.Client, namespace, name string) (*corev1.Secret, error) {
	var secret corev1.Secret
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &secret); err != nil {
		return nil, err
	}
	return &secret, nil
}

// copyMatches returns nil when c contains a copy of source written by
// clusterID with source's data.
func copyMatches(ctx context.Context, c client.Client, source *corev1.Secret, clusterID string) error {
	copied, err := getSecret(ctx, c, source.Namespace, source.Name)
	if err != nil {
		return err
	}
	if copied.Labels[wellknown.SourceClusterLabel] != clusterID || !isCopy(copied) {
		return fmt.Errorf("Secret %s/%s is not a copy from %s: labels %v", source.Namespace, source.Name, clusterID, copied.Labels)
	}
	if len(copied.Data) != len(source.Data) {
		return fmt.Errorf("copy has %d data keys, want %d", len(copied.Data), len(source.Data))
	}
	for key, value := range source.Data {
		if string(copied.Data[key]) != string(value) {
			return fmt.Errorf("copy data key %s differs from the source", key)
		}
	}
	return nil
}

// absent returns nil when c contains no Secret namespace/name.
func absent(ctx context.Context, c client.Client, namespace, name string) error {
	_, err := getSecret(ctx, c, namespace, name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("Secret %s/%s still exists", namespace, name)
}

func controllerutilCreateOrUpdate(ctx context.Context, c client.Client, obj client.Object, mutate func()) (string, error) {
	result, err := controllerutil.CreateOrUpdate(ctx, c, obj, func() error { mutate(); return nil })
	return string(result), err
}
