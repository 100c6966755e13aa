package deploy_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/meshcert/meshcert/internal/certrotation"
)

func TestChartLint(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			args := append([]string{"lint", "--strict", chartDir}, setArgs(v.sets)...)
			if _, err := runHelm(t, args...); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestChartOptionalKinds(t *testing.T) {
	tests := []struct {
		name string
		sets []string
		want map[string]int
	}{
		{"default", nil, map[string]int{
			"Deployment": 1, "Service": 2, "ServiceAccount": 1, "PodDisruptionBudget": 1, "Secret": 1,
			"ValidatingWebhookConfiguration": 1, "MutatingWebhookConfiguration": 1,
			"ServiceMonitor": 0, "PrometheusRule": 0, "ConfigMap": 0, "Certificate": 0,
		}},
		{"monitoring", variants[1].sets, map[string]int{"ServiceMonitor": 2, "PrometheusRule": 1, "ConfigMap": 1}},
		{"cert-manager", variants[2].sets, map[string]int{"Certificate": 1, "Issuer": 1, "Secret": 0}},
		{"cert-manager issuer", []string{"certManager.enabled=true", "certManager.issuerRef.name=corp-ca", "certManager.issuerRef.kind=ClusterIssuer"},
			map[string]int{"Certificate": 1, "Issuer": 0}},
		{"exporter deployment", variants[3].sets, map[string]int{"Deployment": 2, "ServiceAccount": 2}},
		{"single replica", variants[4].sets, map[string]int{"PodDisruptionBudget": 0, "MutatingWebhookConfiguration": 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := kinds(render(t, "test", "meshcert-system", tt.sets...))
			for kind, want := range tt.want {
				if got[kind] != want {
					t.Errorf("%s objects = %d, want %d", kind, got[kind], want)
				}
			}
		})
	}
}

func TestSchemaRejectsUnknownKeys(t *testing.T) {
	tests := []struct {
		name string
		set  string
	}{
		{"top-level typo", "replicaCuont=3"},
		{"nested typo", "webhook.failurPolicy=Ignore"},
		{"invalid enum", "webhook.failurePolicy=Sometimes"},
		{"timeout above API limit", "webhook.timeoutSeconds=31"},
		{"memory limit unit", "exporter.goMemLimit=40Mi"},
		{"memory limit above int64", "exporter.goMemLimit=99999999999999999999TiB"},
		{"memory limit TiB above int64", "exporter.goMemLimit=8388608TiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runHelm(t, "template", "test", chartDir, "--set", tt.set)
			if err == nil {
				t.Fatalf("helm template accepted --set %s", tt.set)
			}
			if !strings.Contains(err.Error(), "schema") {
				t.Errorf("error does not come from the values schema: %v", err)
			}
		})
	}
}

// TestExporterGoMemLimit checks that exporter.goMemLimit becomes the
// exporter's GOMEMLIMIT, and that an empty value sets no environment.
func TestExporterGoMemLimit(t *testing.T) {
	tests := []struct {
		name string
		sets []string
		want []any
	}{
		{"default", nil, []any{map[string]any{"name": "GOMEMLIMIT", "value": "40MiB"}}},
		{"off", []string{"exporter.goMemLimit=off"}, []any{map[string]any{"name": "GOMEMLIMIT", "value": "off"}}},
		{"largest TiB", []string{"exporter.goMemLimit=999999TiB"},
			[]any{map[string]any{"name": "GOMEMLIMIT", "value": "999999TiB"}}},
		{"empty", []string{"exporter.goMemLimit="}, nil},
		{"empty in own Deployment", []string{"exporter.goMemLimit=", "exporter.sidecar=false"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			found := false
			for _, obj := range render(t, "test", "meshcert-system", tt.sets...) {
				if obj.GetKind() != "Deployment" {
					continue
				}
				containers, _, _ := unstructured.NestedSlice(obj.Object, "spec", "template", "spec", "containers")
				for _, c := range containers {
					container := c.(map[string]any)
					if container["name"] != "exporter" {
						continue
					}
					found = true
					env, _, _ := unstructured.NestedSlice(container, "env")
					if !reflect.DeepEqual(env, tt.want) {
						t.Errorf("%s: exporter env = %v, want %v", obj.GetName(), env, tt.want)
					}
				}
			}
			if !found {
				t.Fatal("no Deployment has an exporter container")
			}
		})
	}
}

