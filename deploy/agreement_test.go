package deploy_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/cel-go/cel"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// TestChartSelectsSecretsLikeConfig checks that the chart's Secret
// webhooks and the plain configurations in config/webhook, which the
// tests and the demo install, send the same Secret writes to
// /validate-secret. It also checks that no write reaches two entries of
// one of them. Every entry's matchConditions are evaluated with CEL for
// each create, each update from one Secret of a table to another, and
// each delete.
func TestChartSelectsSecretsLikeConfig(t *testing.T) {
	chart := secretWebhookEntries(t, render(t, "meshcert", "meshcert-system"))
	var configObjects []*unstructured.Unstructured
	for _, path := range []string{"../config/webhook/webhooks.yaml", "../config/webhook/gateways.yaml"} {
		configObjects = append(configObjects, decodeObjects(t, string(readRepoFile(t, path)))...)
	}
	config := secretWebhookEntries(t, configObjects)

	secrets := []struct {
		name   string
		secret corev1.Secret
	}{
		{"tls type", corev1.Secret{Type: corev1.SecretTypeTLS}},
		{"istio layout", corev1.Secret{Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"cert": nil, "key": nil}}},
		{"lone cacert", corev1.Secret{Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"cacert": nil}}},
		{"lone ca.crt", corev1.Secret{Data: map[string][]byte{"ca.crt": nil}}},
		{"opaque tls pair", corev1.Secret{Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"tls.crt": nil, "tls.key": nil}}},
		{"staged next key", corev1.Secret{Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"tls.key": nil}}},
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
	objects := make([]map[string]any, len(secrets))
	for i, tt := range secrets {
		object, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&tt.secret)
		if err != nil {
			t.Fatal(err)
		}
		objects[i] = object
	}
	// Writes of these must never wait on the webhook, whatever its
	// failurePolicy: token controllers create and delete them all the time.
	credentials := []string{"service account token", "helm release", "docker config", "bootstrap token"}
	compare := func(what, operation string, oldObject, object map[string]any) {
		t.Helper()
		fromChart := calledEntries(t, chart, operation, oldObject, object)
		fromConfig := calledEntries(t, config, operation, oldObject, object)
		for _, credential := range credentials {
			if strings.Contains(what, credential) && len(fromChart)+len(fromConfig) > 0 {
				t.Errorf("%s calls the webhook: chart %v, config/webhook %v", what, fromChart, fromConfig)
			}
		}
		if (len(fromChart) > 0) != (len(fromConfig) > 0) {
			t.Errorf("%s: chart calls %v; config/webhook calls %v", what, fromChart, fromConfig)
		}
		if len(fromChart) > 1 || len(fromConfig) > 1 {
			t.Errorf("%s reaches /validate-secret more than once: chart %v, config/webhook %v", what, fromChart, fromConfig)
		}
	}
	for i, tt := range secrets {
		compare("create "+tt.name, "CREATE", nil, objects[i])
		compare("delete "+tt.name, "DELETE", objects[i], nil)
		for j, to := range secrets {
			// A Secret's type cannot change, so neither can an update.
			if secretType(tt.secret) != secretType(to.secret) {
				continue
			}
			compare(fmt.Sprintf("update %s to %s", tt.name, to.name), "UPDATE", objects[i], objects[j])
		}
	}
}

// secretType returns the type of secret as the API server stores it: an
// empty type becomes Opaque.
func secretType(secret corev1.Secret) corev1.SecretType {
	if secret.Type == "" {
		return corev1.SecretTypeOpaque
	}
	return secret.Type
}

// secretEntry is one validating webhook that serves /validate-secret.
type secretEntry struct {
	name       string
	operations []string
	conditions []matchCondition
}

type matchCondition struct {
	name       string
	expression string
}

// secretWebhookEntries returns the validating webhooks of objects that
// serve /validate-secret.
func secretWebhookEntries(t *testing.T, objects []*unstructured.Unstructured) []secretEntry {
	t.Helper()
	var entries []secretEntry
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
			name, _, _ := unstructured.NestedString(entry, "name")
			found := secretEntry{name: name}
			rules, _, _ := unstructured.NestedSlice(entry, "rules")
			for _, rule := range rules {
				operations, _, _ := unstructured.NestedStringSlice(rule.(map[string]any), "operations")
				found.operations = append(found.operations, operations...)
			}
			raw, _, _ := unstructured.NestedSlice(entry, "matchConditions")
			for _, item := range raw {
				condition := item.(map[string]any)
				found.conditions = append(found.conditions, matchCondition{
					name: fmt.Sprint(condition["name"]), expression: fmt.Sprint(condition["expression"]),
				})
			}
			if len(found.conditions) == 0 {
				t.Fatalf("%s: the /validate-secret webhook %s has no matchConditions", obj.GetName(), name)
			}
			entries = append(entries, found)
		}
	}
	if len(entries) == 0 {
		t.Fatal("no validating webhook serves /validate-secret")
	}
	return entries
}

// calledEntries returns the names of the entries the API server calls for
// a write: those whose rules list the operation and whose conditions all
// hold. oldObject is nil for a create, object for a delete.
func calledEntries(t *testing.T, entries []secretEntry, operation string, oldObject, object map[string]any) []string {
	t.Helper()
	var called []string
	for _, entry := range entries {
		if slices.Contains(entry.operations, operation) && evaluateConditions(t, entry, operation, oldObject, object) {
			called = append(called, entry.name)
		}
	}
	return called
}

// evaluateConditions reports whether every condition of entry holds for
// the write, as the API server evaluates them.
func evaluateConditions(t *testing.T, entry secretEntry, operation string, oldObject, object map[string]any) bool {
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
		"oldObject": oldObject,
		"request":   map[string]any{"operation": operation},
	}
	for _, condition := range entry.conditions {
		ast, issues := env.Compile(condition.expression)
		if issues != nil && issues.Err() != nil {
			t.Fatalf("%s: compile %s: %v", entry.name, condition.name, issues.Err())
		}
		program, err := env.Program(ast)
		if err != nil {
			t.Fatalf("%s: build %s: %v", entry.name, condition.name, err)
		}
		value, _, err := program.Eval(input)
		if err != nil {
			t.Fatalf("%s: evaluate %s on %s: %v", entry.name, condition.name, operation, err)
		}
		if value.Value() != true {
			return false
		}
	}
	return true
}
