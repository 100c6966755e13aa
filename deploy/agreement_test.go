package deploy_test

import (
	"fmt"
	"testing"

	"github.com/google/cel-go/cel"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// TestChartSelectsSecretsLikeConfig checks that the chart's Secret
// webhook and the plain configuration in config/webhook, which the tests
// and the demo install, send the same Secrets to the webhook: both sets of
// matchConditions are evaluated with CEL on a table of Secrets.
func TestChartSelectsSecretsLikeConfig(t *testing.T) {
	chart := render(t, "meshcert", "meshcert-system")
	chartConditions := secretWebhookConditions(t, chart)
	configConditions := secretWebhookConditions(t,
		decodeObjects(t, string(readRepoFile(t, "../config/webhook/webhooks.yaml"))))

	secrets := []struct {
		name   string
		secret corev1.Secret
	}{
		{"tls type", corev1.Secret{Type: corev1.SecretTypeTLS}},
		{"istio layout", corev1.Secret{Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"cert": nil, "key": nil}}},
		{"lone cacert", corev1.Secret{Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"cacert": nil}}},
		{"lone ca.crt", corev1.Secret{Data: map[string][]byte{"ca.crt": nil}}},
		{"opted in", corev1.Secret{ObjectMeta: metav1.ObjectMeta{
			Labels: map[string]string{"meshcert.io/validation": "enabled"}}}},
		{"opted out", corev1.Secret{Type: corev1.SecretTypeTLS, ObjectMeta: metav1.ObjectMeta{
			Labels: map[string]string{"meshcert.io/validation": "disabled"}}}},
		{"plain opaque", corev1.Secret{Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"password": nil}}},
		{"service account token", corev1.Secret{Type: corev1.SecretTypeServiceAccountToken,
			Data: map[string][]byte{"ca.crt": nil}}},
		{"helm release", corev1.Secret{Type: "helm.sh/release.v1", Data: map[string][]byte{"release": nil}}},
		{"docker config", corev1.Secret{Type: corev1.SecretTypeDockerConfigJson}},
		{"bootstrap token", corev1.Secret{Type: "bootstrap.kubernetes.io/token"}},
	}
	for _, tt := range secrets {
		t.Run(tt.name, func(t *testing.T) {
			object, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&tt.secret)
			if err != nil {
				t.Fatal(err)
			}
			fromChart := evaluateConditions(t, chartConditions, object)
			fromConfig := evaluateConditions(t, configConditions, object)
			if fromChart != fromConfig {
				t.Errorf("chart sends it to the webhook: %v; config/webhook: %v", fromChart, fromConfig)
			}
		})
	}
}

type matchCondition struct {
	name       string
	expression string
}

// secretWebhookConditions returns the matchConditions of the validating
// webhook that serves /validate-secret.
func secretWebhookConditions(t *testing.T, objects []*unstructured.Unstructured) []matchCondition {
	t.Helper()
	for _, obj := range objects {
		if obj.GetKind() != "ValidatingWebhookConfiguration" {
			continue
		}
		webhooks, _, _ := unstructured.NestedSlice(obj.Object, "webhooks")
		for _, webhook := range webhooks {
			entry := webhook.(map[string]any)
			path, _, _ := unstructured.NestedString(entry, "clientConfig", "service", "path")
			if path != "/validate-secret" {
				continue
			}
			var conditions []matchCondition
			raw, _, _ := unstructured.NestedSlice(entry, "matchConditions")
			for _, item := range raw {
				condition := item.(map[string]any)
				conditions = append(conditions, matchCondition{
					name: fmt.Sprint(condition["name"]), expression: fmt.Sprint(condition["expression"]),
				})
			}
			if len(conditions) == 0 {
				t.Fatalf("%s: the /validate-secret webhook has no matchConditions", obj.GetName())
			}
			return conditions
		}
	}
	t.Fatal("no validating webhook serves /validate-secret")
	return nil
}

// evaluateConditions reports whether every condition holds for a CREATE of
// object, as the API server evaluates them.
func evaluateConditions(t *testing.T, conditions []matchCondition, object map[string]any) bool {
	t.Helper()
	env, err := cel.NewEnv(
		cel.Variable("object", cel.DynType),
		cel.Variable("oldObject", cel.DynType),
		cel.Variable("request", cel.DynType),
	)
	if err != nil {
		t.Fatal(err)
	}
	input := map[string]any{
		"object":    object,
		"oldObject": nil,
		"request":   map[string]any{"operation": "CREATE"},
	}
	for _, condition := range conditions {
		ast, issues := env.Compile(condition.expression)
		if issues != nil && issues.Err() != nil {
			t.Fatalf("compile %s: %v", condition.name, issues.Err())
		}
		program, err := env.Program(ast)
		if err != nil {
			t.Fatalf("build %s: %v", condition.name, err)
		}
		value, _, err := program.Eval(input)
		if err != nil {
			t.Fatalf("evaluate %s: %v", condition.name, err)
		}
		if value.Value() != true {
			return false
		}
	}
	return true
}
