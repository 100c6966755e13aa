package deploy_test

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshcert/meshcert/internal/testenv"
	"github.com/meshcert/meshcert/internal/wellknown"
)

// prometheusOperator is the module whose example CRDs stand in for the
// ServiceMonitor and PrometheusRule CRDs of a cluster running the
// Prometheus Operator.
const prometheusOperator = "github.com/prometheus-operator/prometheus-operator@v0.85.0"

func prometheusOperatorCRDs(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("go", "mod", "download", "-json", prometheusOperator).Output()
	if err != nil {
		t.Fatalf("go mod download %s: %v", prometheusOperator, err)
	}
	var module struct{ Dir, Error string }
	if err := json.Unmarshal(out, &module); err != nil || module.Dir == "" {
		t.Fatalf("go mod download %s: %v %s", prometheusOperator, err, module.Error)
	}
	dir := filepath.Join(module.Dir, "example", "prometheus-operator-crd")
	return []string{
		filepath.Join(dir, "monitoring.coreos.com_servicemonitors.yaml"),
		filepath.Join(dir, "monitoring.coreos.com_prometheusrules.yaml"),
	}
}

// apply applies objects with server-side apply, as helm and kubectl
// --server-side do; unknown fields fail.
func apply(t *testing.T, c client.Client, objects []*unstructured.Unstructured) {
	t.Helper()
	ctx := testenv.Context(t)
	for _, obj := range objects {
		err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner("meshcert-test"), client.ForceOwnership)
		if err != nil {
			t.Errorf("apply %s %s/%s: %v", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
		}
	}
}

func createNamespace(t *testing.T, c client.Client, name string, labels map[string]string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	if err := c.Create(testenv.Context(t), ns); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
}

var restricted = map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}

// withoutCertManager drops the cert-manager objects, whose CRDs the test
// cluster does not have.
func withoutCertManager(objects []*unstructured.Unstructured) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, obj := range objects {
		if !strings.HasPrefix(obj.GetAPIVersion(), "cert-manager.io/") {
			out = append(out, obj)
		}
	}
	return out
}

// createPods creates one Pod from each Deployment's template, so the
// restricted Pod Security admission of the namespace judges it.
func createPods(t *testing.T, c client.Client, objects []*unstructured.Unstructured) {
	t.Helper()
	for _, obj := range objects {
		if obj.GetKind() != "Deployment" {
			continue
		}
		template, _, _ := unstructured.NestedMap(obj.Object, "spec", "template")
		pod := &unstructured.Unstructured{Object: template}
		pod.SetAPIVersion("v1")
		pod.SetKind("Pod")
		pod.SetName(obj.GetName() + "-pod")
		pod.SetNamespace(obj.GetNamespace())
		if err := c.Create(testenv.Context(t), pod); err != nil {
			t.Errorf("create a Pod from Deployment %s in a restricted namespace: %v", obj.GetName(), err)
		}
	}
}

func TestApplyToAPIServer(t *testing.T) {
	cluster := testenv.Start(t, testenv.Options{ExtraCRDPaths: prometheusOperatorCRDs(t)})
	c := cluster.Client

	t.Run("install manifest", func(t *testing.T) {
		objects := decodeObjects(t, string(readRepoFile(t, "meshcert.yaml")))
		apply(t, c, objects)
		createPods(t, c, objects)
	})
	// The install manifest's webhooks now see every namespace but meshcert
	// and kube-system; check which Secrets and Gateways reach them before
	// other releases add their webhooks.
	t.Run("webhook selection", func(t *testing.T) { checkWebhookSelection(t, c) })

	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			namespace := "meshcert-" + v.name
			createNamespace(t, c, namespace, restricted)
			objects := withoutCertManager(render(t, v.name, namespace, v.sets...))
			apply(t, c, objects)
			createPods(t, c, objects)
		})
	}
}

