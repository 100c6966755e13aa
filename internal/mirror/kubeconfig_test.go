package mirror

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const inlineKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: peer
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: Y2E=
users:
- name: mirror
  user:
    token: secret-token
contexts:
- name: peer
  context: {cluster: peer, user: mirror}
current-context: peer
`

func TestRestConfigFromKubeconfig(t *testing.T) {
	tests := []struct {
		name    string
		config  string
		wantErr string
	}{
		{"inline", inlineKubeconfig, ""},
		{"empty", "", "empty kubeconfig"},
		{"exec plugin", strings.Replace(inlineKubeconfig, "token: secret-token", "exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/sh}", 1), "exec plugin"},
		{"token file", strings.Replace(inlineKubeconfig, "token: secret-token", "tokenFile: /var/run/token", 1), "names a file"},
		{"ca file", strings.Replace(inlineKubeconfig, "certificate-authority-data: Y2E=", "certificate-authority: /etc/ca.crt", 1), "CA file"},
		{"not yaml", "{{{", "parse kubeconfig"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			config, err := restConfigFromKubeconfig([]byte(tt.config))
			if tt.wantErr == "" {
				if err != nil || config.Host != "https://127.0.0.1:6443" {
					t.Fatalf("restConfigFromKubeconfig = %v, %v", config, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "secret-token") {
				t.Errorf("error quotes the credential: %v", err)
			}
		})
	}
}

func TestParsePeerSecret(t *testing.T) {
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "meshcert", Name: "peers"},
		Data: map[string][]byte{
			"east":     []byte(inlineKubeconfig),
			"west":     []byte("not a kubeconfig"),
			"bad/name": []byte(inlineKubeconfig),
		},
	}
	peers, errs := parsePeerSecret(secret)
	if len(peers) != 1 || peers[0].name != "east" {
		t.Fatalf("peers = %v, want east only", peers)
	}
	if len(errs) != 2 {
		t.Fatalf("errors = %v, want 2", errs)
	}
	for _, err := range errs {
		if strings.Contains(err.Error(), "secret-token") {
			t.Errorf("error quotes the credential: %v", err)
		}
	}
}

func FuzzRestConfigFromKubeconfig(f *testing.F) {
	f.Add([]byte(inlineKubeconfig))
	f.Add([]byte("apiVersion: v1\nkind: Config\n"))
	f.Add([]byte(strings.Repeat("a: [", 10000)))
	f.Fuzz(func(t *testing.T, data []byte) {
		start := time.Now()
		_, _ = restConfigFromKubeconfig(data)
		if elapsed := time.Since(start); elapsed > 10*time.Second {
			t.Fatalf("parsing %d bytes took %v", len(data), elapsed)
		}
	})
}
