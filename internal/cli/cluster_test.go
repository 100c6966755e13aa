package cli

import (
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/meshcert/meshcert/internal/testenv"
	"github.com/meshcert/meshcert/internal/wellknown"
)

// TestClusterCommands runs list, describe and audit against a real API
// server seeded with certificate Secrets and Gateways, and compares what
// they print with golden files.
func TestClusterCommands(t *testing.T) {
	cluster := testenv.Start(t, testenv.Options{})
	kubeconfig := writeKubeconfig(t, cluster.Config, "apps")
	seedCluster(t, cluster.Client)
	base := []string{"--kubeconfig", kubeconfig, "--now=" + goldenNow}

	tests := []struct {
		name     string
		args     []string
		terminal bool
		code     int
	}{
		{"list-all", []string{"list", "-A"}, false, ExitOK},
		{"list-wide-expiry", []string{"list", "-A", "-o", "wide", "--sort-by=expiry"}, false, ExitOK},
		{"list-terminal", []string{"list", "--no-color"}, true, ExitOK},
		{"list-json", []string{"list", "-A", "-o", "json"}, false, ExitOK},
		{"list-yaml", []string{"list", "-n", "istio-system", "-o", "yaml"}, false, ExitOK},
		{"list-empty", []string{"list", "-n", "default"}, false, ExitOK},
		{"describe-web", []string{"describe", "web", "-n", "istio-system"}, false, ExitOK},
		{"describe-cacert", []string{"describe", "web-cacert", "-n", "istio-system"}, false, ExitOK},
		{"describe-broken", []string{"describe", "broken"}, false, ExitOK},
		{"describe-old", []string{"describe", "old"}, false, ExitOK},
		{"describe-web-json", []string{"describe", "web", "-n", "istio-system", "-o", "json"}, false, ExitOK},
		{"describe-broken-yaml", []string{"describe", "broken", "-o", "yaml"}, false, ExitOK},
		{"describe-missing", []string{"describe", "absent"}, false, ExitError},
		{"audit", []string{"audit", "-A"}, false, ExitDenied},
		{"audit-context-namespace", []string{"audit"}, false, ExitDenied},
		{"audit-namespace-json", []string{"audit", "-n", "istio-system", "-o", "json"}, false, ExitOK},
		{"audit-json", []string{"audit", "--all-namespaces", "-o", "json"}, false, ExitDenied},
		{"audit-warnings", []string{"audit", "-n", "apps", "--rule-action=expired=warn,key-mismatch=warn",
			"--rule-action=chain-order=warn", "--fail-on-warning"}, false, ExitWarnings},
	}
	keyMaterial := firstBase64Line(t, fixturePath("web.key"))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runCLI(t, "", tt.terminal, append(tt.args, base...)...)
			if got.code != tt.code {
				t.Errorf("exit status %d, want %d; stderr %q", got.code, tt.code, got.stderr)
			}
			if strings.Contains(got.stdout+got.stderr, keyMaterial) {
				t.Errorf("output shows private key material")
			}
			checkGolden(t, tt.name+".txt", got.stdout+stderrSection(got.stderr))
		})
	}

	t.Run("forbidden gateways", func(t *testing.T) {
		restricted := restrictedKubeconfig(t, cluster, "apps")
		got := runCLI(t, "", false, "list", "--kubeconfig", restricted, "--now="+goldenNow)
		if got.code != ExitOK {
			t.Errorf("exit status %d, want %d; stderr %q", got.code, ExitOK, got.stderr)
		}
		checkGolden(t, "list-forbidden-gateways.txt", got.stdout+stderrSection(got.stderr))
	})

	t.Run("paging", func(t *testing.T) {
		var pages atomic.Int32
		counter := func(next http.RoundTripper) http.RoundTripper {
			return roundTripFunc(func(req *http.Request) (*http.Response, error) {
				if strings.HasSuffix(req.URL.Path, "/secrets") && req.URL.Query().Get("limit") == "2" {
					pages.Add(1)
				}
				return next.RoundTrip(req)
			})
		}
		paged := runCLIWith(t, process{isTerminal: notTerminal, wrapTransport: counter},
			append([]string{"list", "-A", "--chunk-size=2"}, base...)...)
		whole := runCLI(t, "", false, append([]string{"list", "-A"}, base...)...)
		if paged.stdout != whole.stdout {
			t.Errorf("paged output differs:\n%s\nwant\n%s", paged.stdout, whole.stdout)
		}
		// Eight Secrets at two per page need four requests.
		if got := pages.Load(); got < 4 {
			t.Errorf("%d list requests of 2 Secrets, want at least 4", got)
		}
	})
}

