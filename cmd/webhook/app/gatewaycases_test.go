package app_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/meshcert/meshcert/internal/testenv"
	"github.com/meshcert/meshcert/internal/validate"
)

var ingressSelector = map[string]string{"istio": "ingressgateway"}

func istioGateway(version, name string, selector map[string]string, servers ...any) *unstructured.Unstructured {
	selectorObject := map[string]any{}
	for key, value := range selector {
		selectorObject[key] = value
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "networking.istio.io/" + version,
		"kind":       "Gateway",
		"metadata":   map[string]any{"name": name, "namespace": "apps"},
		"spec":       map[string]any{"selector": selectorObject, "servers": servers},
	}}
}

// istioServer returns a server; one credential is credentialName, two or
// more are credentialNames.
func istioServer(name string, port int64, mode string, hosts []any, credentials ...string) map[string]any {
	tls := map[string]any{"mode": mode}
	switch len(credentials) {
	case 0:
	case 1:
		tls["credentialName"] = credentials[0]
	default:
		names := make([]any, len(credentials))
		for i, credential := range credentials {
			names[i] = credential
		}
		tls["credentialNames"] = names
	}
	return map[string]any{
		"port":  map[string]any{"number": port, "name": name, "protocol": "HTTPS"},
		"hosts": hosts,
		"tls":   tls,
	}
}

func withTLS(server map[string]any, key string, value any) map[string]any {
	server["tls"].(map[string]any)[key] = value
	return server
}

func testIstioGateways(t *testing.T, gc *gatewayCluster, version string) {
	hosts := []any{"apps/example.com"}
	gateway := func(name string, servers ...any) *unstructured.Unstructured {
		return istioGateway(version, name, ingressSelector, servers...)
	}
	tests := []admissionCase{
		{name: "simple valid", object: gateway("valid", istioServer("https", 443, "SIMPLE", hosts, "web"))},
		{name: "kubernetes scheme", object: gateway("scheme", istioServer("https", 443, "SIMPLE", hosts, "kubernetes://web"))},
		{name: "cross namespace", object: gateway("cross", istioServer("https", 443, "SIMPLE", hosts, "kubernetes://other/web")),
			denied: []string{"Gateway apps/cross", `server "https" (port 443)`, "namespace other", "[cross-namespace-credential]"}},
		{name: "gateway scheme cross namespace",
			object: gateway("cross-gw", istioServer("https", 443, "SIMPLE", hosts, "kubernetes-gateway://other/web")),
			denied: []string{"[cross-namespace-credential]"}},
		{name: "invalid name", object: gateway("invalid", istioServer("https", 443, "SIMPLE", hosts, "kubernetes-gateway://web")),
			denied: []string{"needs NAMESPACE/NAME", "[invalid-credential-name]"}},
		{name: "sds", object: gateway("sds", istioServer("https", 443, "SIMPLE", hosts, "sds://vault")),
			warned: "[unchecked-credential]"},
		{name: "builtin", object: gateway("builtin", istioServer("https", 443, "SIMPLE", hosts, "builtin://")),
			warned: "[unchecked-credential]"},
		{name: "not found yet", object: gateway("later", istioServer("https", 443, "SIMPLE", hosts, "later")),
			warned: "Secret later not found in istio-system, where the gateway pods run"},
		{name: "expired", object: gateway("expired", istioServer("https", 443, "SIMPLE", hosts, "expired")),
			denied: []string{`server "https" (port 443)`, "Secret istio-system/expired", "[expired]", "[unusable-credential]"}},
		{name: "key mismatch", object: gateway("mismatch", istioServer("https", 443, "SIMPLE", hosts, "mismatch")),
			denied: []string{"Secret istio-system/mismatch", "[key-mismatch]"}},
		{name: "mutual without CA", object: gateway("mutual-no-ca", istioServer("https", 443, "MUTUAL", hosts, "web")),
			denied: []string{"Secret istio-system/web", "no cacert or ca.crt", "[missing-client-ca]"}},
		{name: "mutual CA inside", object: gateway("mutual-inside", istioServer("https", 443, "MUTUAL", hosts, "mtls"))},
		{name: "optional mutual CA secret",
			object: gateway("mutual-split", istioServer("https", 443, "OPTIONAL_MUTUAL", hosts, "split"))},
		{name: "mutual named CA", object: gateway("mutual-named",
			withTLS(istioServer("https", 443, "MUTUAL", hosts, "web"), "caCertCredentialName", "split-cacert"))},
		{name: "host not covered", object: gateway("hosts",
			istioServer("https", 443, "SIMPLE", []any{"*", "a.b.example.com", "shop.example.com"}, "web")),
			warned: "a.b.example.com not in the SANs of Secret istio-system/web [host-not-covered]"},
		{name: "istio mutual", object: gateway("istio-mutual", istioServer("https", 443, "ISTIO_MUTUAL", hosts, "web")),
			denied: []string{"[istio-mutual-credential]"}},
		{name: "passthrough", object: gateway("passthrough", istioServer("tls", 443, "PASSTHROUGH", hosts, "web")),
			warned: "[ignored-credential]"},
		{name: "auto passthrough", object: gateway("auto", istioServer("tls", 443, "AUTO_PASSTHROUGH", hosts, "web")),
			warned: "[ignored-credential]"},
		{name: "two credentials", object: gateway("two", istioServer("https", 443, "SIMPLE", hosts, "web", "mtls"))},
		{name: "same credential twice", object: gateway("twice",
			istioServer("a", 443, "SIMPLE", []any{"a.example.com"}, "web"),
			istioServer("b", 443, "SIMPLE", []any{"b.example.com"}, "web")),
			warned: "share credential web"},
		{name: "overlapping hosts", object: gateway("overlap",
			istioServer("a", 443, "SIMPLE", []any{"*.example.com"}, "web"),
			istioServer("b", 443, "SIMPLE", []any{"a.example.com"}, "mtls")),
			warned: "overlap on *.example.com"},
		{name: "no pods", object: istioGateway(version, "nopods", map[string]string{"istio": "missing"},
			istioServer("https", 443, "SIMPLE", hosts, "web")),
			warned: "no pod matches selector istio=missing"},
		{name: "pods in edge", object: istioGateway(version, "edge", map[string]string{"app": "edge-gateway"},
			istioServer("https", 443, "SIMPLE", hosts, "edge-web"))},
		{name: "pods in edge missing", object: istioGateway(version, "edge-missing", map[string]string{"app": "edge-gateway"},
			istioServer("https", 443, "SIMPLE", hosts, "web")),
			warned: "Secret web not found in edge"},
	}
	gvr := istioGateways.GroupResource().WithVersion(version)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { gc.runCase(t, gvr, tt) })
	}
}

