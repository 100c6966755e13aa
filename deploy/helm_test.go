// Package deploy_test proves that charts/meshcert renders, passes helm
// lint, is accepted by a real API server, and that deploy/meshcert.yaml is
// the chart's current rendering.
package deploy_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

const chartDir = "../charts/meshcert"

// helm returns the helm binary that hack/tools/install.sh builds.
func helm(t *testing.T) string {
	t.Helper()
	path := os.Getenv("MESHCERT_HELM")
	if path == "" {
		t.Fatal("MESHCERT_HELM is not set: run the tests with 'make test', which builds helm " +
			"and sets it, or run eval \"$(hack/tools/env.sh)\" from the repository root first")
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("MESHCERT_HELM: %v; run 'make tools' to build it", err)
	}
	return path
}

// runHelm runs helm and returns its standard output; a failure returns the
// error with helm's standard error.
func runHelm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(helm(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// variant is one way to install the chart.
type variant struct {
	name string
	sets []string
}

// variants covers the defaults and each optional feature.
var variants = []variant{
	{"default", nil},
	{"monitoring", []string{"serviceMonitor.enabled=true", "prometheusRule.enabled=true", "grafanaDashboard.enabled=true"}},
	{"cert-manager", []string{"certManager.enabled=true"}},
	{"exporter-deployment", []string{"exporter.sidecar=false"}},
	{"single-replica", []string{"replicaCount=1", "leaderElection.enabled=false", "webhook.mutating.enabled=false"}},
}

func setArgs(sets []string) []string {
	var args []string
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	return args
}

// render runs helm template and decodes the objects.
func render(t *testing.T, release, namespace string, sets ...string) []*unstructured.Unstructured {
	t.Helper()
	args := append([]string{"template", release, chartDir, "--namespace", namespace}, setArgs(sets)...)
	out, err := runHelm(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return decodeObjects(t, out)
}

func decodeObjects(t *testing.T, manifest string) []*unstructured.Unstructured {
	t.Helper()
	decoder := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096)
	var objects []*unstructured.Unstructured
	for {
		var doc json.RawMessage
		err := decoder.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return objects
		}
		if err != nil {
			t.Fatalf("decode rendered manifest: %v", err)
		}
		if len(doc) == 0 || string(doc) == "null" {
			continue
		}
		// Unstructured decodes integers as int64, as the API machinery does.
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(doc); err != nil {
			t.Fatalf("decode rendered object: %v", err)
		}
		objects = append(objects, obj)
	}
}

// find returns the rendered object of kind and name, failing the test
// when there is none.
func find(t *testing.T, objects []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, obj := range objects {
		if obj.GetKind() == kind && obj.GetName() == name {
			return obj
		}
	}
	t.Fatalf("rendered chart has no %s %s", kind, name)
	return nil
}

func kinds(objects []*unstructured.Unstructured) map[string]int {
	count := map[string]int{}
	for _, obj := range objects {
		count[obj.GetKind()]++
	}
	return count
}

func readRepoFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Clean(path))
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return data
}
