package app_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/meshcert/meshcert/cmd/webhook/app"
	"github.com/meshcert/meshcert/internal/testcerts"
	"github.com/meshcert/meshcert/internal/testenv"
	"github.com/meshcert/meshcert/internal/webhook"
	"github.com/meshcert/meshcert/internal/wellknown"
)

// chartManifest is the chart's rendering with its default values, which
// run two replicas that rotate their own serving certificate.
const chartManifest = "../../../deploy/meshcert.yaml"

// TestReplicasShareRotatedCertificate installs the chart's objects and
// starts two replicas at once with the chart's flags, as its ServiceAccount,
// against an empty certificate Secret. Both must become ready serving a
// certificate from the one CA injected into every webhook, and the API
// server's calls through the webhook Service must succeed whichever
// replica serves them, because the chart's validating webhooks fail
// closed.
func TestReplicasShareRotatedCertificate(t *testing.T) {
	proxy := startServiceProxy(t)
	cluster := testenv.Start(t, testenv.Options{APIServerFlags: map[string]string{
		"egress-selector-config-file": proxy.egressSelectorConfig(t),
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	objects := readManifest(t, chartManifest)
	for _, object := range objects {
		err := cluster.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(object), client.FieldOwner("helm"))
		if err != nil {
			t.Fatalf("apply %s %s: %v", object.GetKind(), object.GetName(), err)
		}
	}
	deployment := findObject(t, objects, "Deployment", "meshcert-webhook")
	flags, opts := chartWebhookFlags(t, deployment)
	rotation := opts.CertRotation
	serviceDNSName := rotation.ServiceName + "." + meshcertNamespace + ".svc"

	serviceAccount, _, _ := unstructured.NestedString(deployment.Object, "spec", "template", "spec", "serviceAccountName")
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	err := os.WriteFile(kubeconfig, userKubeconfig(t, cluster.Env, envtest.User{
		Name:   "system:serviceaccount:" + meshcertNamespace + ":" + serviceAccount,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + meshcertNamespace},
	}), 0o600)
	if err != nil {
		t.Fatalf("write kubeconfig: %v", err)
	}

	// Each replica gets a cert dir of its own, as each pod has its own
	// emptyDir. The default shutdown delay would only slow the cleanup.
	started := time.Now()
	certDirs := map[string]string{"a": t.TempDir(), "b": t.TempDir()}
	replicas := []*replica{
		startReplica(t, "a", kubeconfig, slices.Concat(flags, []string{"--cert-dir=" + certDirs["a"], "--shutdown-delay=0"})...),
		startReplica(t, "b", kubeconfig, slices.Concat(flags, []string{"--cert-dir=" + certDirs["b"], "--shutdown-delay=0"})...),
	}
	for _, r := range replicas {
		pollUntil(t, ctx, "replica "+r.name+" ready", r.ready)
	}
	t.Logf("both replicas ready %v after they started", time.Since(started).Round(time.Millisecond))

	var secret corev1.Secret
	if err := cluster.Client.Get(ctx, client.ObjectKey{Namespace: meshcertNamespace, Name: rotation.SecretName}, &secret); err != nil {
		t.Fatalf("get certificate Secret: %v", err)
	}
	caPEM := secret.Data["ca.crt"]
	if n := countCertificates(caPEM); n != 1 {
		t.Fatalf("Secret %s: ca.crt contains %d certificates, want 1", rotation.SecretName, n)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	checkCABundles(t, ctx, cluster.Client, rotation.ValidatingWebhook, rotation.MutatingWebhook, caPEM)

	for _, r := range replicas {
		certPEM := readTestFile(t, filepath.Join(certDirs[r.name], corev1.TLSCertKey))
		keyPEM := readTestFile(t, filepath.Join(certDirs[r.name], corev1.TLSPrivateKeyKey))
		if !bytes.Equal(certPEM, secret.Data[corev1.TLSCertKey]) {
			t.Errorf("replica %s: tls.crt in its cert dir differs from the Secret's", r.name)
		}
		if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
			t.Errorf("replica %s: tls.crt and tls.key in its cert dir do not form a key pair: %v", r.name, err)
		}
		checkServedCertificate(t, r, roots, serviceDNSName, secret.Data[corev1.TLSCertKey])
		// cert-controller logs this line each time it generates a CA.
		t.Logf("replica %s generated a CA %d times", r.name, strings.Count(r.output.String(), "refreshing CA and server certs"))
	}

	var service corev1.Service
	if err := cluster.Client.Get(ctx, client.ObjectKey{Namespace: meshcertNamespace, Name: rotation.ServiceName}, &service); err != nil {
		t.Fatalf("get webhook Service: %v", err)
	}
	serviceAddress := net.JoinHostPort(service.Spec.ClusterIP, "443")

	createObject(t, ctx, cluster.Client, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "apps"}})
	admitted := time.Now()
	for i, r := range []*replica{replicas[0], replicas[1], replicas[0], replicas[1]} {
		other := replicas[0]
		if r == other {
			other = replicas[1]
		}
		proxy.route(t, r.webhookAddress)
		before, otherBefore := webhookCalls(t, ctx, r), webhookCalls(t, ctx, other)
		checkAdmissionThrough(t, ctx, cluster.Client, r.name, fmt.Sprintf("round-%d", i))
		after, otherAfter := webhookCalls(t, ctx, r), webhookCalls(t, ctx, other)
		// Each create calls the mutating webhook, then the validating one.
		for _, path := range []string{webhook.MutateSecretPath, webhook.ValidateSecretPath} {
			if got := after[path] - before[path]; got != 2 {
				t.Errorf("round %d: replica %s served %v calls to %s, want 2", i, r.name, got, path)
			}
			if got := otherAfter[path] - otherBefore[path]; got != 0 {
				t.Errorf("round %d: replica %s served %v calls to %s while the Service routed to %s, want 0",
					i, other.name, got, path, r.name)
			}
		}
	}
	t.Logf("four rounds of admission took %v", time.Since(admitted).Round(time.Millisecond))

	targets, opened := proxy.counts()
	for target := range targets {
		if target != serviceAddress {
			t.Errorf("the API server dialed %s through the proxy, want only the Service at %s", target, serviceAddress)
		}
	}
	for _, r := range replicas {
		if opened[r.webhookAddress] < 2 {
			t.Errorf("replica %s got %d tunnels, want at least 2", r.name, opened[r.webhookAddress])
		}
	}

	// A replica that lost the first write must not replace the CA later.
	var final corev1.Secret
	if err := cluster.Client.Get(ctx, client.ObjectKeyFromObject(&secret), &final); err != nil {
		t.Fatalf("get certificate Secret: %v", err)
	}
	if !bytes.Equal(final.Data["ca.crt"], caPEM) {
		t.Error("the Secret's ca.crt changed while both replicas served")
	}
	checkCABundles(t, ctx, cluster.Client, rotation.ValidatingWebhook, rotation.MutatingWebhook, caPEM)
}

