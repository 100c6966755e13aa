package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// opensslFiles runs the openssl commands an operator would run to make a
// root CA, RSA and EC keys, server certificates valid 365 days and 1 day,
// and returns the folder of the files.
func opensslFiles(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not installed")
	}
	dir := t.TempDir()
	ext := "subjectAltName=DNS:web.example.com\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n"
	if err := os.WriteFile(filepath.Join(dir, "server.ext"), []byte(ext), 0o600); err != nil {
		t.Fatal(err)
	}
	commands := [][]string{
		{"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
			"-days", "3650", "-subj", "/CN=Example Root CA"},
		{"ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ec.key"},
		{"genrsa", "-out", "rsa.key", "2048"},
		{"req", "-new", "-key", "ec.key", "-out", "ec.csr", "-subj", "/CN=web.example.com"},
		{"req", "-new", "-key", "rsa.key", "-out", "rsa.csr", "-subj", "/CN=web.example.com"},
		{"x509", "-req", "-in", "ec.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
			"-days", "365", "-extfile", "server.ext", "-out", "ec-365.crt"},
		{"x509", "-req", "-in", "ec.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
			"-days", "1", "-extfile", "server.ext", "-out", "ec-1.crt"},
		{"x509", "-req", "-in", "rsa.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
			"-days", "365", "-extfile", "server.ext", "-out", "rsa-365.crt"},
		{"x509", "-in", "ec-365.crt", "-outform", "der", "-out", "ec-365.der"},
		{"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
			"-keyout", "self.key", "-out", "self.crt", "-days", "365", "-subj", "/CN=self.example.com"},
	}
	for _, args := range commands {
		cmd := exec.Command("openssl", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return dir
}

func TestCheckOpenSSL(t *testing.T) {
	dir := opensslFiles(t)
	path := func(name string) string { return filepath.Join(dir, name) }
	tests := []struct {
		name  string
		args  []string
		code  int
		rules []string
	}{
		{"ec 365 days", []string{path("ec-365.crt"), path("ec.key"), path("ca.crt")}, ExitOK, nil},
		{"rsa 365 days", []string{path("rsa-365.crt"), path("rsa.key"), "--ca", path("ca.crt")}, ExitOK, nil},
		{"1 day", []string{path("ec-1.crt"), path("ec.key")}, ExitOK, []string{"expiring-soon"}},
		{"1 day fail on warning", []string{"--fail-on-warning", path("ec-1.crt"), path("ec.key")}, ExitWarnings, []string{"expiring-soon"}},
		{"1 day short threshold", []string{"--expiring-soon=1h", "--fail-on-warning", path("ec-1.crt"), path("ec.key"), path("ca.crt")}, ExitOK, nil},
		{"root signed without ca", []string{path("ec-365.crt"), path("ec.key")}, ExitOK, []string{"incomplete-chain"}},
		{"mismatched pair", []string{path("ec-365.crt"), path("rsa.key")}, ExitDenied, []string{"key-mismatch"}},
		{"key order", []string{path("ec.key"), path("ec-365.crt"), "--ca", path("ca.crt")}, ExitOK, nil},
		{"der certificate", []string{path("ec-365.der"), path("ec.key")}, ExitDenied, []string{"der"}},
		{"certificate only", []string{path("ec-365.crt"), "--ca", path("ca.crt")}, ExitOK, nil},
		{"certificate only key required", []string{"--require-key", path("ec-365.crt")}, ExitDenied, []string{"missing-key"}},
		{"self-signed", []string{path("self.crt"), path("self.key")}, ExitOK, []string{"leaf-is-ca"}},
		{"ca as leaf", []string{path("ca.crt"), path("ca.key")}, ExitOK, []string{"no-san", "leaf-is-ca"}},
		{"stdin certificate", []string{"-", path("ec.key"), path("ca.crt")}, ExitOK, nil},
	}
	stdin, err := os.ReadFile(path("ec-365.crt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runCLI(t, string(stdin), false, append([]string{"check"}, tt.args...)...)
			if got.code != tt.code {
				t.Errorf("exit status %d, want %d\n%s%s", got.code, tt.code, got.stdout, got.stderr)
			}
			for _, rule := range tt.rules {
				if !strings.Contains(got.stdout, "  "+rule+"  ") {
					t.Errorf("output lacks rule %s:\n%s", rule, got.stdout)
				}
			}
			if tt.rules == nil && !strings.Contains(got.stdout, "  OK\n") {
				t.Errorf("output is not OK:\n%s", got.stdout)
			}
			for _, key := range []string{"ec.key", "rsa.key"} {
				if material := firstBase64Line(t, path(key)); strings.Contains(got.stdout+got.stderr, material) {
					t.Errorf("output shows material of %s:\n%s", key, got.stdout)
				}
			}
		})
	}
}

// firstBase64Line returns the first line of base64 of a PEM file.
func firstBase64Line(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(string(data), "\n")[1]
}
