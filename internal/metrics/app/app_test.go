package app

import (
	"context"
	"encoding/json"
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
