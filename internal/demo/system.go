package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshcert/meshcert/internal/crds"
	"github.com/meshcert/meshcert/internal/wellknown"
)

const (
	meshcertNamespace = "meshcert-system"
	istioNamespace    = "istio-system"
	peerSecretName    = "meshcert-peers"
)

// system is everything the demo started.
type system struct {
	opts     Options
	dir      string
	scheme   *runtime.Scheme
	warnings *warningRecorder
	planes   []*controlPlane
	webhook  *process
	exporter *process

	exporterURL string
}

func startSystem(ctx context.Context, opts Options, dir string) (*system, error) {
	scheme, err := newScheme()
	if err != nil {
		return &system{}, err
	}
	sys := &system{opts: opts, dir: dir, scheme: scheme, warnings: &warningRecorder{}}

	if err := sys.startControlPlanes(); err != nil {
		return sys, err
	}
	for _, plane := range sys.planes {
		for _, name := range []string{meshcertNamespace, istioNamespace} {
			namespace := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
			if err := plane.client.Create(ctx, namespace); err != nil {
				return sys, fmt.Errorf("create namespace %s in %s: %w", name, plane.name, err)
			}
		}
	}
	if err := sys.configurePeer(ctx); err != nil {
		return sys, err
	}
	if err := sys.startWebhook(ctx); err != nil {
		return sys, err
	}
	if err := sys.startExporter(ctx); err != nil {
		return sys, err
	}
	return sys, nil
}

// startControlPlanes starts both control planes at once, since each takes
// several seconds.
func (s *system) startControlPlanes() error {
	crdPaths, err := crds.Paths()
	if err != nil {
		return fmt.Errorf("locate the Istio and Gateway API CRDs: %w; "+
			"run the demo from the meshcert repository with 'make demo', whose go.mod pins them", err)
	}
	names := []string{"cluster-1", "cluster-2"}
	planes := make([]*controlPlane, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			planes[i], errs[i] = startControlPlane(name, s.dir, crdPaths, s.scheme, s.warnings)
		})
	}
	wg.Wait()

	for _, plane := range planes {
		if plane != nil {
			s.planes = append(s.planes, plane)
		}
	}
	return errors.Join(errs...)
}

func (s *system) source() *controlPlane { return s.planes[0] }
func (s *system) peer() *controlPlane   { return s.planes[1] }

// configurePeer stores cluster-2's kubeconfig in the peer-cluster Secret of
// cluster-1, so the mirror copies labelled Secrets there.
func (s *system) configurePeer(ctx context.Context) error {
	kubeconfig, err := os.ReadFile(s.peer().kubeconfig)
	if err != nil {
		return fmt.Errorf("read kubeconfig of %s: %w", s.peer().name, err)
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:      peerSecretName,
			Namespace: meshcertNamespace,
			Labels:    map[string]string{wellknown.PeerClusterLabel: wellknown.True},
		},
		Data: map[string][]byte{s.peer().name: kubeconfig},
	}
	if err := s.source().client.Create(ctx, secret); err != nil {
		return fmt.Errorf("create peer-cluster Secret: %w", err)
	}
	return nil
}

func (s *system) startWebhook(ctx context.Context) error {
	ports, err := freePorts(3)
	if err != nil {
		return err
	}
	webhookPort, metricsPort, healthPort := ports[0], ports[1], ports[2]

	certDir := filepath.Join(s.dir, "webhook-certs")
	caPEM, err := writeServingCertificate(certDir)
	if err != nil {
		return err
	}

	args := []string{
		"--cert-dir=" + certDir,
		// The demo issues the serving certificate itself, for 127.0.0.1.
		"--cert-rotation.enabled=false",
		"--webhook-host=127.0.0.1",
		"--webhook-port=" + strconv.Itoa(webhookPort),
		"--metrics-bind-address=" + loopback(metricsPort),
		"--health-probe-bind-address=" + loopback(healthPort),
		"--namespace=" + meshcertNamespace,
		"--leader-elect=false",
		// No API server Service routes to the demo's webhook, so it stops
		// at once when the demo ends.
		"--shutdown-delay=0",
		"--log.format=text",
	}
	s.webhook, err = startProcess("webhook", filepath.Join(s.opts.BinDir, "webhook"), s.dir, args,
		[]string{"KUBECONFIG=" + s.source().kubeconfig})
	if err != nil {
		return err
	}
	if err := s.webhook.waitReady(ctx, "http://"+loopback(healthPort)+"/readyz"); err != nil {
		return err
	}
	return s.installWebhookConfigurations(ctx, "https://"+loopback(webhookPort), caPEM)
}

