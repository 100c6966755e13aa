package deploy_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshcert/meshcert/internal/certrotation"
	"github.com/meshcert/meshcert/internal/certrotation/rotationtest"
	"github.com/meshcert/meshcert/internal/testenv"
)

// TestChartRotationWithChartRBAC runs certificate rotation as the chart's
// webhook ServiceAccount, with the flags the chart passes, against the
// objects the chart creates: the chart's names, flags and permissions must
// fit together.
func TestChartRotationWithChartRBAC(t *testing.T) {
	cluster := testenv.Start(t, testenv.Options{})
	ctx := testenv.Context(t)
	createNamespace(t, cluster.Client, "meshcert-system", nil)
	objects := render(t, "meshcert", "meshcert-system")
	apply(t, cluster.Client, objects)

	opts := chartRotationOptions(t, objects)
	opts.Namespace = "meshcert-system"
	opts.CertDir = t.TempDir()

	config := rest.CopyConfig(cluster.Config)
	config.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:meshcert-system:meshcert-webhook",
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:meshcert-system", "system:authenticated"},
	}
	rotationtest.Run(ctx, t, config, opts)

	var validating admissionregistrationv1.ValidatingWebhookConfiguration
	if err := cluster.Client.Get(ctx, client.ObjectKey{Name: "meshcert-webhook"}, &validating); err != nil {
		t.Fatalf("get validating configuration: %v", err)
	}
	for _, wh := range validating.Webhooks {
		if !bytes.Contains(wh.ClientConfig.CABundle, []byte("BEGIN CERTIFICATE")) {
			t.Errorf("webhook %s has no CA bundle", wh.Name)
		}
	}
	var mutating admissionregistrationv1.MutatingWebhookConfiguration
	if err := cluster.Client.Get(ctx, client.ObjectKey{Name: "meshcert-webhook"}, &mutating); err != nil {
		t.Fatalf("get mutating configuration: %v", err)
	}
	for _, wh := range mutating.Webhooks {
		if !bytes.Contains(wh.ClientConfig.CABundle, []byte("BEGIN CERTIFICATE")) {
			t.Errorf("webhook %s has no CA bundle", wh.Name)
		}
	}
}

// chartRotationOptions parses the --cert-rotation.* flags of the rendered
// webhook container with certrotation's own flag set.
func chartRotationOptions(t *testing.T, objects []*unstructured.Unstructured) certrotation.Options {
	t.Helper()
	args, _, _ := unstructured.NestedStringSlice(webhookContainer(t, objects, "meshcert-webhook"), "args")
	var rotationArgs []string
	for _, arg := range args {
		if strings.HasPrefix(arg, "--cert-rotation.") {
			rotationArgs = append(rotationArgs, arg)
		}
	}
	fs := pflag.NewFlagSet("webhook", pflag.ContinueOnError)
	var opts certrotation.Options
	opts.AddFlags(fs)
	if err := fs.Parse(rotationArgs); err != nil {
		t.Fatalf("parse the chart's rotation flags %v: %v", rotationArgs, err)
	}
	if !opts.Enabled {
		t.Fatal("the chart disables rotation by default")
	}
	return opts
}

// TestChartPermissions asks the API server what each ServiceAccount of
// the chart may do.
func TestChartPermissions(t *testing.T) {
	cluster := testenv.Start(t, testenv.Options{})
	createNamespace(t, cluster.Client, "meshcert-system", nil)
	apply(t, cluster.Client, render(t, "meshcert", "meshcert-system", "exporter.sidecar=false"))

	webhook := "system:serviceaccount:meshcert-system:meshcert-webhook"
	exporter := "system:serviceaccount:meshcert-system:meshcert-exporter"
	tests := []struct {
		user      string
		verb      string
		group     string
		resource  string
		namespace string
		name      string
		allowed   bool
	}{
		{webhook, "watch", "", "secrets", "apps", "", true},
		{webhook, "patch", "", "secrets", "apps", "", true},
		{webhook, "update", "", "secrets/finalizers", "apps", "", true},
		{webhook, "delete", "", "secrets", "apps", "", false},
		{webhook, "create", "", "secrets", "apps", "", false},
		{webhook, "list", "", "namespaces", "", "", true},
		{webhook, "list", "", "pods", "apps", "", true},
		{webhook, "delete", "", "pods", "apps", "", false},
		{webhook, "watch", "networking.istio.io", "gateways", "apps", "", true},
		{webhook, "watch", "gateway.networking.k8s.io", "gateways", "apps", "", true},
		{webhook, "watch", "gateway.networking.k8s.io", "referencegrants", "apps", "", true},
		{webhook, "update", "gateway.networking.k8s.io", "gateways", "apps", "", false},
		{webhook, "create", "", "events", "apps", "", true},
		{webhook, "create", "events.k8s.io", "events", "apps", "", true},
		{webhook, "create", "coordination.k8s.io", "leases", "meshcert-system", "", true},
		{webhook, "create", "coordination.k8s.io", "leases", "apps", "", false},
		{webhook, "update", "admissionregistration.k8s.io", "validatingwebhookconfigurations", "", "meshcert-webhook", true},
		{webhook, "update", "admissionregistration.k8s.io", "mutatingwebhookconfigurations", "", "meshcert-webhook", true},
		{webhook, "update", "admissionregistration.k8s.io", "validatingwebhookconfigurations", "", "other", false},
		{exporter, "list", "", "secrets", "apps", "", true},
		{exporter, "watch", "", "secrets", "apps", "", true},
		{exporter, "get", "", "secrets", "apps", "", false},
		{exporter, "update", "", "secrets", "apps", "", false},
		{exporter, "list", "", "pods", "apps", "", false},
	}
	for _, tt := range tests {
		name := strings.Join(slices.DeleteFunc([]string{tt.user[len("system:serviceaccount:meshcert-system:"):], tt.verb, tt.resource, tt.namespace, tt.name},
			func(s string) bool { return s == "" }), " ")
		t.Run(name, func(t *testing.T) {
			review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
				User:   tt.user,
				Groups: []string{"system:serviceaccounts", "system:serviceaccounts:meshcert-system", "system:authenticated"},
				ResourceAttributes: &authorizationv1.ResourceAttributes{
					Verb: tt.verb, Group: tt.group, Resource: resourceName(tt.resource),
					Subresource: subresource(tt.resource), Namespace: tt.namespace, Name: tt.name,
				},
			}}
			if err := cluster.Client.Create(testenv.Context(t), review); err != nil {
				t.Fatalf("create SubjectAccessReview: %v", err)
			}
			if review.Status.Allowed != tt.allowed {
				t.Errorf("allowed = %v, want %v (%s)", review.Status.Allowed, tt.allowed, review.Status.Reason)
			}
		})
	}
}

func resourceName(resource string) string {
	name, _, _ := strings.Cut(resource, "/")
	return name
}

func subresource(resource string) string {
	_, sub, _ := strings.Cut(resource, "/")
	return sub
}
