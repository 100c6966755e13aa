package app_test

import (
	"context"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/meshcert/meshcert/cmd/webhook/app"
	"github.com/meshcert/meshcert/internal/testcerts"
	"github.com/meshcert/meshcert/internal/testenv"
	"github.com/meshcert/meshcert/internal/validate"
	"github.com/meshcert/meshcert/internal/webhook"
	"github.com/meshcert/meshcert/internal/wellknown"
)

const (
	gatewaysManifest = "../../../config/webhook/gateways.yaml"
	gatewayRoleFile  = "../../../config/rbac/gateway-checks.yaml"
)

// fieldManager is the field manager 'kubectl apply --server-side' uses.
const fieldManager = "kubectl"

var (
	istioGateways      = schema.GroupVersionResource{Group: "networking.istio.io", Resource: "gateways"}
	gatewayAPIGateways = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gateways"}
	referenceGrants    = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1beta1", Resource: "referencegrants"}
)

// gatewayCluster is an API server that calls every webhook, Gateway ones
// included, served in process by the binary's manager with
// --deny-delete-in-use. The manager runs as a user bound only to the
// role in config/rbac/gateway-checks.yaml, which proves that role enough.
type gatewayCluster struct {
	*webhookCluster
	dynamic dynamic.Interface
}

func startGatewayCluster(tb testing.TB) *gatewayCluster {
	tb.Helper()
	cluster := testenv.Start(tb, testenv.Options{
		Webhook: &envtest.WebhookInstallOptions{Paths: []string{webhooksManifest, gatewaysManifest}},
	})
	install := cluster.Env.WebhookInstallOptions
	opts := app.Options{
		CertDir:                install.LocalServingCertDir,
		WebhookHost:            install.LocalServingHost,
		WebhookPort:            install.LocalServingPort,
		MetricsBindAddress:     "0",
		HealthProbeBindAddress: "0",
		Policy:                 validate.DefaultPolicy(),
		Gateway:                webhook.GatewayOptions{FallbackNamespaces: []string{"istio-system"}, DenyDeleteInUse: true},
	}
	mgr, err := app.NewManager(restrictedConfig(tb, cluster), opts, logr.Discard())
	if err != nil {
		tb.Fatalf("create manager: %v", err)
	}
	startManager(tb, mgr)
	waitForTLS(tb, net.JoinHostPort(install.LocalServingHost, strconv.Itoa(install.LocalServingPort)))

	recorder := &warningRecorder{}
	config := rest.CopyConfig(cluster.Config)
	config.WarningHandler = recorder
	clientset, err := kubernetes.NewForConfig(config)
	if err != nil {
		tb.Fatalf("create clientset: %v", err)
	}
	dynamicClient, err := dynamic.NewForConfig(config)
	if err != nil {
		tb.Fatalf("create dynamic client: %v", err)
	}
	wc := &webhookCluster{cluster: cluster, clientset: clientset, warnings: recorder}
	wc.waitForWebhook(tb)
	return &gatewayCluster{webhookCluster: wc, dynamic: dynamicClient}
}

// restrictedConfig returns the config of a user bound only to the role of
// gatewayRoleFile.
func restrictedConfig(tb testing.TB, cluster *testenv.Cluster) *rest.Config {
	tb.Helper()
	raw, err := os.ReadFile(gatewayRoleFile)
	if err != nil {
		tb.Fatalf("read role: %v", err)
	}
	role := &rbacv1.ClusterRole{}
	if err := yaml.UnmarshalStrict(raw, role); err != nil {
		tb.Fatalf("decode role %s: %v", gatewayRoleFile, err)
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "meshcert-webhook"}},
	}
	ctx := testenv.Context(tb)
	for _, object := range []client.Object{role, binding} {
		if err := cluster.Client.Create(ctx, object); err != nil {
			tb.Fatalf("create %T %s: %v", object, object.GetName(), err)
		}
	}
	user, err := cluster.Env.AddUser(envtest.User{Name: "meshcert-webhook"}, cluster.Config)
	if err != nil {
		tb.Fatalf("add user: %v", err)
	}
	return user.Config()
}

// gatewayFixture holds the certificates of the Gateway tests.
type gatewayFixture struct {
	leaf, other, expired *testcerts.Cert
	chain                *testcerts.Chain
}

