package demo

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// controlPlane is one local kube-apiserver and etcd.
type controlPlane struct {
	name       string
	env        *envtest.Environment
	config     *rest.Config
	client     client.Client
	kubeconfig string
}

func newScheme() (*runtime.Scheme, error) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("register core types: %w", err)
	}
	if err := gatewayv1.Install(scheme); err != nil {
		return nil, fmt.Errorf("register Gateway API types: %w", err)
	}
	return scheme, nil
}

// startControlPlane starts an API server with the mesh CRDs and writes a
// cluster-admin kubeconfig for it into dir.
func startControlPlane(
	name, dir string, crdPaths []string, scheme *runtime.Scheme, warnings rest.WarningHandler,
) (*controlPlane, error) {
	env := &envtest.Environment{
		CRDDirectoryPaths:        crdPaths,
		ErrorIfCRDPathMissing:    true,
		Scheme:                   scheme,
		ControlPlaneStartTimeout: 2 * time.Minute,
		ControlPlaneStopTimeout:  time.Minute,
	}
	config, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("start control plane %s: %w", name, err)
	}
	plane := &controlPlane{name: name, env: env, config: config}

	if err := plane.writeKubeconfig(dir); err != nil {
		plane.stop()
		return nil, err
	}
	config = rest.CopyConfig(config)
	config.WarningHandler = warnings
	plane.client, err = client.New(config, client.Options{Scheme: scheme})
	if err != nil {
		plane.stop()
		return nil, fmt.Errorf("create client for %s: %w", name, err)
	}
	return plane, nil
}

func (p *controlPlane) writeKubeconfig(dir string) error {
	user, err := p.env.AddUser(envtest.User{Name: "meshcert-demo", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("add user to %s: %w", p.name, err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("build kubeconfig for %s: %w", p.name, err)
	}
	p.kubeconfig = filepath.Join(dir, p.name+".kubeconfig")
	if err := os.WriteFile(p.kubeconfig, kubeconfig, 0o600); err != nil {
		return fmt.Errorf("write kubeconfig for %s: %w", p.name, err)
	}
	return nil
}

func (p *controlPlane) stop() error {
	if p.env == nil {
		return nil
	}
	err := p.env.Stop()
	p.env = nil
	if err != nil {
		return fmt.Errorf("stop control plane %s: %w", p.name, err)
	}
	return nil
}
