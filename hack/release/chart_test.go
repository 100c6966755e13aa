package main

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestChartAppVersion checks that the chart's appVersion, which its
// default image tag follows, is the version in VERSION that make image
// tags the image with.
func TestChartAppVersion(t *testing.T) {
	data, err := os.ReadFile("../../charts/meshcert/Chart.yaml")
	if errors.Is(err, fs.ErrNotExist) {
		t.Skip("charts/meshcert/Chart.yaml does not exist")
	}
	if err != nil {
		t.Fatalf("read Chart.yaml: %v", err)
	}
	var chart struct {
		AppVersion string `yaml:"appVersion"`
	}
	if err := yaml.Unmarshal(data, &chart); err != nil {
		t.Fatalf("parse Chart.yaml: %v", err)
	}
	version := strings.TrimSpace(string(readFile(t, "../../VERSION")))
	if chart.AppVersion != version {
		t.Errorf("Chart.yaml appVersion = %q, want %q from VERSION", chart.AppVersion, version)
	}
}
