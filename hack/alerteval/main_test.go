package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

const testRules = `groups:
- name: test
  rules:
  - alert: ExpiresSoon
    expr: meshcert_secret_expiry_timestamp_seconds - time() < 7 * 86400
    for: 15m
    labels:
      severity: critical
    annotations:
      summary: "{{ $labels.secret }} expires soon"
  - alert: NeverFires
    expr: meshcert_secret_expiry_timestamp_seconds < 0
  - alert: ExporterAbsent
    expr: absent(up{job="meshcert-exporter"})
  - alert: HistogramSlow
    expr: histogram_quantile(0.99, sum by (le) (rate(request_duration_seconds_bucket[5m]))) > 1
`

func TestRunFiresAlerts(t *testing.T) {
	dir := t.TempDir()
	rulesPath := filepath.Join(dir, "rules.yaml")
	scrapePath := filepath.Join(dir, "scrape.prom")
	now := time.Now().Unix()
	scrape := fmt.Sprintf(`# TYPE meshcert_secret_expiry_timestamp_seconds gauge
meshcert_secret_expiry_timestamp_seconds{namespace="a",secret="short"} %d
meshcert_secret_expiry_timestamp_seconds{namespace="a",secret="long"} %d
# TYPE request_duration_seconds histogram
request_duration_seconds_bucket{le="0.1"} 1
request_duration_seconds_bucket{le="+Inf"} 1
request_duration_seconds_sum 0.05
request_duration_seconds_count 1
`, now+86400, now+365*86400)
	writeFile(t, rulesPath, testRules)
	writeFile(t, scrapePath, scrape)

	var out bytes.Buffer
	if err := run(context.Background(), rulesPath, scrapePath, labels.FromStrings("job", "meshcert-exporter"), &out); err != nil {
		t.Fatalf("run: %v", err)
	}

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("firing alerts = %q, want exactly one", lines)
	}
	if !strings.HasPrefix(lines[0], "ExpiresSoon {") {
		t.Errorf("alert = %q, want ExpiresSoon", lines[0])
	}
	if !strings.Contains(lines[0], "secret=short") {
		t.Errorf("alert = %q, want it for secret short", lines[0])
	}
	if !strings.Contains(lines[0], "job=meshcert-exporter") {
		t.Errorf("alert = %q, want the scrape job's label", lines[0])
	}
	if !strings.HasSuffix(lines[0], ": short expires soon") {
		t.Errorf("alert = %q, want the templated summary", lines[0])
	}
}

func TestRunRejectsInvalidRules(t *testing.T) {
	dir := t.TempDir()
	rulesPath := filepath.Join(dir, "rules.yaml")
	scrapePath := filepath.Join(dir, "scrape.prom")
	writeFile(t, rulesPath, "groups:\n- name: x\n  rules:\n  - alert: Bad\n    expr: sum(\n")
	writeFile(t, scrapePath, "")

	err := run(context.Background(), rulesPath, scrapePath, labels.EmptyLabels(), &bytes.Buffer{})
	if err == nil {
		t.Fatal("run succeeded on an invalid expression, want an error")
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
