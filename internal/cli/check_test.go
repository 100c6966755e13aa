package cli

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshcert/meshcert/internal/validate"
)

func TestCheckGolden(t *testing.T) {
	now := "--now=" + goldenNow
	tests := []struct {
		name  string
		args  []string
		stdin string
		code  int
	}{
		{"check-files-ok", []string{"check", now, fixturePath("web.crt"), fixturePath("web.key"), "--ca", fixturePath("root.crt")}, "", ExitOK},
		{"check-expiring", []string{"check", now, fixturePath("expiring.crt"), fixturePath("expiring.key")}, "", ExitOK},
		{"check-expiring-fail-on-warning", []string{"check", now, "--fail-on-warning", fixturePath("expiring.crt"), fixturePath("expiring.key")}, "", ExitWarnings},
		{"check-expired", []string{"check", now, fixturePath("expired.crt"), fixturePath("expired.key")}, "", ExitDenied},
		{"check-expired-as-warning", []string{"check", now, "--rule-action=expired=warn", fixturePath("expired.crt"), fixturePath("expired.key")}, "", ExitOK},
		{"check-mismatch", []string{"check", now, fixturePath("web.crt"), fixturePath("other.key")}, "", ExitDenied},
		{"check-key-only", []string{"check", now, fixturePath("web.key")}, "", ExitDenied},
		{"check-cert-only", []string{"check", now, fixturePath("web.crt"), "--ca", fixturePath("root.crt")}, "", ExitOK},
		{"check-cert-only-require-key", []string{"check", now, "--require-key", fixturePath("web.crt")}, "", ExitDenied},
		{"check-chain-mismatch", []string{"check", now, "-", fixturePath("other.key")}, string(fixtureChain(t, "web.crt", "intermediate.crt")), ExitDenied},
		{"check-ca-only", []string{"check", now, fixturePath("root.crt"), fixturePath("intermediate.crt")}, "", ExitOK},
		{"check-manifest", []string{"check", now, "-"}, manifestFixture(t), ExitDenied},
		{"check-combined", []string{"check", now, "-"}, string(fixtureChain(t, "web.crt", "web.key", "intermediate.crt")), ExitOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runCLI(t, tt.stdin, false, tt.args...)
			if got.code != tt.code {
				t.Errorf("exit status %d, want %d; stderr %q", got.code, tt.code, got.stderr)
			}
			checkGolden(t, tt.name+".txt", got.stdout+stderrSection(got.stderr))
		})
	}
}

func stderrSection(stderr string) string {
	if stderr == "" {
		return ""
	}
	return "--- stderr\n" + stderr
}

