package demo_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/meshcert/meshcert/internal/demo"
)

// TestDemo runs the whole demo as 'make demo' does, with binaries built
// from this checkout, and fails when any step does not behave as
// described.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo builds every binary and starts two control planes")
	}
	for _, name := range []string{"TEST_ASSET_KUBE_APISERVER", "TEST_ASSET_ETCD"} {
		if os.Getenv(name) == "" {
			t.Fatalf("%s is not set: run the tests with 'make test'", name)
		}
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	binDir := t.TempDir()
	build(t, root, binDir, "./cmd/webhook", "./cmd/exporter", "./cmd/meshcert")
	build(t, filepath.Join(root, "hack/alerteval"), binDir, ".")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out bytes.Buffer
	err = demo.Run(ctx, demo.Options{
		BinDir: binDir,
		WebhookConfigs: []string{
			filepath.Join(root, "config/webhook/webhooks.yaml"),
			filepath.Join(root, "config/webhook/gateways.yaml"),
		},
		AlertRules:    filepath.Join(root, "dashboards/alerts.yaml"),
		RuleEvaluator: filepath.Join(binDir, "alerteval"),
		Out:           &out,
	})
	t.Log("demo output:\n" + out.String())
	if err != nil {
		t.Fatalf("demo failed: %v", err)
	}
}

func build(t *testing.T, dir, binDir string, packages ...string) {
	t.Helper()
	args := append([]string{"build", "-o", binDir + "/"}, packages...)
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %v: %v\n%s", packages, err, out)
	}
}