func (s *system) startExporter(ctx context.Context) error {
	ports, err := freePorts(1)
	if err != nil {
		return err
	}
	address := loopback(ports[0])
	args := []string{"--web.listen-address=" + address, "--log.format=text"}
	s.exporter, err = startProcess("exporter", filepath.Join(s.opts.BinDir, "exporter"), s.dir, args,
		[]string{"KUBECONFIG=" + s.source().kubeconfig})
	if err != nil {
		return err
	}
	s.exporterURL = "http://" + address
	return s.exporter.waitReady(ctx, s.exporterURL+"/readyz")
}

// installWebhookConfigurations installs the shipped webhook configurations
// with their Service references replaced by the local webhook's URL.
func (s *system) installWebhookConfigurations(ctx context.Context, baseURL string, caPEM []byte) error {
	for _, path := range s.opts.WebhookConfigs {
		if err := s.installWebhookFile(ctx, path, baseURL, caPEM); err != nil {
			return err
		}
	}
	return nil
}

func (s *system) installWebhookFile(ctx context.Context, path, baseURL string, caPEM []byte) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read webhook configurations: %w", err)
	}
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var raw runtime.RawExtension
		if err := decoder.Decode(&raw); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("decode %s: %w", path, err)
		}
		if len(bytes.TrimSpace(raw.Raw)) == 0 {
			continue
		}
		object, err := decodeWebhookConfiguration(raw.Raw, baseURL, caPEM)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if err := s.source().client.Create(ctx, object); err != nil {
			return fmt.Errorf("install %s from %s: %w", object.GetName(), path, err)
		}
	}
}

func decodeWebhookConfiguration(raw []byte, baseURL string, caPEM []byte) (client.Object, error) {
	var meta metav1.TypeMeta
	if err := utilyaml.Unmarshal(raw, &meta); err != nil {
		return nil, fmt.Errorf("decode object kind: %w", err)
	}
	clientConfig := func(config *admissionregistrationv1.WebhookClientConfig) {
		path := ""
		if config.Service != nil && config.Service.Path != nil {
			path = *config.Service.Path
		}
		url := baseURL + path
		config.URL, config.Service, config.CABundle = &url, nil, caPEM
	}

	switch meta.Kind {
	case "ValidatingWebhookConfiguration":
		var object admissionregistrationv1.ValidatingWebhookConfiguration
		if err := utilyaml.Unmarshal(raw, &object); err != nil {
			return nil, fmt.Errorf("decode %s: %w", meta.Kind, err)
		}
		for i := range object.Webhooks {
			clientConfig(&object.Webhooks[i].ClientConfig)
		}
		return &object, nil
	case "MutatingWebhookConfiguration":
		var object admissionregistrationv1.MutatingWebhookConfiguration
		if err := utilyaml.Unmarshal(raw, &object); err != nil {
			return nil, fmt.Errorf("decode %s: %w", meta.Kind, err)
		}
		for i := range object.Webhooks {
			clientConfig(&object.Webhooks[i].ClientConfig)
		}
		return &object, nil
	default:
		return nil, fmt.Errorf("unexpected kind %q: want webhook configurations only", meta.Kind)
	}
}

// writeServingCertificate issues a CA and a serving certificate for
// 127.0.0.1 into dir and returns the CA in PEM.
func writeServingCertificate(dir string) ([]byte, error) {
	ca, err := issue(certRequest{commonName: "meshcert demo webhook CA", validFor: 24 * time.Hour, isCA: true})
	if err != nil {
		return nil, err
	}
	serving, err := issue(certRequest{
		commonName: "meshcert-webhook",
		dnsNames:   []string{"localhost"},
		ips:        []net.IP{net.IPv4(127, 0, 0, 1)},
		validFor:   24 * time.Hour,
		issuer:     ca,
	})
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create webhook certificate folder: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.crt"), serving.certPEM, 0o600); err != nil {
		return nil, fmt.Errorf("write webhook certificate: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.key"), serving.keyPEM, 0o600); err != nil {
		return nil, fmt.Errorf("write webhook key: %w", err)
	}
	return ca.certPEM, nil
}

// stop stops the processes, then the control planes. It is safe on a
// partly started system.
func (s *system) stop() error {
	var errs []error
	for _, p := range []*process{s.exporter, s.webhook} {
		if p != nil {
			errs = append(errs, p.stop())
		}
	}
	for _, plane := range s.planes {
		errs = append(errs, plane.stop())
	}
	return errors.Join(errs...)
}

func freePorts(n int) ([]int, error) {
	ports := make([]int, n)
	for i := range ports {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		ports[i] = port
	}
	return ports, nil
}

func loopback(port int) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// warningRecorder keeps the admission warnings the API server returns.
type warningRecorder struct {
	mu       sync.Mutex
	warnings []string
}

func (r *warningRecorder) HandleWarningHeader(code int, _ string, message string) {
	if code != 299 || message == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.warnings = append(r.warnings, message)
}

// take returns the warnings recorded since the last call.
func (r *warningRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	warnings := r.warnings
	r.warnings = nil
	return warnings
}
