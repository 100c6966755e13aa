package mirror

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestOptionsFlags(t *testing.T) {
	opts := DefaultOptions()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	opts.AddFlags(fs)
	err := fs.Parse([]string{"--cluster-id=east", "--mirror-create-namespaces", "--mirror-peer-timeout=3s"})
	if err != nil {
		t.Fatalf("parse flags: %v", err)
	}
	if opts.ClusterID != "east" || !opts.CreateNamespaces || opts.PeerTimeout != 3*time.Second {
		t.Errorf("options after parsing = %+v", opts)
	}
	if opts.PeerWorkers != DefaultOptions().PeerWorkers {
		t.Errorf("PeerWorkers = %d, want the default", opts.PeerWorkers)
	}
}

func TestOptionsValidate(t *testing.T) {
	valid := DefaultOptions()
	valid.Namespace = "meshcert"
	tests := []struct {
		name    string
		mutate  func(*Options)
		wantErr string
	}{
		{"valid", func(*Options) {}, ""},
		{"no namespace", func(o *Options) { o.Namespace = "" }, "namespace is empty"},
		{"no workers", func(o *Options) { o.PeerWorkers = 0 }, "--mirror-peer-workers"},
		{"zero timeout", func(o *Options) { o.PeerTimeout = 0 }, "--mirror-peer-timeout"},
		{"long cluster id", func(o *Options) { o.ClusterID = strings.Repeat("a", 64) }, "--cluster-id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := valid
			tt.mutate(&opts)
			err := opts.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}
