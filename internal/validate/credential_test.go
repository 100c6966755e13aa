package validate

import (
	"strings"
	"testing"
)

func TestParseCredentialName(t *testing.T) {
	tests := []struct {
		raw       string
		scheme    CredentialScheme
		namespace string
		name      string
		wantErr   string
	}{
		{raw: "web", scheme: SchemeKubernetes, name: "web"},
		{raw: "kubernetes://web", scheme: SchemeKubernetes, name: "web"},
		{raw: "kubernetes://apps/web", scheme: SchemeKubernetes, namespace: "apps", name: "web"},
		{raw: "kubernetes-gateway://apps/web", scheme: SchemeKubernetesGateway, namespace: "apps", name: "web"},
		{raw: "sds://vault-cert", scheme: SchemeSDS, name: "vault-cert"},
		{raw: "builtin://", scheme: SchemeBuiltin},
		{raw: "kubernetes-gateway://web", scheme: SchemeKubernetesGateway, wantErr: "needs NAMESPACE/NAME"},
		{raw: "kubernetes://a/b/c", scheme: SchemeKubernetes, wantErr: "2 slashes"},
		{raw: "kubernetes://", scheme: SchemeKubernetes, wantErr: "empty Secret name"},
		{raw: "kubernetes://apps/", scheme: SchemeKubernetes, namespace: "apps", wantErr: "empty Secret name"},
		{raw: "kubernetes://Apps/web", scheme: SchemeKubernetes, namespace: "Apps", name: "web", wantErr: "invalid namespace"},
		{raw: "file://etc/cert", scheme: "file", wantErr: "unknown scheme"},
		{raw: "Web_Cert", scheme: SchemeKubernetes, name: "Web_Cert", wantErr: "invalid Secret name"},
		{raw: "", scheme: SchemeKubernetes, wantErr: "empty Secret name"},
		{raw: strings.Repeat("a", 600), wantErr: "longer than 512"},
	}
	for _, tt := range tests {
		t.Run(tt.raw[:min(len(tt.raw), 40)], func(t *testing.T) {
			ref, err := ParseCredentialName(tt.raw)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %v, want one containing %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if ref.Scheme != tt.scheme {
				t.Errorf("scheme %q, want %q", ref.Scheme, tt.scheme)
			}
			if ref.Namespace != tt.namespace {
				t.Errorf("namespace %q, want %q", ref.Namespace, tt.namespace)
			}
			if ref.Name != tt.name {
				t.Errorf("name %q, want %q", ref.Name, tt.name)
			}
			if ref.Raw != tt.raw {
				t.Errorf("raw %q, want %q", ref.Raw, tt.raw)
			}
		})
	}
}

// FuzzParseCredentialName parses arbitrary names. It must not panic, a
// reference it accepts must name a Secret when it is checkable, and the
// time spent must not grow with the input beyond the length limit.
func FuzzParseCredentialName(f *testing.F) {
	for _, seed := range []string{"web", "kubernetes://a/b", "kubernetes-gateway://a/b", "sds://x", "builtin://",
		"kubernetes://a/b/c", "://", "kubernetes:///", strings.Repeat("kubernetes://", 100)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		ref, err := ParseCredentialName(raw)
		if err != nil {
			return
		}
		if ref.Checkable() && ref.Name == "" {
			t.Fatalf("accepted %q without a Secret name", raw)
		}
		if ref.Scheme == SchemeKubernetesGateway && ref.Namespace == "" {
			t.Fatalf("accepted %q without a namespace", raw)
		}
		if strings.Contains(ref.Name, "/") && ref.Checkable() {
			t.Fatalf("accepted %q with a slash in name %q", raw, ref.Name)
		}
	})
}

func FuzzParseCredentialNameHuge(f *testing.F) {
	f.Add(10000, "kubernetes://")
	f.Fuzz(func(t *testing.T, n int, unit string) {
		n = max(0, min(n, 1<<20))
		if _, err := ParseCredentialName(strings.Repeat(unit, n/max(1, len(unit)))); err == nil && n > 2*maxCredentialNameLength {
			t.Fatalf("accepted a name of %d bytes", n)
		}
	})
}