// TestWebhookClientConfig checks that every webhook calls the Service in
// front of the webhook pods, on the path cmd/webhook serves for it.
func TestWebhookClientConfig(t *testing.T) {
	objects := render(t, "prod", "meshcert-system")
	const serviceName = "prod-meshcert-webhook"
	wantPaths := map[string]string{
		"validate-secret.meshcert.io":        "/validate-secret",
		"secrets-in-use.meshcert.io":         "/validate-secret",
		"validate-istio-gateway.meshcert.io": "/validate-istio-gateway",
		"validate-gateway-api.meshcert.io":   "/validate-gateway-api",
		"mutate-secret.meshcert.io":          "/mutate-secret",
	}

	service := find(t, objects, "Service", serviceName)
	ports, _, _ := unstructured.NestedSlice(service.Object, "spec", "ports")
	if !slices.ContainsFunc(ports, func(p any) bool {
		port := p.(map[string]any)
		return port["port"] == int64(443) && port["targetPort"] == "webhook"
	}) {
		t.Errorf("Service %s has no port 443 to the webhook container port: %v", serviceName, ports)
	}
	container := webhookContainer(t, objects, serviceName)
	if !slices.Contains(containerPorts(container), "webhook=9443") {
		t.Errorf("webhook container ports = %v, want webhook=9443", containerPorts(container))
	}
	args, _, _ := unstructured.NestedStringSlice(container, "args")
	for _, flag := range []string{"--webhook-port=9443", "--cert-dir=/tmp/k8s-webhook-server/serving-certs"} {
		if !slices.Contains(args, flag) {
			t.Errorf("webhook args lack %s: %v", flag, args)
		}
	}

	seen := map[string]bool{}
	for _, kind := range []string{"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"} {
		config := find(t, objects, kind, serviceName)
		webhooks, _, _ := unstructured.NestedSlice(config.Object, "webhooks")
		for _, w := range webhooks {
			webhook := w.(map[string]any)
			name := webhook["name"].(string)
			seen[name] = true
			svc, _, _ := unstructured.NestedMap(webhook, "clientConfig", "service")
			if svc["name"] != serviceName || svc["namespace"] != "meshcert-system" || svc["port"] != int64(443) {
				t.Errorf("%s calls service %v, want %s/%s port 443", name, svc, "meshcert-system", serviceName)
			}
			if svc["path"] != wantPaths[name] {
				t.Errorf("%s path = %v, want %q", name, svc["path"], wantPaths[name])
			}
		}
	}
	for name := range wantPaths {
		if !seen[name] {
			t.Errorf("no webhook %s rendered", name)
		}
	}
}

func webhookContainer(t *testing.T, objects []*unstructured.Unstructured, deployment string) map[string]any {
	t.Helper()
	containers, _, _ := unstructured.NestedSlice(find(t, objects, "Deployment", deployment).Object,
		"spec", "template", "spec", "containers")
	for _, c := range containers {
		if c.(map[string]any)["name"] == "webhook" {
			return c.(map[string]any)
		}
	}
	t.Fatalf("Deployment %s has no webhook container", deployment)
	return nil
}

func containerPorts(container map[string]any) []string {
	ports, _, _ := unstructured.NestedSlice(container, "ports")
	var out []string
	for _, p := range ports {
		port := p.(map[string]any)
		out = append(out, fmt.Sprintf("%v=%v", port["name"], port["containerPort"]))
	}
	return out
}

// TestRestrictedPodSecurity checks the fields the restricted Pod Security
// Standard requires on every pod and container the chart renders.
func TestRestrictedPodSecurity(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			for _, obj := range render(t, "test", "meshcert-system", v.sets...) {
				if obj.GetKind() != "Deployment" {
					continue
				}
				podSpec, _, _ := unstructured.NestedMap(obj.Object, "spec", "template", "spec")
				checkPodSecurity(t, obj.GetName(), podSpec)
			}
		})
	}
}

func checkPodSecurity(t *testing.T, name string, podSpec map[string]any) {
	t.Helper()
	if v, _, _ := unstructured.NestedBool(podSpec, "securityContext", "runAsNonRoot"); !v {
		t.Errorf("%s: pod runAsNonRoot is not true", name)
	}
	if v, _, _ := unstructured.NestedInt64(podSpec, "securityContext", "runAsUser"); v != 65532 {
		t.Errorf("%s: pod runAsUser = %d, want 65532", name, v)
	}
	if v, _, _ := unstructured.NestedString(podSpec, "securityContext", "seccompProfile", "type"); v != "RuntimeDefault" {
		t.Errorf("%s: pod seccompProfile = %q, want RuntimeDefault", name, v)
	}
	containers, _, _ := unstructured.NestedSlice(podSpec, "containers")
	for _, c := range containers {
		container := c.(map[string]any)
		cname := name + "/" + container["name"].(string)
		if v, found, _ := unstructured.NestedBool(container, "securityContext", "allowPrivilegeEscalation"); !found || v {
			t.Errorf("%s: allowPrivilegeEscalation is not false", cname)
		}
		if v, _, _ := unstructured.NestedBool(container, "securityContext", "readOnlyRootFilesystem"); !v {
			t.Errorf("%s: readOnlyRootFilesystem is not true", cname)
		}
		if v, _, _ := unstructured.NestedStringSlice(container, "securityContext", "capabilities", "drop"); !slices.Equal(v, []string{"ALL"}) {
			t.Errorf("%s: capabilities.drop = %v, want [ALL]", cname, v)
		}
		for _, probe := range []string{"livenessProbe", "readinessProbe"} {
			if _, found, _ := unstructured.NestedMap(container, probe); !found {
				t.Errorf("%s: no %s", cname, probe)
			}
		}
	}
}

