package app

import (
	"context"
	"encoding/json"
	"math"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"

	"github.com/meshcert/meshcert/internal/metrics"
)

// recorder keeps the message and values of every logged line.
type recorder struct {
	mu    sync.Mutex
	lines []map[string]any
}

func (r *recorder) logger() logr.Logger {
	return funcr.NewJSON(func(obj string) {
		var line map[string]any
		if err := json.Unmarshal([]byte(obj), &line); err != nil {
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		r.lines = append(r.lines, line)
	}, funcr.Options{})
}

// TestServePortInUse checks that a listen address in use is logged once,
// naming the address, and that the returned error is marked as logged so
// cmd/exporter does not print it again.
func TestServePortInUse(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	address := taken.Addr().String()

	var logs recorder
	exporter, err := metrics.New(metrics.Options{
		Paths: []string{filepath.Join(t.TempDir(), "*.pem")}, RescanInterval: time.Hour, Logger: logs.logger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	opts := &Options{ListenAddress: address, TelemetryPath: "/metrics"}
	err = serve(context.Background(), exporter, opts, logs.logger())
	if err == nil {
		t.Fatalf("serve on %s, which is in use, returned no error", address)
	}
	if !Logged(err) {
		t.Errorf("error %v is not marked as logged", err)
	}

	logs.mu.Lock()
	defer logs.mu.Unlock()
	var errorLines []map[string]any
	for _, line := range logs.lines {
		if line["msg"] == "Stopped exporter" {
			t.Errorf("logged %v after a failure", line)
		}
		if _, ok := line["error"]; ok {
			errorLines = append(errorLines, line)
		}
	}
	if len(errorLines) != 1 {
		t.Fatalf("logged %d error lines, want 1: %v", len(errorLines), errorLines)
	}
	if message, _ := errorLines[0]["error"].(string); !strings.HasPrefix(message, "listen on "+address+": ") {
		t.Errorf("error = %q, want it to start with %q", message, "listen on "+address+": ")
	}
}

func TestValidateRejectsInvalidFlags(t *testing.T) {
	valid := func() *Options {
		return &Options{TelemetryPath: "/metrics", Kubernetes: true, QPS: 20, Burst: 40}
	}
	tests := []struct {
		name   string
		change func(*Options)
		want   string
	}{
		{"path without slash", func(o *Options) { o.TelemetryPath = "metrics" }, "--web.telemetry-path"},
		{"path of liveness", func(o *Options) { o.TelemetryPath = "/healthz" }, "--web.telemetry-path"},
		{"path of readiness", func(o *Options) { o.TelemetryPath = "/readyz" }, "--web.telemetry-path"},
		{"path with wildcard", func(o *Options) { o.TelemetryPath = "/{name}" }, "--web.telemetry-path"},
		{"path with space", func(o *Options) { o.TelemetryPath = "/ metrics" }, "--web.telemetry-path"},
		{"negative qps", func(o *Options) { o.QPS = -1 }, "--kube-api-qps"},
		{"NaN qps", func(o *Options) { o.QPS = float32(math.NaN()) }, "--kube-api-qps"},
		{"zero burst", func(o *Options) { o.Burst = 0 }, "--kube-api-burst"},
		{"label selector", func(o *Options) { o.Secrets.LabelSelector = "a=b=c" }, "--label-selector"},
		{"empty include", func(o *Options) { o.Secrets.NamespaceInclude = []string{"a", ""} }, "--namespace-include"},
		{"invalid include", func(o *Options) { o.Secrets.NamespaceInclude = []string{"Bad_NS"} }, "--namespace-include"},
		{"empty exclude", func(o *Options) { o.Secrets.NamespaceExclude = []string{""} }, "--namespace-exclude"},
		{"included and excluded", func(o *Options) {
			o.Secrets.NamespaceInclude, o.Secrets.NamespaceExclude = []string{"a", "b"}, []string{"b"}
		}, "--namespace-exclude"},
		{"negative rescan", func(o *Options) { o.RescanInterval = -time.Second }, "--path.rescan-interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := valid()
			tt.change(o)
			err := o.validate()
			if err == nil {
				t.Fatal("validate returned no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not name %s", err, tt.want)
			}
		})
	}
}

func TestValidateKeepsNamespacesOnce(t *testing.T) {
	o := &Options{TelemetryPath: "/metrics", Kubernetes: true, QPS: 20, Burst: 40}
	o.Secrets.NamespaceInclude = []string{"a", "b", "a"}
	o.Secrets.NamespaceExclude = []string{"c", "c"}
	if err := o.validate(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(o.Secrets.NamespaceInclude, ","); got != "a,b" {
		t.Errorf("namespaces included = %s, want a,b", got)
	}
	if got := strings.Join(o.Secrets.NamespaceExclude, ","); got != "c" {
		t.Errorf("namespaces excluded = %s, want c", got)
	}
}

func TestValidateSkipsKubernetesFlagsForFiles(t *testing.T) {
	o := &Options{TelemetryPath: "/metrics", QPS: -1}
	if err := o.validate(); err != nil {
		t.Errorf("validate rejected Kubernetes flags with --kubernetes=false: %v", err)
	}
}