// checkWebhookSelection creates objects while the install manifest's
// webhooks are registered. No webhook server runs, so an object that
// reaches a webhook fails with "failed calling webhook" (failurePolicy
// Fail), and one the selectors and matchConditions skip is stored.
func checkWebhookSelection(t *testing.T, c client.Client) {
	createNamespace(t, c, "apps", nil)
	createNamespace(t, c, "opted-out", map[string]string{wellknown.ValidationLabel: wellknown.Disabled})
	certData := map[string][]byte{"tls.crt": []byte("certificate"), "tls.key": []byte("key")}
	secret := func(namespace, name string, typ corev1.SecretType, data map[string][]byte, labels map[string]string) *corev1.Secret {
		return &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: labels},
			Type:       typ, Data: data,
		}
	}
	dockerConfig := map[string][]byte{".dockerconfigjson": []byte(`{"auths":{}}`), "ca.crt": []byte("x")}

	tests := []struct {
		name    string
		obj     client.Object
		webhook string // empty when the object must be stored
	}{
		{"tls secret", secret("apps", "tls", corev1.SecretTypeTLS, certData, nil), "/validate-secret"},
		{"opaque with cert key", secret("apps", "opaque-cert", corev1.SecretTypeOpaque, map[string][]byte{"cert": []byte("x")}, nil), "/validate-secret"},
		{"opaque with ca.crt", secret("apps", "opaque-ca", corev1.SecretTypeOpaque, map[string][]byte{"ca.crt": []byte("x")}, nil), "/validate-secret"},
		{"labelled opaque", secret("apps", "labelled", corev1.SecretTypeOpaque, map[string][]byte{"bundle.pem": []byte("x")},
			map[string]string{wellknown.ValidationLabel: wellknown.Enabled}), "/validate-secret"},
		{"opaque config", secret("apps", "config", corev1.SecretTypeOpaque, map[string][]byte{"password": []byte("x")}, nil), ""},
		{"docker config with ca.crt", secret("apps", "pull", corev1.SecretTypeDockerConfigJson, dockerConfig, nil), ""},
		{"helm release", secret("apps", "sh.helm.release.v1.x.v1", "helm.sh/release.v1", map[string][]byte{"release": []byte("x"), "cert": []byte("x")}, nil), ""},
		{"kube-system", secret("kube-system", "tls", corev1.SecretTypeTLS, certData, nil), ""},
		{"release namespace", secret("meshcert-system", "tls", corev1.SecretTypeTLS, certData, nil), ""},
		{"opted-out namespace", secret("opted-out", "tls", corev1.SecretTypeTLS, certData, nil), ""},
		{"istio gateway", istioGateway("apps"), "/validate-istio-gateway"},
		{"gateway api gateway", apiGateway("apps"), "/validate-gateway-api"},
		{"istio gateway opted out", istioGateway("opted-out"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.Create(testenv.Context(t), tt.obj)
			checkAdmission(t, err, tt.webhook)
		})
	}

	t.Run("delete tls secret", func(t *testing.T) {
		// Stored through the opted-out namespace, then moved into scope by
		// dropping the label, so the DELETE reaches the webhook.
		ctx := testenv.Context(t)
		obj := secret("opted-out", "to-delete", corev1.SecretTypeTLS, certData, nil)
		if err := c.Create(ctx, obj); err != nil {
			t.Fatalf("create: %v", err)
		}
		var ns corev1.Namespace
		if err := c.Get(ctx, client.ObjectKey{Name: "opted-out"}, &ns); err != nil {
			t.Fatalf("get namespace: %v", err)
		}
		delete(ns.Labels, wellknown.ValidationLabel)
		if err := c.Update(ctx, &ns); err != nil {
			t.Fatalf("update namespace: %v", err)
		}
		// The API server matches namespaceSelector against its namespace
		// cache, which observes the label change a moment later, so wait
		// until a create in the namespace reaches the webhook. The probe
		// holds no certificate key, so deleting it never reaches a webhook,
		// even once the cache has caught up between its create and delete.
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true,
			func(ctx context.Context) (bool, error) {
				probe := secret("opted-out", "probe", corev1.SecretTypeOpaque, map[string][]byte{"bundle.pem": []byte("x")},
					map[string]string{wellknown.ValidationLabel: wellknown.Enabled})
				if err := c.Create(ctx, probe); err == nil {
					return false, c.Delete(ctx, probe)
				}
				return true, nil
			})
		if err != nil {
			t.Fatalf("namespace never came into the webhooks' scope: %v", err)
		}
		checkAdmission(t, c.Delete(ctx, obj), "/validate-secret")

		ns.Labels[wellknown.ValidationLabel] = wellknown.Disabled
		if err := c.Update(ctx, &ns); err != nil {
			t.Fatalf("restore namespace label: %v", err)
		}
	})
}

// checkAdmission checks that err is nil when webhook is empty, and
// otherwise that the API server failed calling the webhook on that path.
func checkAdmission(t *testing.T, err error, webhook string) {
	t.Helper()
	if webhook == "" {
		if err != nil {
			t.Errorf("the request reached a webhook or failed: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("the request was admitted, want it to reach %s", webhook)
	}
	if !strings.Contains(err.Error(), "failed calling webhook") || !strings.Contains(err.Error(), webhook) {
		t.Errorf("error = %v, want a failed call to %s", err, webhook)
	}
}

func istioGateway(namespace string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "networking.istio.io/v1",
		"kind":       "Gateway",
		"metadata":   map[string]any{"name": "ingress", "namespace": namespace},
		"spec": map[string]any{
			"selector": map[string]any{"istio": "ingressgateway"},
			"servers": []any{map[string]any{
				"port":  map[string]any{"number": int64(443), "name": "https", "protocol": "HTTPS"},
				"hosts": []any{"example.com"},
				"tls":   map[string]any{"mode": "SIMPLE", "credentialName": "tls"},
			}},
		},
	}}
}

func apiGateway(namespace string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1",
		"kind":       "Gateway",
		"metadata":   map[string]any{"name": "web", "namespace": namespace},
		"spec": map[string]any{
			"gatewayClassName": "istio",
			"listeners": []any{map[string]any{
				"name": "https", "port": int64(443), "protocol": "HTTPS",
				"tls": map[string]any{"mode": "Terminate", "certificateRefs": []any{map[string]any{"name": "tls"}}},
			}},
		},
	}}
}