// TestChartFilesInStep checks that the chart's copies of the alert rules
// and the dashboard match dashboards/, because Helm reads only inside the
// chart.
func TestChartFilesInStep(t *testing.T) {
	for _, name := range []string{"alerts.yaml", "meshcert.json"} {
		source := readRepoFile(t, filepath.Join("../dashboards", name))
		chartCopy := readRepoFile(t, filepath.Join(chartDir, "files", name))
		if !bytes.Equal(source, chartCopy) {
			t.Errorf("%s/files/%s differs from dashboards/%s: run 'make manifests'", chartDir, name, name)
		}
	}
}

func TestManifestUpToDate(t *testing.T) {
	cmd := exec.Command("../hack/render-manifest.sh")
	cmd.Env = append(os.Environ(), "MESHCERT_HELM="+helm(t))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	rendered, err := cmd.Output()
	if err != nil {
		t.Fatalf("render manifest: %v: %s", err, stderr.String())
	}
	if !bytes.Equal(rendered, readRepoFile(t, "meshcert.yaml")) {
		t.Error("deploy/meshcert.yaml is not the chart's current rendering: run 'make manifests'")
	}
}

// TestAlertThresholdsFromValues renders the PrometheusRule with custom
// thresholds and checks the rules with promtool.
func TestAlertThresholdsFromValues(t *testing.T) {
	objects := render(t, "test", "meshcert-system", "prometheusRule.enabled=true",
		"alerts.expiryWarningDays=45", "alerts.expiryCriticalDays=14", "webhook.timeoutSeconds=5")
	rule := find(t, objects, "PrometheusRule", "test-meshcert")
	spec, _, _ := unstructured.NestedMap(rule.Object, "spec")
	rules, err := yaml.Marshal(spec)
	if err != nil {
		t.Fatalf("encode rules: %v", err)
	}
	for _, want := range []string{"< 45 * 86400", "< 14 * 86400", "> 0.8 * 5"} {
		if !strings.Contains(string(rules), want) {
			t.Errorf("rendered rules lack %q", want)
		}
	}
	for _, stale := range []string{"< 30 * 86400", "< 7 * 86400", "> 0.8 * 10"} {
		if strings.Contains(string(rules), stale) {
			t.Errorf("rendered rules keep the default threshold %q", stale)
		}
	}

	path := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, rules, 0o600); err != nil {
		t.Fatalf("write rules: %v", err)
	}
	out, err := exec.Command(promtool(t), "check", "rules", path).CombinedOutput()
	if err != nil {
		t.Errorf("promtool check rules on the rendered PrometheusRule: %v\n%s", err, out)
	}
}

func promtool(t *testing.T) string {
	t.Helper()
	path := os.Getenv("MESHCERT_PROMTOOL")
	if path == "" {
		t.Fatal("MESHCERT_PROMTOOL is not set: run the tests with 'make test', which builds promtool " +
			"and sets it, or run eval \"$(hack/tools/env.sh)\" from the repository root first")
	}
	return path
}

// TestChartFullname checks the prefix of resource names: a release name
// that contains the chart name is used alone, so release "meshcert" does
// not produce "meshcert-meshcert-webhook".
func TestChartFullname(t *testing.T) {
	tests := []struct {
		release string
		sets    []string
		want    string
	}{
		{"meshcert", nil, "meshcert-webhook"},
		{"meshcert-prod", nil, "meshcert-prod-webhook"},
		{"prod", nil, "prod-meshcert-webhook"},
		{"prod", []string{"fullnameOverride=certs"}, "certs-webhook"},
	}
	for _, tt := range tests {
		t.Run(tt.release+strings.Join(tt.sets, ","), func(t *testing.T) {
			objects := render(t, tt.release, "meshcert-system", tt.sets...)
			find(t, objects, "Deployment", tt.want)
			find(t, objects, "Service", tt.want)
			find(t, objects, "ValidatingWebhookConfiguration", tt.want)
		})
	}
}