// readManifest decodes every object in a multi-document YAML file.
func readManifest(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	file, err := os.Open(path)
	if err != nil {
		t.Fatalf("open manifest: %v", err)
	}
	defer file.Close()
	decoder := utilyaml.NewYAMLOrJSONDecoder(file, 4096)
	var objects []*unstructured.Unstructured
	for {
		object := &unstructured.Unstructured{}
		err := decoder.Decode(&object.Object)
		if errors.Is(err, io.EOF) {
			return objects
		}
		if err != nil {
			t.Fatalf("decode %s: %v", path, err)
		}
		if len(object.Object) > 0 {
			objects = append(objects, object)
		}
	}
}

func findObject(t *testing.T, objects []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, object := range objects {
		if object.GetKind() == kind && object.GetName() == name {
			return object
		}
	}
	t.Fatalf("manifest has no %s %s", kind, name)
	return nil
}

// chartWebhookFlags returns the flags of the deployment's webhook
// container without those that startReplica sets or that name paths
// inside the pod, and the options they parse to.
func chartWebhookFlags(t *testing.T, deployment *unstructured.Unstructured) ([]string, app.Options) {
	t.Helper()
	containers, _, _ := unstructured.NestedSlice(deployment.Object, "spec", "template", "spec", "containers")
	var args []string
	for _, container := range containers {
		container, _ := container.(map[string]any)
		if container["name"] == "webhook" {
			args, _, _ = unstructured.NestedStringSlice(container, "args")
		}
	}
	if len(args) == 0 {
		t.Fatalf("Deployment %s has no webhook container with args", deployment.GetName())
	}

	var flags []string
	for _, arg := range args {
		name, _, _ := strings.Cut(arg, "=")
		switch name {
		case "--cert-dir", "--webhook-host", "--webhook-port", "--metrics-bind-address", "--health-probe-bind-address":
		default:
			flags = append(flags, arg)
		}
	}

	flagSet, _, opts := newWebhookFlagSet()
	if err := flagSet.Parse(flags); err != nil {
		t.Fatalf("parse the chart's webhook flags %v: %v", flags, err)
	}
	if !opts.CertRotation.Enabled {
		t.Fatal("the chart's default values turn certificate rotation off")
	}
	return flags, *opts
}

// ready returns nil once the replica's /readyz returns 200 OK.
func (r *replica) ready(ctx context.Context) error {
	select {
	case <-r.exited:
		return fmt.Errorf("replica %s exited: %v", r.name, r.err)
	default:
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	request, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+r.healthAddress+"/readyz", nil)
	if err != nil {
		return err
	}
	response, err := http.DefaultClient.Do(request)
	if err != nil {
		return err
	}
	defer response.Body.Close()
	body, _ := io.ReadAll(response.Body)
	if response.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /readyz of replica %s: status %d: %s", r.name, response.StatusCode, body)
	}
	return nil
}

