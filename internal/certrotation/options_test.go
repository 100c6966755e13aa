package certrotation

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestOptionsValidate(t *testing.T) {
	valid := func() Options {
		fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
		var o Options
		o.AddFlags(fs)
		o.Namespace, o.CertDir = "meshcert", "/certs"
		return o
	}
	tests := []struct {
		name   string
		modify func(*Options)
		want   string
	}{
		{"defaults", func(*Options) {}, ""},
		{"disabled ignores the rest", func(o *Options) { *o = Options{} }, ""},
		{"no namespace", func(o *Options) { o.Namespace = "" }, "--namespace is empty"},
		{"no cert dir", func(o *Options) { o.CertDir = "" }, "--cert-dir is empty"},
		{"no webhooks", func(o *Options) { o.ValidatingWebhook, o.MutatingWebhook = "", "" }, "name at least one"},
		{"validity too short", func(o *Options) { o.CertValidity = o.RenewBefore }, "--cert-rotation.cert-validity"},
		{"renew before zero", func(o *Options) { o.RenewBefore = 0 }, "must be positive"},
		{"one webhook", func(o *Options) { o.MutatingWebhook = "" }, ""},
		{"ca validity", func(o *Options) { o.CAValidity = time.Hour }, "--cert-rotation.ca-validity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := valid()
			tt.modify(&o)
			err := o.Validate()
			if tt.want == "" {
				if err != nil {
					t.Errorf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestDNSNames(t *testing.T) {
	got := Options{Namespace: "ns", ServiceName: "svc"}.dnsNames()
	want := []string{"svc.ns.svc", "svc", "svc.ns", "svc.ns.svc.cluster.local"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("dnsNames = %v, want %v", got, want)
	}
}