func newGatewayFixture(t *testing.T) gatewayFixture {
	t.Helper()
	return gatewayFixture{
		leaf: testcerts.New(t, testcerts.Options{KeyKind: testcerts.ECDSAP256,
			DNSNames: []string{"example.com", "*.example.com"}}),
		other: testcerts.New(t, testcerts.Options{KeyKind: testcerts.ECDSAP256, KeyIndex: 1}),
		expired: testcerts.New(t, testcerts.Options{KeyKind: testcerts.ECDSAP256,
			NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)}),
		chain: testcerts.NewChain(t, 2, testcerts.Options{KeyKind: testcerts.ECDSAP256, KeyIndex: 2}),
	}
}

// TestGatewayWebhooks runs every Gateway case against one API server,
// because starting one takes several seconds.
func TestGatewayWebhooks(t *testing.T) {
	gc := startGatewayCluster(t)
	fx := newGatewayFixture(t)
	gc.setUp(t, fx)
	for _, version := range []string{"v1", "v1beta1", "v1alpha3"} {
		t.Run("istio "+version, func(t *testing.T) { testIstioGateways(t, gc, version) })
	}
	t.Run("gateway api", func(t *testing.T) { testGatewayAPIGateways(t, gc) })
	t.Run("metadata update of broken", func(t *testing.T) { testMetadataUpdateOfBrokenGateways(t, gc, fx) })
	t.Run("secret writes", func(t *testing.T) { testSecretWrites(t, gc, fx) })
}

// setUp creates the namespaces, gateway pods and Secrets the cases share,
// and waits until the webhook's cache sees the pods.
func (gc *gatewayCluster) setUp(t *testing.T, fx gatewayFixture) {
	for _, namespace := range []string{"istio-system", "apps", "edge", "other", "certs", "doomed"} {
		createNamespace(t, gc.webhookCluster, namespace, nil)
	}
	gc.createPod(t, "istio-system", "ingress", map[string]string{"istio": "ingressgateway"})
	gc.createPod(t, "edge", "edge-gateway", map[string]string{"app": "edge-gateway"})
	gc.createPod(t, "doomed", "doomed-gateway", map[string]string{"app": "doomed-gateway"})

	withCA := tlsData(fx.leaf)
	withCA[validate.KeyTLSCA] = fx.chain.CAPEM()
	for _, secret := range []*corev1.Secret{
		secretWith("istio-system", "web", tlsData(fx.leaf)),
		secretWith("istio-system", "mtls", withCA),
		secretWith("istio-system", "split", tlsData(fx.leaf)),
		secretWith("istio-system", "split-cacert", map[string][]byte{validate.KeyGenericCA: fx.chain.CAPEM()}),
		optedOut(secretWith("istio-system", "expired", tlsData(fx.expired))),
		optedOut(secretWith("istio-system", "mismatch",
			map[string][]byte{corev1.TLSCertKey: fx.leaf.CertPEM, corev1.TLSPrivateKeyKey: fx.other.KeyPEM})),
		secretWith("other", "web", tlsData(fx.leaf)),
		secretWith("edge", "edge-web", tlsData(fx.leaf)),
		secretWith("apps", "web", tlsData(fx.leaf)),
		optedOut(secretWith("apps", "expired", tlsData(fx.expired))),
		secretWith("certs", "shared", tlsData(fx.leaf)),
		secretWith("certs", "private", tlsData(fx.leaf)),
	} {
		gc.createSecret(t, secret)
	}
	gc.apply(t, referenceGrants, "certs", &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant",
		"metadata": map[string]any{"name": "apps-gateways", "namespace": "certs"},
		"spec": map[string]any{
			"from": []any{map[string]any{"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": "apps"}},
			"to":   []any{map[string]any{"group": "", "kind": "Secret", "name": "shared"}},
		},
	}}, false)

	// The webhook's cache sees the pods a moment after they are created.
	probe := istioGateway("v1", "probe", map[string]string{"istio": "ingressgateway"},
		istioServer("https", 443, "SIMPLE", []any{"example.com"}, "web"))
	gc.eventually(t, "the webhook sees the gateway pods", func() bool {
		_, warnings, err := gc.tryApply(istioGateways.GroupResource().WithVersion("v1"), "apps", probe, true)
		return err == nil && len(warnings) == 0
	})
}