// manifestFixture is a multi-document manifest as 'kubectl create
// secret --dry-run -o yaml' and hand-written YAML produce it.
func manifestFixture(t *testing.T) string {
	t.Helper()
	b64 := func(data []byte) string { return base64.StdEncoding.EncodeToString(data) }
	indent := func(data []byte) string {
		return "    " + strings.ReplaceAll(strings.TrimSpace(string(data)), "\n", "\n    ")
	}
	web := fixtureChain(t, "web.crt", "intermediate.crt")
	wrongOrder := fixtureChain(t, "intermediate.crt", "expiring.crt")
	return fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  a: b
---
apiVersion: v1
kind: Secret
metadata:
  name: web
  namespace: istio-system
type: kubernetes.io/tls
data:
  tls.crt: %s
  tls.key: %s
  ca.crt: %s
---
# Istio's generic layout, written by hand.
apiVersion: v1
kind: Secret
metadata:
  name: shop
  namespace: apps
stringData:
  cert: |
%s
  key: |
%s
---
apiVersion: v1
kind: Secret
metadata:
  name: db-password
data:
  password: aHVudGVyMg==
---
{"apiVersion": "v1", "kind": "List", "items": [
  {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "old", "namespace": "apps"},
   "type": "kubernetes.io/tls", "data": {"tls.crt": %q, "tls.key": %q}}
]}
`, b64(web), b64(fixture(t, "web.key")), b64(fixture(t, "root.crt")),
		indent(wrongOrder), indent(fixture(t, "expiring.key")),
		b64(fixture(t, "expired.crt")), b64(fixture(t, "expired.key")))
}

func TestCheckInputErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	empty := write("empty.pem", "\n\n")
	badBase64 := write("bad.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: bad}\ndata:\n  tls.crt: '!!!'\n")
	noSecret := write("deploy.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n")
	badYAML := write("broken.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: [unclosed\n")
	noKind := write("nokind.yaml", "apiVersion: v1\nmetadata: {name: x}\n")
	badVersion := write("v2.yaml", "apiVersion: v2\nkind: Secret\nmetadata: {name: x}\n")
	der := write("server.der", "\x30\x03\x02\x01\x01")
	huge := write("huge.pem", strings.Repeat("A", maxInputBytes+1))

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing file", []string{filepath.Join(dir, "absent.pem")}, "absent.pem: no such file"},
		{"empty file", []string{empty}, "empty.pem: the file is empty"},
		{"bad base64", []string{badBase64}, "bad.yaml, document 1: invalid Secret (data values must be base64)"},
		{"no secret", []string{noSecret}, "deploy.yaml: no Secret found among 1 YAML documents (kinds: Deployment apps/v1)"},
		{"invalid yaml", []string{badYAML}, "broken.yaml: document 1 is invalid YAML"},
		{"no kind", []string{noKind}, "nokind.yaml, document 1: the document has no kind"},
		{"bad apiVersion", []string{badVersion}, `v2.yaml, document 1: a Secret with apiVersion "v2"`},
		{"two keys", []string{fixturePath("web.key"), fixturePath("other.key")}, "both hold a private key"},
		{"too large", []string{huge}, "huge.pem: the file is larger than 16 MiB"},
		{"stdin twice", []string{"-", "-"}, "standard input (-) is named twice"},
		{"extra unknown", []string{fixturePath("web.crt"), fixturePath("web.key"), der}, "server.der: not a certificate, key or CA file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runCLI(t, "", false, append([]string{"check"}, tt.args...)...)
			if got.code != ExitError {
				t.Errorf("exit status %d, want %d", got.code, ExitError)
			}
			if !strings.Contains(got.stderr, tt.want) {
				t.Errorf("stderr %q does not contain %q", got.stderr, tt.want)
			}
			if got.stdout != "" {
				t.Errorf("stdout %q, want nothing", got.stdout)
			}
		})
	}
}

func TestCheckColor(t *testing.T) {
	t.Setenv("NO_COLOR", "")
	args := []string{"check", "--now=" + goldenNow, fixturePath("expired.crt"), fixturePath("expired.key")}
	tests := []struct {
		name     string
		terminal bool
		extra    []string
		noColor  string
		want     bool
	}{
		{"terminal", true, nil, "", true},
		{"pipe", false, nil, "", false},
		{"no-color flag", true, []string{"--no-color"}, "", false},
		{"NO_COLOR", true, nil, "1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("NO_COLOR", tt.noColor)
			got := runCLI(t, "", tt.terminal, append(args, tt.extra...)...)
			if colored := strings.Contains(got.stdout, colorRed); colored != tt.want {
				t.Errorf("coloured output = %t, want %t:\n%s", colored, tt.want, got.stdout)
			}
		})
	}
}

func TestFileMessage(t *testing.T) {
	origins := map[string][]segment{
		"tls.crt": {{file: "leaf.pem", count: 1}, {file: "chain.pem", count: 2}},
		"tls.key": {{file: "web.key", count: 1}},
	}
	tests := []struct {
		name    string
		message string
		want    string
	}{
		{"first file block", "key of (CN=a, block 1 of tls.crt) nor", "key of (CN=a, leaf.pem block 1) nor"},
		{"second file block", "block 3 repeats block 2 of tls.crt", "block 3 repeats chain.pem block 1"},
		{"bare keys", "tls.key does not match tls.crt", "web.key does not match leaf.pem + chain.pem"},
		{"key without file", "store the CA in ca.crt", "store the CA in ca.crt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fileMessage(origins, validate.Finding{Rule: validate.RuleKeyMismatch, Message: tt.message})
			if got != tt.want {
				t.Errorf("fileMessage = %q, want %q", got, tt.want)
			}
		})
	}
}