// restrictedKubeconfig returns a kubeconfig of a user who may list the
// Secrets of namespace and nothing else.
func restrictedKubeconfig(t *testing.T, cluster *testenv.Cluster, namespace string) string {
	t.Helper()
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "secret-reader"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"list", "get"}}},
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "secret-reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "secret-reader"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "secret-reader"}},
	}
	create(t, cluster.Client, role)
	create(t, cluster.Client, binding)
	user, err := cluster.Env.AddUser(envtest.User{Name: "secret-reader"}, nil)
	if err != nil {
		t.Fatalf("add user: %v", err)
	}
	return writeKubeconfig(t, user.Config(), namespace)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// writeKubeconfig writes a kubeconfig for config whose context defaults
// to namespace, and returns its path.
func writeKubeconfig(t *testing.T, config *rest.Config, namespace string) string {
	t.Helper()
	kubeconfig := clientcmdapi.NewConfig()
	kubeconfig.Clusters["envtest"] = &clientcmdapi.Cluster{
		Server: config.Host, CertificateAuthorityData: config.CAData,
	}
	kubeconfig.AuthInfos["envtest"] = &clientcmdapi.AuthInfo{
		ClientCertificateData: config.CertData, ClientKeyData: config.KeyData, Token: config.BearerToken,
	}
	kubeconfig.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "envtest", Namespace: namespace}
	kubeconfig.CurrentContext = "envtest"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kubeconfig, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// seedCluster creates the Secrets and Gateways the golden files show.