func tlsData(cert *testcerts.Cert) map[string][]byte {
	return map[string][]byte{corev1.TLSCertKey: cert.CertPEM, corev1.TLSPrivateKeyKey: cert.KeyPEM}
}

func secretWith(namespace, name string, data map[string][]byte) *corev1.Secret {
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}, Data: data}
	if _, ok := data[corev1.TLSCertKey]; ok {
		secret.Type = corev1.SecretTypeTLS
	}
	return secret
}

// optedOut labels a Secret so that the Secret webhooks let broken
// material through, as it may be written while the webhook is down.
func optedOut(secret *corev1.Secret) *corev1.Secret {
	secret.Labels = map[string]string{wellknown.ValidationLabel: wellknown.Disabled}
	return secret
}

func (gc *gatewayCluster) createSecret(t *testing.T, secret *corev1.Secret) {
	t.Helper()
	_, err := gc.clientset.CoreV1().Secrets(secret.Namespace).Create(testenv.Context(t), secret, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create Secret %s/%s: %v", secret.Namespace, secret.Name, err)
	}
	gc.warnings.take()
}

func (gc *gatewayCluster) updateSecret(t *testing.T, secret *corev1.Secret) {
	t.Helper()
	_, err := gc.clientset.CoreV1().Secrets(secret.Namespace).Update(testenv.Context(t), secret, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update Secret %s/%s: %v", secret.Namespace, secret.Name, err)
	}
	gc.warnings.take()
}

func (gc *gatewayCluster) createPod(t *testing.T, namespace, name string, labels map[string]string) {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "istio-proxy", Image: "istio/proxyv2"}}},
	}
	if _, err := gc.clientset.CoreV1().Pods(namespace).Create(testenv.Context(t), pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create Pod %s/%s: %v", namespace, name, err)
	}
}

// eventually polls condition until it holds or a minute has passed.
func (gc *gatewayCluster) eventually(t *testing.T, what string, condition func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !condition() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
	gc.warnings.take()
}

// tryApply applies object with server-side apply, as 'kubectl apply
// --server-side' sends it, and returns the warnings of the response.
func (gc *gatewayCluster) tryApply(gvr schema.GroupVersionResource, namespace string,
	object *unstructured.Unstructured, dryRun bool) (*unstructured.Unstructured, []string, error) {
	options := metav1.ApplyOptions{FieldManager: fieldManager, Force: true}
	if dryRun {
		options.DryRun = []string{metav1.DryRunAll}
	}
	gc.warnings.take()
	applied, err := gc.dynamic.Resource(gvr).Namespace(namespace).Apply(context.Background(), object.GetName(), object, options)
	return applied, gc.warnings.take(), err
}

func (gc *gatewayCluster) apply(t *testing.T, gvr schema.GroupVersionResource, namespace string,
	object *unstructured.Unstructured, dryRun bool) []string {
	t.Helper()
	_, warnings, err := gc.tryApply(gvr, namespace, object, dryRun)
	if err != nil {
		t.Fatalf("apply %s %s/%s: %v", gvr.Resource, namespace, object.GetName(), err)
	}
	return warnings
}

// admissionCase is one object and the expected admission outcome: denied
// with every string of denied in the message, or allowed with a warning
// containing warned, or allowed without warnings when both are empty.
type admissionCase struct {
	name   string
	object *unstructured.Unstructured
	denied []string
	warned string
}

func (gc *gatewayCluster) runCase(t *testing.T, gvr schema.GroupVersionResource, tt admissionCase) {
	t.Helper()
	_, warnings, err := gc.tryApply(gvr, tt.object.GetNamespace(), tt.object, true)
	if len(tt.denied) > 0 {
		if !apierrors.IsForbidden(err) {
			t.Fatalf("apply error = %v, want forbidden", err)
		}
		for _, want := range tt.denied {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("denial %q lacks %q", err, want)
			}
		}
		return
	}
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if tt.warned == "" && len(warnings) > 0 {
		t.Errorf("warnings = %q, want none", warnings)
	}
	if tt.warned != "" && !containsAny(warnings, tt.warned) {
		t.Errorf("warnings = %q, want one with %q", warnings, tt.warned)
	}
}