func countCertificates(data []byte) int {
	n := 0
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return n
		}
		if block.Type == "CERTIFICATE" {
			n++
		}
	}
}

// checkCABundles checks that every webhook of both configurations has
// caPEM as its caBundle.
func checkCABundles(t *testing.T, ctx context.Context, c client.Client, validatingName, mutatingName string, caPEM []byte) {
	t.Helper()
	var validating admissionregistrationv1.ValidatingWebhookConfiguration
	if err := c.Get(ctx, client.ObjectKey{Name: validatingName}, &validating); err != nil {
		t.Fatalf("get ValidatingWebhookConfiguration %s: %v", validatingName, err)
	}
	for _, hook := range validating.Webhooks {
		if !bytes.Equal(hook.ClientConfig.CABundle, caPEM) {
			t.Errorf("validating webhook %s: caBundle is not the Secret's ca.crt", hook.Name)
		}
	}
	var mutating admissionregistrationv1.MutatingWebhookConfiguration
	if err := c.Get(ctx, client.ObjectKey{Name: mutatingName}, &mutating); err != nil {
		t.Fatalf("get MutatingWebhookConfiguration %s: %v", mutatingName, err)
	}
	for _, hook := range mutating.Webhooks {
		if !bytes.Equal(hook.ClientConfig.CABundle, caPEM) {
			t.Errorf("mutating webhook %s: caBundle is not the Secret's ca.crt", hook.Name)
		}
	}
}

// checkServedCertificate connects to the replica's webhook server as the
// API server does, and checks that it serves wantPEM.
func checkServedCertificate(t *testing.T, r *replica, roots *x509.CertPool, serverName string, wantPEM []byte) {
	t.Helper()
	conn, err := tls.Dial("tcp", r.webhookAddress, &tls.Config{RootCAs: roots, ServerName: serverName})
	if err != nil {
		t.Errorf("replica %s: served certificate does not verify for %s against the injected caBundle: %v",
			r.name, serverName, err)
		return
	}
	defer conn.Close()
	block, _ := pem.Decode(wantPEM)
	if block == nil {
		t.Fatalf("Secret tls.crt contains no PEM block")
	}
	if !bytes.Equal(conn.ConnectionState().PeerCertificates[0].Raw, block.Bytes) {
		t.Errorf("replica %s serves a certificate other than the Secret's tls.crt", r.name)
	}
}

// checkAdmissionThrough creates a valid certificate Secret, which the
// mutating webhook must annotate, and one whose key does not match, which
// the validating webhook must reject.
func checkAdmissionThrough(t *testing.T, ctx context.Context, c client.Client, replicaName, name string) {
	t.Helper()
	chain := testcerts.NewChain(t, 2, testcerts.Options{KeyKind: testcerts.ECDSAP256})
	valid := tlsSecret("apps", name, chain.CertPEM(), chain.Leaf.KeyPEM)
	if err := c.Create(ctx, valid); err != nil {
		t.Fatalf("create a valid Secret through replica %s: %v", replicaName, err)
	}
	if valid.Annotations[wellknown.FingerprintAnnotation] == "" {
		t.Errorf("Secret created through replica %s lacks annotation %s", replicaName, wellknown.FingerprintAnnotation)
	}
	other := testcerts.New(t, testcerts.Options{KeyKind: testcerts.ECDSAP256, KeyIndex: 1})
	mismatched := tlsSecret("apps", name+"-mismatch", chain.CertPEM(), other.KeyPEM)
	err := c.Create(ctx, mismatched)
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "[key-mismatch]") {
		t.Errorf("create a Secret with a mismatched key through replica %s: error = %v, want a [key-mismatch] denial",
			replicaName, err)
	}
}

// webhookCalls returns the replica's count of admission requests that
// returned 200 OK, by webhook path.
func webhookCalls(t *testing.T, ctx context.Context, r *replica) map[string]float64 {
	t.Helper()
	body, err := r.scrape(ctx)
	if err != nil {
		t.Fatalf("scrape replica %s: %v", r.name, err)
	}
	calls := map[string]float64{}
	for _, path := range []string{webhook.MutateSecretPath, webhook.ValidateSecretPath} {
		series := fmt.Sprintf("controller_runtime_webhook_requests_total{code=\"200\",webhook=%q}", path)
		value, err := seriesValue(body, series)
		if err != nil {
			t.Fatalf("replica %s: parse %s: %v", r.name, series, err)
		}
		calls[path] = value
	}
	return calls
}

func readTestFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return data
}