func gatewayAPIGateway(name string, listeners ...any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1",
		"kind":       "Gateway",
		"metadata":   map[string]any{"name": name, "namespace": "apps"},
		"spec":       map[string]any{"gatewayClassName": "istio", "listeners": listeners},
	}}
}

func httpsListener(name, hostname string, refs ...map[string]any) map[string]any {
	certificateRefs := make([]any, len(refs))
	for i, ref := range refs {
		certificateRefs[i] = ref
	}
	listener := map[string]any{
		"name": name, "port": int64(443), "protocol": "HTTPS",
		"tls": map[string]any{"mode": "Terminate", "certificateRefs": certificateRefs},
	}
	if hostname != "" {
		listener["hostname"] = hostname
	}
	return listener
}

func certificateRef(namespace, name string) map[string]any {
	ref := map[string]any{"name": name}
	if namespace != "" {
		ref["namespace"] = namespace
	}
	return ref
}

func testGatewayAPIGateways(t *testing.T, gc *gatewayCluster) {
	configMap := map[string]any{"group": "", "kind": "ConfigMap", "name": "ca"}
	tests := []admissionCase{
		{name: "valid", object: gatewayAPIGateway("valid", httpsListener("https", "shop.example.com", certificateRef("", "web")))},
		{name: "expired", object: gatewayAPIGateway("expired", httpsListener("https", "", certificateRef("", "expired"))),
			denied: []string{"Gateway.gateway.networking.k8s.io apps/expired", `listener "https" (port 443)`,
				"Secret apps/expired", "[unusable-credential]"}},
		{name: "not found", object: gatewayAPIGateway("later", httpsListener("https", "", certificateRef("", "later"))),
			warned: "Secret apps/later not found"},
		{name: "granted", object: gatewayAPIGateway("granted", httpsListener("https", "", certificateRef("certs", "shared")))},
		{name: "not granted", object: gatewayAPIGateway("private", httpsListener("https", "", certificateRef("certs", "private"))),
			warned: "Secret certs/private needs a ReferenceGrant for Gateways of apps"},
		{name: "not granted missing", object: gatewayAPIGateway("nothing",
			httpsListener("https", "", certificateRef("certs", "nothing"))),
			warned: "Secret certs/nothing needs a ReferenceGrant for Gateways of apps"},
		{name: "other kind", object: gatewayAPIGateway("configmap", httpsListener("https", "", configMap)),
			warned: "[unsupported-certificate-ref]"},
		{name: "host not covered", object: gatewayAPIGateway("hosts",
			httpsListener("https", "shop.example.org", certificateRef("", "web"))),
			warned: "[host-not-covered]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { gc.runCase(t, gatewayAPIGateways, tt) })
	}
}

func testSecretWrites(t *testing.T, gc *gatewayCluster, fx gatewayFixture) {
	ctx := testenv.Context(t)
	withCA := tlsData(fx.leaf)
	withCA[validate.KeyTLSCA] = fx.chain.CAPEM()
	gc.createSecret(t, secretWith("istio-system", "used", tlsData(fx.leaf)))
	gc.createSecret(t, secretWith("istio-system", "used-mtls", withCA))
	gc.createSecret(t, secretWith("istio-system", "used-ca", tlsData(fx.leaf)))
	gc.createSecret(t, secretWith("istio-system", "used-ca-cacert", map[string][]byte{validate.KeyGenericCA: fx.chain.CAPEM()}))
	gc.createSecret(t, secretWith("apps", "api-used", tlsData(fx.leaf)))
	opaque := secretWith("istio-system", "opaque-used", tlsData(fx.leaf))
	opaque.Type = corev1.SecretTypeOpaque
	gc.createSecret(t, opaque)
	staged := secretWith("istio-system", "staged-key", map[string][]byte{corev1.TLSPrivateKeyKey: fx.leaf.KeyPEM})
	staged.Type = corev1.SecretTypeOpaque
	gc.createSecret(t, staged)
	gc.createSecret(t, secretWith("doomed", "doomed-web", tlsData(fx.leaf)))

	gc.apply(t, istioGateways.GroupResource().WithVersion("v1"), "apps", istioGateway("v1", "users", ingressSelector,
		istioServer("https", 443, "SIMPLE", []any{"example.com"}, "used"),
		istioServer("mtls", 8443, "MUTUAL", []any{"example.com"}, "used-mtls"),
		istioServer("split", 9443, "MUTUAL", []any{"example.com"}, "used-ca"),
		istioServer("opaque", 10443, "SIMPLE", []any{"example.com"}, "opaque-used")), false)
	gc.apply(t, istioGateways.GroupResource().WithVersion("v1"), "apps", istioGateway("v1", "doomed",
		map[string]string{"app": "doomed-gateway"}, istioServer("https", 443, "SIMPLE", []any{"example.com"}, "doomed-web")), false)
	gc.apply(t, gatewayAPIGateways, "apps", gatewayAPIGateway("api-users",
		httpsListener("https", "", certificateRef("", "api-used"))), false)

	secrets := gc.clientset.CoreV1().Secrets("istio-system")
	update := func(name string, data map[string][]byte) error {
		secret, err := gc.clientset.CoreV1().Secrets(namespaceOf(name)).Get(ctx, nameOf(name), metav1.GetOptions{})
		if err != nil {
			t.Fatalf("get Secret %s: %v", name, err)
		}
		secret.Data = data
		_, err = gc.clientset.CoreV1().Secrets(secret.Namespace).Update(ctx, secret,
			metav1.UpdateOptions{DryRun: []string{metav1.DryRunAll}})
		return err
	}
	// The webhook's cache sees the Gateways a moment after they are written.
	gc.eventually(t, "the webhook sees the Gateways using the Secrets", func() bool {
		err := update("istio-system/used", tlsData(fx.expired))
		return err != nil && strings.Contains(err.Error(), "[secret-in-use]")
	})

	t.Run("peer gateway conflict", func(t *testing.T) {
		peer := istioGateway("v1", "peer", ingressSelector,
			istioServer("shop", 443, "SIMPLE", []any{"example.com"}, "web"))
		gc.runCase(t, istioGateways.GroupResource().WithVersion("v1"), admissionCase{name: "peer", object: peer,
			warned: `and Gateway apps/users server`})
	})

	tests := []struct {
		name   string
		secret string
		data   map[string][]byte
		denied []string
	}{
		{name: "expired", secret: "istio-system/used", data: tlsData(fx.expired),
			denied: []string{"Secret istio-system/used", `Gateway apps/users server "https" (port 443)`, "expired", "[secret-in-use]"}},
		{name: "key mismatch", secret: "istio-system/used",
			data:   map[string][]byte{corev1.TLSCertKey: fx.leaf.CertPEM, corev1.TLSPrivateKeyKey: fx.other.KeyPEM},
			denied: []string{"key-mismatch", "[secret-in-use]"}},
		{name: "renewal", secret: "istio-system/used", data: tlsData(fx.other)},
		{name: "CA removed", secret: "istio-system/used-mtls", data: tlsData(fx.leaf),
			denied: []string{`Gateway apps/users server "mtls" (port 8443)`, "ca-removed", "[secret-in-use]"}},
		{name: "CA kept elsewhere", secret: "istio-system/used-ca", data: tlsData(fx.leaf)},
		{name: "CA secret emptied", secret: "istio-system/used-ca-cacert", data: map[string][]byte{"note": []byte("moved")},
			denied: []string{`server "split" (port 9443)`, "ca-removed", "[secret-in-use]"}},
		{name: "opaque key mismatch", secret: "istio-system/opaque-used",
			data:   map[string][]byte{corev1.TLSCertKey: fx.leaf.CertPEM, corev1.TLSPrivateKeyKey: fx.other.KeyPEM},
			denied: []string{`Gateway apps/users server "opaque" (port 10443)`, "key-mismatch", "[secret-in-use]"}},
		{name: "staged key unused", secret: "istio-system/staged-key", data: map[string][]byte{corev1.TLSPrivateKeyKey: fx.other.KeyPEM}},
		{name: "gateway api expired", secret: "apps/api-used", data: tlsData(fx.expired),
			denied: []string{`Gateway.gateway.networking.k8s.io apps/api-users listener "https" (port 443)`, "[secret-in-use]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := update(tt.secret, tt.data)
			if len(tt.denied) == 0 {
				if err != nil {
					t.Fatalf("update: %v", err)
				}
				return
			}
			if !apierrors.IsForbidden(err) {
				t.Fatalf("update error = %v, want forbidden", err)
			}
			for _, want := range tt.denied {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("denial %q lacks %q", err, want)
				}
			}
		})
	}

	t.Run("delete in use", func(t *testing.T) {
		err := secrets.Delete(ctx, "used", metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}})
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "Gateway apps/users") ||
			!strings.Contains(err.Error(), "[delete-in-use]") {
			t.Errorf("delete error = %v, want a delete-in-use denial naming Gateway apps/users", err)
		}
	})
	t.Run("delete unused", func(t *testing.T) {
		if err := secrets.Delete(ctx, "web", metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
			t.Errorf("delete: %v", err)
		}
	})
	t.Run("delete in terminating namespace", func(t *testing.T) {
		doomed := gc.clientset.CoreV1().Secrets("doomed")
		gc.eventually(t, "the webhook sees the Gateway using doomed/doomed-web", func() bool {
			err := doomed.Delete(ctx, "doomed-web", metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}})
			return apierrors.IsForbidden(err)
		})
		// No namespace controller runs, so the namespace stays terminating.
		if err := gc.clientset.CoreV1().Namespaces().Delete(ctx, "doomed", metav1.DeleteOptions{}); err != nil {
			t.Fatalf("delete namespace: %v", err)
		}
		if err := doomed.Delete(ctx, "doomed-web", metav1.DeleteOptions{}); err != nil {
			t.Errorf("delete in a terminating namespace: %v", err)
		}
	})
}

