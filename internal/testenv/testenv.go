// Package testenv starts real Kubernetes API servers for tests.
//
// Each Cluster is a kube-apiserver and etcd started by controller-runtime's
// envtest, with the Istio networking CRDs and the Gateway API standard CRDs
// installed from their Go modules. Several clusters can run at once, one per
// simulated member of a multi-cluster mesh.
//
// The binaries come from hack/tools/install.sh; 'make test' builds them
// into a per-version cache and exports TEST_ASSET_KUBE_APISERVER and
// TEST_ASSET_ETCD. Running 'go test' directly needs those two variables, or
// KUBEBUILDER_ASSETS naming a folder that holds both binaries.
package testenv

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/meshcert/meshcert/internal/crds"
)

// Cluster is one running API server.
type Cluster struct {
	Name   string
	Env    *envtest.Environment
	Config *rest.Config
	Client client.Client
}

// Options adjust the clusters that Start creates.
type Options struct {
	// Webhook, when set, installs webhook configurations and serves them
	// from the test process (see envtest.WebhookInstallOptions).
	Webhook *envtest.WebhookInstallOptions
	// ExtraCRDPaths are further files or folders of CRDs to install.
	ExtraCRDPaths []string
	// APIServerFlags are further kube-apiserver flags, by name without
	// the leading dashes, such as "egress-selector-config-file".
	APIServerFlags map[string]string
}

var loggerOnce sync.Once

// Scheme contains the core Kubernetes types and the Gateway API types.
var Scheme = newScheme()

func newScheme() *runtime.Scheme {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme,
		gatewayv1.Install,
		gatewayv1beta1.Install,
	} {
		if err := add(scheme); err != nil {
			panic(fmt.Sprintf("build test scheme: %v", err))
		}
	}
	return scheme
}

// Start starts one API server with the CRDs installed and stops it when
// the test ends.
func Start(tb testing.TB, opts Options) *Cluster {
	tb.Helper()
	return StartN(tb, 1, opts)[0]
}

// StartN starts n API servers at once, named cluster-1 to cluster-n. Only
// the first gets opts.Webhook, because a webhook server serves one API
// server in these tests.
func StartN(tb testing.TB, n int, opts Options) []*Cluster {
	tb.Helper()
	requireBinaries(tb)
	// envtest logs through controller-runtime's global logger, which
	// prints a stack trace to stderr when nothing was set.
	loggerOnce.Do(func() { ctrllog.SetLogger(logr.Discard()) })
	crdPaths, err := crds.Paths()
	if err != nil {
		tb.Fatalf("locate CRDs: %v", err)
	}
	crdPaths = append(crdPaths, opts.ExtraCRDPaths...)

	clusters := make([]*Cluster, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		webhook := (*envtest.WebhookInstallOptions)(nil)
		if i == 0 {
			webhook = opts.Webhook
		}
		// The certificate folder outlives each kube-apiserver process, so
		// RestartAPIServer can serve the same certificates again.
		certDir := tb.TempDir()
		wg.Go(func() {
			clusters[i], errs[i] = startCluster(fmt.Sprintf("cluster-%d", i+1), crdPaths, certDir, webhook, opts.APIServerFlags)
		})
	}
	wg.Wait()

	for _, cluster := range clusters {
		if cluster != nil {
			tb.Cleanup(func() { cluster.Stop(tb) })
		}
	}
	for _, err := range errs {
		if err != nil {
			tb.Fatal(err)
		}
	}
	return clusters
}

func startCluster(name string, crdPaths []string, certDir string, webhook *envtest.WebhookInstallOptions,
	apiServerFlags map[string]string) (*Cluster, error) {
	env := &envtest.Environment{
		// envtest creates the serving certificate, the client CA and the
		// service account keys in a temporary folder that it deletes when
		// the API server stops, unless CertDir names a folder.
		ControlPlane:          envtest.ControlPlane{APIServer: &envtest.APIServer{CertDir: certDir}},
		CRDDirectoryPaths:     crdPaths,
		ErrorIfCRDPathMissing: true,
		Scheme:                Scheme,
		// Starting several API servers at once on a loaded machine takes
		// longer than envtest's 20-second default.
		ControlPlaneStartTimeout: 2 * time.Minute,
		ControlPlaneStopTimeout:  time.Minute,
	}
	// On SIGTERM the API server waits up to --request-timeout (one minute
	// by default) for open watches to end, because k8s.io/apiserver uses
	// it as the HTTP server's shutdown timeout. With a grace period it ends
	// the watches itself, so stopping a cluster with clients attached
	// takes seconds.
	apiServerArgs := env.ControlPlane.GetAPIServer().Configure()
	apiServerArgs.Set("shutdown-watch-termination-grace-period", "2s")
	for name, value := range apiServerFlags {
		apiServerArgs.Set(name, value)
	}
	if webhook != nil {
		env.WebhookInstallOptions = *webhook
	}

	config, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("start API server %s: %w", name, err)
	}
	// The API servers are local and tests create objects in bursts.
	config.QPS, config.Burst = 1000, 2000

	c, err := client.New(config, client.Options{Scheme: Scheme})
	if err != nil {
		_ = env.Stop()
		return nil, fmt.Errorf("create client for %s: %w", name, err)
	}
	return &Cluster{Name: name, Env: env, Config: config, Client: c}, nil
}

// Stop stops the API server and etcd. It is safe to call more than once.
func (c *Cluster) Stop(tb testing.TB) {
	tb.Helper()
	if c.Env == nil {
		return
	}
	if err := c.Env.Stop(); err != nil {
		tb.Errorf("stop API server %s: %v", c.Name, err)
	}
	c.Env = nil
}

// Context returns a context that ends with the test or after a minute.
func Context(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	tb.Cleanup(cancel)
	return ctx
}

func requireBinaries(tb testing.TB) {
	tb.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") != "" {
		return
	}
	for _, name := range []string{"TEST_ASSET_KUBE_APISERVER", "TEST_ASSET_ETCD"} {
		path := os.Getenv(name)
		if path == "" {
			tb.Fatalf("%s is not set: run the tests with 'make test', which builds kube-apiserver "+
				"and etcd and sets it, or see hack/tools/install.sh", name)
		}
		if _, err := os.Stat(path); err != nil {
			tb.Fatalf("%s: %v; run 'make tools' to build it", name, err)
		}
	}
}
