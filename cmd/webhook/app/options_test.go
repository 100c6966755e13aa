package app

import (
	"testing"

	"github.com/spf13/pflag"
)

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr bool
	}{
		{"defaults", nil, false},
		{"leader election with namespace", []string{"--leader-elect", "--namespace=meshcert-system"}, false},
		{"leader election without namespace", []string{"--leader-elect", "--namespace="}, true},
		{"port out of range", []string{"--webhook-port=70000"}, true},
		{"rule action", []string{"--rule-action=expired=warn"}, false},
		{"allowed curves", []string{"--allowed-curves=P-256,P-521"}, false},
		{"unknown curve", []string{"--allowed-curves=P-999"}, true},
		{"min rsa bits out of range", []string{"--min-rsa-bits=20480"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("POD_NAMESPACE", "")
			var opts Options
			fs := pflag.NewFlagSet("webhook", pflag.ContinueOnError)
			opts.AddFlags(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatalf("parse %v: %v", tt.args, err)
			}
			if err := opts.Validate(); (err != nil) != tt.wantErr {
				t.Errorf("Validate() = %v, want error %t", err, tt.wantErr)
			}
		})
	}
}

func TestOptionsDefaults(t *testing.T) {
	t.Setenv("POD_NAMESPACE", "meshcert-system")
	var opts Options
	fs := pflag.NewFlagSet("webhook", pflag.ContinueOnError)
	opts.AddFlags(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if opts.Namespace != "meshcert-system" {
		t.Errorf("namespace = %q, want POD_NAMESPACE", opts.Namespace)
	}
	if opts.WebhookPort != 9443 || opts.CertDir != DefaultCertDir {
		t.Errorf("port %d, cert dir %q: want 9443 and %q", opts.WebhookPort, opts.CertDir, DefaultCertDir)
	}
	if opts.MetricsBindAddress != ":8080" || opts.HealthProbeBindAddress != ":8081" {
		t.Errorf("metrics %q, probes %q: want :8080 and :8081", opts.MetricsBindAddress, opts.HealthProbeBindAddress)
	}
}