func namespaceOf(key string) string {
	namespace, _, _ := strings.Cut(key, "/")
	return namespace
}

func nameOf(key string) string {
	_, name, _ := strings.Cut(key, "/")
	return name
}

// testMetadataUpdateOfBrokenGateways checks that Gateways whose Secret
// broke after they were written can still be labelled, while a change
// of their servers or listeners is checked again.
func testMetadataUpdateOfBrokenGateways(t *testing.T, gc *gatewayCluster, fx gatewayFixture) {
	gc.createSecret(t, secretWith("istio-system", "rotating", tlsData(fx.leaf)))
	gc.createSecret(t, secretWith("apps", "api-rotating", tlsData(fx.leaf)))
	istio := istioGateway("v1", "rotating", ingressSelector,
		istioServer("https", 7443, "SIMPLE", []any{"example.com"}, "rotating"))
	api := gatewayAPIGateway("rotating", httpsListener("https", "example.com", certificateRef("", "api-rotating")))
	istioGVR := istioGateways.GroupResource().WithVersion("v1")
	gc.apply(t, istioGVR, "apps", istio, false)
	gc.apply(t, gatewayAPIGateways, "apps", api, false)

	// Written while opted out, the Secrets reach no webhook.
	gc.updateSecret(t, optedOut(secretWith("istio-system", "rotating", tlsData(fx.expired))))
	gc.updateSecret(t, optedOut(secretWith("apps", "api-rotating", tlsData(fx.expired))))

	for _, object := range []*unstructured.Unstructured{istio, api} {
		object.SetLabels(map[string]string{"team": "edge"})
	}
	gc.runCase(t, istioGVR, admissionCase{name: "label istio", object: istio})
	gc.runCase(t, gatewayAPIGateways, admissionCase{name: "label gateway api", object: api})

	istio.Object["spec"].(map[string]any)["servers"] = []any{
		istioServer("https", 7443, "SIMPLE", []any{"www.example.com"}, "rotating")}
	api.Object["spec"].(map[string]any)["listeners"] = []any{
		httpsListener("https", "www.example.com", certificateRef("", "api-rotating"))}
	gc.runCase(t, istioGVR, admissionCase{name: "hosts istio", object: istio, denied: []string{"[unusable-credential]"}})
	gc.runCase(t, gatewayAPIGateways, admissionCase{name: "hosts gateway api", object: api,
		denied: []string{"[unusable-credential]"}})
}