func seedCluster(t *testing.T, c client.Client) {
	t.Helper()
	ctx := testenv.Context(t)
	for _, name := range []string{"istio-system", "apps", "edge"} {
		create(t, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	}
	tlsSecret := func(namespace, name string, data map[string][]byte) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
			Type: corev1.SecretTypeTLS, Data: data}
	}
	web := tlsSecret("istio-system", "web", map[string][]byte{
		"tls.crt": fixtureChain(t, "web.crt", "intermediate.crt"), "tls.key": fixture(t, "web.key"),
		"ca.crt": fixture(t, "root.crt"),
	})
	web.Labels = map[string]string{wellknown.MirrorLabel: wellknown.True}
	old := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "old",
			Labels: map[string]string{wellknown.ManagedByLabel: wellknown.ManagedByMirror,
				wellknown.SourceClusterLabel: "cluster-2"},
			Annotations: map[string]string{wellknown.SourceNamespaceAnnotation: "apps",
				wellknown.SourceNameAnnotation: "old"}},
		Data: map[string][]byte{"cert": fixtureChain(t, "expired.crt", "intermediate.crt"), "key": fixture(t, "expired.key")},
	}
	for _, object := range []client.Object{
		web,
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "istio-system", Name: "web-cacert"},
			Data: map[string][]byte{"ca.crt": fixture(t, "root.crt")}},
		tlsSecret("apps", "shop", map[string][]byte{
			"tls.crt": fixtureChain(t, "expiring.crt", "intermediate.crt"), "tls.key": fixture(t, "expiring.key")}),
		old,
		tlsSecret("apps", "broken", map[string][]byte{
			"tls.crt": fixtureChain(t, "intermediate.crt", "web.crt"), "tls.key": fixture(t, "other.key")}),
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "db-password"},
			Data: map[string][]byte{"password": []byte("hunter2")}},
		tlsSecret("edge", "shared", map[string][]byte{
			"tls.crt": fixtureChain(t, "web.crt", "intermediate.crt"), "tls.key": fixture(t, "web.key")}),
		istioGateway("istio-system", "web", map[string]any{
			"port":  map[string]any{"number": int64(443), "name": "https", "protocol": "HTTPS"},
			"hosts": []any{"web.example.com"},
			"tls":   map[string]any{"mode": "MUTUAL", "credentialName": "web"},
		}, map[string]any{
			"port":  map[string]any{"number": int64(80), "name": "http", "protocol": "HTTP"},
			"hosts": []any{"web.example.com"},
		}),
		istioGateway("apps", "shop", map[string]any{
			"name":  "shop-https",
			"port":  map[string]any{"number": int64(8443), "name": "https", "protocol": "HTTPS"},
			"hosts": []any{"shop.example.com"},
			"tls":   map[string]any{"mode": "SIMPLE", "credentialName": "shop"},
		}),
		gatewayAPIGateway("apps", "gw"),
		// Grants apps the Secret edge/shared but not edge/private.
		&gatewayv1beta1.ReferenceGrant{
			ObjectMeta: metav1.ObjectMeta{Namespace: "edge", Name: "apps-gateways"},
			Spec: gatewayv1beta1.ReferenceGrantSpec{
				From: []gatewayv1beta1.ReferenceGrantFrom{{Group: gatewayv1.GroupName, Kind: "Gateway", Namespace: "apps"}},
				To:   []gatewayv1beta1.ReferenceGrantTo{{Group: "", Kind: "Secret", Name: ptr.To(gatewayv1.ObjectName("shared"))}},
			},
		},
		tlsSecret("edge", "private", map[string][]byte{
			"tls.crt": fixtureChain(t, "web.crt", "intermediate.crt"), "tls.key": fixture(t, "web.key")}),
		// The gateway workload of the Istio Gateways in istio-system: the
		// pod never runs, but its labels and namespace are what Istio's
		// credential lookup and the audit read.
		&corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "istio-system", Name: "ingressgateway",
				Labels: map[string]string{"istio": "ingressgateway"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "istio-proxy", Image: "istio/proxyv2"}}},
		},
	} {
		if err := c.Create(ctx, object); err != nil {
			t.Fatalf("create %s: %v", client.ObjectKeyFromObject(object), err)
		}
	}
}

func create(t *testing.T, c client.Client, object client.Object) {
	t.Helper()
	if err := c.Create(testenv.Context(t), object); err != nil {
		t.Fatalf("create %s: %v", client.ObjectKeyFromObject(object), err)
	}
}

func istioGateway(namespace, name string, servers ...map[string]any) *unstructured.Unstructured {
	list := make([]any, 0, len(servers))
	for _, server := range servers {
		list = append(list, server)
	}
	gateway := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "networking.istio.io/v1",
		"kind":       "Gateway",
		"metadata":   map[string]any{"namespace": namespace, "name": name},
		"spec": map[string]any{
			"selector": map[string]any{"istio": "ingressgateway"},
			"servers":  list,
		},
	}}
	return gateway
}

func gatewayAPIGateway(namespace, name string) *gatewayv1.Gateway {
	hostname := gatewayv1.Hostname("shop.example.com")
	edge := gatewayv1.Namespace("edge")
	return &gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: gatewayv1.GatewaySpec{
			GatewayClassName: "istio",
			Listeners: []gatewayv1.Listener{{
				Name: "https", Port: 443, Protocol: gatewayv1.HTTPSProtocolType, Hostname: &hostname,
				TLS: &gatewayv1.ListenerTLSConfig{
					Mode: ptr.To(gatewayv1.TLSModeTerminate),
					CertificateRefs: []gatewayv1.SecretObjectReference{
						{Name: "shop"},
						{Name: "shared", Namespace: &edge},
					},
				},
			}, {
				Name: "https-private", Port: 8443, Protocol: gatewayv1.HTTPSProtocolType,
				TLS: &gatewayv1.ListenerTLSConfig{
					Mode:            ptr.To(gatewayv1.TLSModeTerminate),
					CertificateRefs: []gatewayv1.SecretObjectReference{{Name: "private", Namespace: &edge}},
				},
			}, {
				Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType,
			}},
		},
	}
}
