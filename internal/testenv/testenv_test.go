package testenv_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/meshcert/meshcert/internal/testcerts"
	"github.com/meshcert/meshcert/internal/testenv"
)

func TestClusterSmoke(t *testing.T) {
	cluster := testenv.Start(t, testenv.Options{})
	ctx := testenv.Context(t)
	c := cluster.Client

	namespace := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "istio-system"}}
	if err := c.Create(ctx, namespace); err != nil {
		t.Fatalf("create namespace: %v", err)
	}

	leaf := testcerts.New(t, testcerts.Options{KeyKind: testcerts.ECDSAP256})
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "gateway-cert", Namespace: "istio-system"},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: leaf.CertPEM, corev1.TLSPrivateKeyKey: leaf.KeyPEM},
	}
	if err := c.Create(ctx, secret); err != nil {
		t.Fatalf("create secret: %v", err)
	}
	var gotSecret corev1.Secret
	if err := c.Get(ctx, client.ObjectKeyFromObject(secret), &gotSecret); err != nil {
		t.Fatalf("get secret: %v", err)
	}
	if string(gotSecret.Data[corev1.TLSCertKey]) != string(leaf.CertPEM) {
		t.Error("secret tls.crt changed on the round trip")
	}

	istioGateway := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "networking.istio.io/v1",
		"kind":       "Gateway",
		"metadata":   map[string]any{"name": "ingress", "namespace": "istio-system"},
		"spec": map[string]any{
			"selector": map[string]any{"istio": "ingressgateway"},
			"servers": []any{map[string]any{
				"port":  map[string]any{"number": int64(443), "name": "https", "protocol": "HTTPS"},
				"hosts": []any{"example.com"},
				"tls":   map[string]any{"mode": "SIMPLE", "credentialName": "gateway-cert"},
			}},
		},
	}}
	if err := c.Create(ctx, istioGateway); err != nil {
		t.Fatalf("create Istio gateway: %v", err)
	}
	gotIstio := &unstructured.Unstructured{}
	gotIstio.SetGroupVersionKind(schema.GroupVersionKind{Group: "networking.istio.io", Version: "v1", Kind: "Gateway"})
	if err := c.Get(ctx, client.ObjectKeyFromObject(istioGateway), gotIstio); err != nil {
		t.Fatalf("get Istio gateway: %v", err)
	}
	servers, _, _ := unstructured.NestedSlice(gotIstio.Object, "spec", "servers")
	if len(servers) != 1 {
		t.Errorf("Istio gateway servers = %d, want 1", len(servers))
	}

	tlsMode := gatewayv1.TLSModeTerminate
	apiGateway := &gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "istio-system"},
		Spec: gatewayv1.GatewaySpec{
			GatewayClassName: "istio",
			Listeners: []gatewayv1.Listener{{
				Name:     "https",
				Port:     443,
				Protocol: gatewayv1.HTTPSProtocolType,
				TLS: &gatewayv1.ListenerTLSConfig{
					Mode:            &tlsMode,
					CertificateRefs: []gatewayv1.SecretObjectReference{{Name: "gateway-cert"}},
				},
			}},
		},
	}
	if err := c.Create(ctx, apiGateway); err != nil {
		t.Fatalf("create Gateway API gateway: %v", err)
	}
	var gotAPI gatewayv1.Gateway
	if err := c.Get(ctx, client.ObjectKeyFromObject(apiGateway), &gotAPI); err != nil {
		t.Fatalf("get Gateway API gateway: %v", err)
	}
	if got := gotAPI.Spec.Listeners[0].TLS.CertificateRefs[0].Name; got != "gateway-cert" {
		t.Errorf("certificateRefs[0].name = %q, want gateway-cert", got)
	}
}

func TestTwoClusters(t *testing.T) {
	clusters := testenv.StartN(t, 2, testenv.Options{})
	ctx := testenv.Context(t)

	for _, cluster := range clusters {
		namespace := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "only-in-" + cluster.Name}}
		if err := cluster.Client.Create(ctx, namespace); err != nil {
			t.Fatalf("create namespace in %s: %v", cluster.Name, err)
		}
	}

	for i, cluster := range clusters {
		other := clusters[1-i]
		var namespace corev1.Namespace
		if err := cluster.Client.Get(ctx, client.ObjectKey{Name: "only-in-" + cluster.Name}, &namespace); err != nil {
			t.Errorf("get own namespace in %s: %v", cluster.Name, err)
		}
		err := cluster.Client.Get(ctx, client.ObjectKey{Name: "only-in-" + other.Name}, &namespace)
		if err == nil {
			t.Errorf("%s sees the namespace written to %s", cluster.Name, other.Name)
		}
	}
}

func TestRestartAPIServer(t *testing.T) {
	cluster := testenv.Start(t, testenv.Options{})
	ctx := testenv.Context(t)
	// The clientset is built once, before the restart, as a long-running
	// controller would.
	clientset := kubernetes.NewForConfigOrDie(cluster.Config)
	config := rest.CopyConfig(cluster.Config)

	namespace := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "istio-system"}}
	if _, err := clientset.CoreV1().Namespaces().Create(ctx, namespace, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "before-restart", Namespace: "istio-system"},
		Data:       map[string][]byte{"value": []byte("stored in etcd")},
	}
	if _, err := clientset.CoreV1().Secrets("istio-system").Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create secret: %v", err)
	}
	istioGateway := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "networking.istio.io/v1",
		"kind":       "Gateway",
		"metadata":   map[string]any{"name": "before-restart", "namespace": "istio-system"},
		"spec":       map[string]any{"selector": map[string]any{"istio": "ingressgateway"}},
	}}
	if err := cluster.Client.Create(ctx, istioGateway); err != nil {
		t.Fatalf("create Istio gateway: %v", err)
	}
	watcher, err := clientset.CoreV1().Secrets("istio-system").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("watch secrets: %v", err)
	}
	defer watcher.Stop()

	cluster.RestartAPIServer(t)

	// A watch open before the restart ends, which shows that the old
	// process is gone and the objects below come from etcd.
	for range watcher.ResultChan() {
	}
	if ctx.Err() != nil {
		t.Fatal("watch opened before the restart was still open at the test's deadline")
	}
	if cluster.Config.Host != config.Host {
		t.Errorf("host = %s after the restart, want %s", cluster.Config.Host, config.Host)
	}
	got, err := clientset.CoreV1().Secrets("istio-system").Get(ctx, "before-restart", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get secret created before the restart: %v", err)
	}
	if string(got.Data["value"]) != "stored in etcd" {
		t.Errorf("secret value = %q after the restart, want %q", got.Data["value"], "stored in etcd")
	}
	gotIstio := &unstructured.Unstructured{}
	gotIstio.SetGroupVersionKind(schema.GroupVersionKind{Group: "networking.istio.io", Version: "v1", Kind: "Gateway"})
	if err := cluster.Client.Get(ctx, client.ObjectKeyFromObject(istioGateway), gotIstio); err != nil {
		t.Errorf("get Istio gateway created before the restart: %v", err)
	}

	rebuilt, err := kubernetes.NewForConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	after := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "after-restart", Namespace: "istio-system"}}
	if _, err := rebuilt.CoreV1().Secrets("istio-system").Create(ctx, after, metav1.CreateOptions{}); err != nil {
		t.Errorf("create secret with a copy of the config from before the restart: %v", err)
	}
}