// TestRotationDefaultsMatchChart checks that certrotation's default names
// are those of the chart's objects for release "meshcert", so the webhook
// run without --cert-rotation.* flags finds them.
func TestRotationDefaultsMatchChart(t *testing.T) {
	objects := render(t, "meshcert", "meshcert-system")
	find(t, objects, "Secret", certrotation.DefaultSecretName)
	find(t, objects, "Service", certrotation.DefaultServiceName)
	find(t, objects, "ValidatingWebhookConfiguration", certrotation.DefaultWebhookName)
	find(t, objects, "MutatingWebhookConfiguration", certrotation.DefaultWebhookName)
}

// TestRenderedYAMLStrict parses every rendered document strictly, as
// kubectl and the API server's strict field validation do: a repeated
// key, such as a label written twice, fails.
func TestRenderedYAMLStrict(t *testing.T) {
	withPodLabels := variant{"pod labels", []string{"podLabels.team=certs", "podLabels.app\\.kubernetes\\.io/name=other"}}
	for _, v := range append(slices.Clone(variants), withPodLabels) {
		t.Run(v.name, func(t *testing.T) {
			args := append([]string{"template", "test", chartDir, "--namespace", "meshcert-system"}, setArgs(v.sets)...)
			out, err := runHelm(t, args...)
			if err != nil {
				t.Fatal(err)
			}
			for i, doc := range strings.Split(out, "\n---\n") {
				if _, err := yaml.YAMLToJSONStrict([]byte(doc)); err != nil {
					t.Errorf("document %d: %v\n%s", i, err, doc)
				}
			}
		})
	}
}

// TestPodLabelsKeepSelector checks that podLabels add labels to the pods
// but cannot change the labels the Deployment selects its pods by.
func TestPodLabelsKeepSelector(t *testing.T) {
	objects := render(t, "test", "meshcert-system", "exporter.sidecar=false",
		"podLabels.team=certs", "podLabels.app\\.kubernetes\\.io/name=other")
	for _, name := range []string{"test-meshcert-webhook", "test-meshcert-exporter"} {
		deployment := find(t, objects, "Deployment", name)
		selector, _, _ := unstructured.NestedStringMap(deployment.Object, "spec", "selector", "matchLabels")
		labels, _, _ := unstructured.NestedStringMap(deployment.Object, "spec", "template", "metadata", "labels")
		for key, value := range selector {
			if labels[key] != value {
				t.Errorf("%s pod label %s = %q, want the selector's %q", name, key, labels[key], value)
			}
		}
		if labels["team"] != "certs" {
			t.Errorf("%s pod label team = %q, want certs", name, labels["team"])
		}
	}
}

// TestReplicasNeedLeaderElection checks that the chart rejects several
// webhook replicas without leader election, since each would run the
// mirror controller.
func TestReplicasNeedLeaderElection(t *testing.T) {
	tests := []struct {
		name    string
		sets    []string
		wantErr bool
	}{
		{"three without election", []string{"replicaCount=3", "leaderElection.enabled=false"}, true},
		{"three with election", []string{"replicaCount=3", "leaderElection.enabled=true"}, false},
		{"one without election", []string{"replicaCount=1", "leaderElection.enabled=false"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"template", "test", chartDir}, setArgs(tt.sets)...)
			_, err := runHelm(t, args...)
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("helm template failed: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("helm template rendered the chart, want a failure")
			}
			if !strings.Contains(err.Error(), "leaderElection.enabled is false") {
				t.Errorf("error does not name leaderElection.enabled: %v", err)
			}
		})
	}
}

// TestRenderedNoWhitespaceLines checks that no rendered line consists of
// indentation alone, which an include of an empty helper leaves behind.
// The alert rules and the dashboard are skipped: they embed copied files
// in block scalars, where an indented blank line is content.
func TestRenderedNoWhitespaceLines(t *testing.T) {
	embedding := []string{"templates/alerts-prometheusrule.yaml", "templates/dashboard-configmap.yaml"}
	scheduling := variant{"scheduling", []string{"exporter.sidecar=false", "priorityClassName=high", "nodeSelector.zone=a"}}
	for _, v := range append(slices.Clone(variants), scheduling) {
		t.Run(v.name, func(t *testing.T) {
			args := append([]string{"template", "test", chartDir, "--namespace", "meshcert-system"}, setArgs(v.sets)...)
			out, err := runHelm(t, args...)
			if err != nil {
				t.Fatal(err)
			}
			for _, doc := range strings.Split(out, "\n---\n") {
				if slices.ContainsFunc(embedding, func(source string) bool { return strings.Contains(doc, source) }) {
					continue
				}
				lines := strings.Split(doc, "\n")
				for i, line := range lines {
					if line != "" && strings.TrimSpace(line) == "" {
						t.Errorf("whitespace-only line after %q in\n%s", lines[max(i-1, 0)], doc)
					}
				}
			}
		})
	}
}
