package metrics

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/go-logr/logr/testr"

	"github.com/meshcert/meshcert/internal/testcerts"
)

// startFileExporter runs an exporter on paths. The rescan interval is an
// hour, so only file system events can bring changes in while a test runs.
func startFileExporter(t *testing.T, paths ...string) *Exporter {
	t.Helper()
	exporter, err := New(Options{Paths: paths, RescanInterval: time.Hour, Logger: testr.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		exporter.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	eventually(t, "files read", exporter.Ready)
	return exporter
}

func fileFingerprints(t *testing.T, e *Exporter, path string) []string {
	t.Helper()
	var out []string
	for _, s := range samples(t, e.Gatherer(), notAfterFamily, map[string]string{"path": path}) {
		out = append(out, s.labels["fingerprint"])
	}
	return out
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestFileAtomicRename(t *testing.T) {
	dir := t.TempDir()
	first := testcerts.New(t, testcerts.Options{KeyKind: testcerts.ECDSAP256})
	second := testcerts.New(t, testcerts.Options{KeyKind: testcerts.ECDSAP256})
	path := filepath.Join(dir, "tls.crt")
	writeFile(t, path, first.CertPEM)
	writeFile(t, filepath.Join(dir, "tls.key"), first.KeyPEM)

	exporter := startFileExporter(t, filepath.Join(dir, "*"))
	if got := fileFingerprints(t, exporter, path); !equalStrings(got, []string{fp(first)}) {
		t.Fatalf("fingerprints = %v, want the first certificate", got)
	}
	if got := samples(t, exporter.Gatherer(), "meshcert_secret_error", nil); len(got) != 0 {
		t.Errorf("error series = %v, want none (the key file is skipped)", got)
	}

	temp := filepath.Join(dir, ".tls.crt.tmp")
	writeFile(t, temp, second.CertPEM)
	if err := os.Rename(temp, path); err != nil {
		t.Fatal(err)
	}
	eventually(t, "renamed file read", func() bool {
		return equalStrings(fileFingerprints(t, exporter, path), []string{fp(second)})
	})

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	eventually(t, "removed file's series gone", func() bool {
		return len(fileFingerprints(t, exporter, path)) == 0
	})
}

// TestFileDataSymlinkSwap updates a directory the way the kubelet updates
// a Secret volume: a new timestamped directory, then an atomic rename of
// the ..data symlink.
func TestFileDataSymlinkSwap(t *testing.T) {
	dir := t.TempDir()
	first := testcerts.New(t, testcerts.Options{KeyKind: testcerts.ECDSAP256})
	second := testcerts.New(t, testcerts.Options{KeyKind: testcerts.ECDSAP256})
	writeVersion(t, dir, "..2026_12_04_1", first.CertPEM)
	symlink(t, "..2026_12_04_1", filepath.Join(dir, "..data"))
	symlink(t, filepath.Join("..data", "tls.crt"), filepath.Join(dir, "tls.crt"))
	path := filepath.Join(dir, "tls.crt")

	exporter := startFileExporter(t, filepath.Join(dir, "*.crt"))
	if got := fileFingerprints(t, exporter, path); !equalStrings(got, []string{fp(first)}) {
		t.Fatalf("fingerprints = %v, want the first certificate", got)
	}

	writeVersion(t, dir, "..2026_12_04_2", second.CertPEM)
	symlink(t, "..2026_12_04_2", filepath.Join(dir, "..data_tmp"))
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "swapped file read", func() bool {
		return equalStrings(fileFingerprints(t, exporter, path), []string{fp(second)})
	})
}

func writeVersion(t *testing.T, dir, version string, cert []byte) {
	t.Helper()
	if err := os.Mkdir(filepath.Join(dir, version), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, version, "tls.crt"), cert)
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// TestFileSkipsPrivateKeys checks that a file may combine certificates
// with their private key, while a Secret's certificate value may not, and
// that other non-certificate blocks in a file are still reported.
func TestFileSkipsPrivateKeys(t *testing.T) {
	f := fixtures(t)
	key := testcerts.EncodePKCS8(t, testcerts.Key(t, testcerts.ECDSAP256, 9))
	crl := pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: []byte{0x30, 0x00}})
	tests := []struct {
		name        string
		data        []byte
		file        bool
		wantReasons []string
		wantCerts   int
	}{
		{"file cert then key", join(f["leaf"], key), true, nil, 1},
		{"file key then chain", join(key, f["leaf"], f["intermediate"]), true, nil, 2},
		{"file key and crl", join(f["leaf"], key, crl), true, []string{"unexpected-block"}, 1},
		{"secret cert then key", join(f["leaf"], key), false, []string{"unexpected-block"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newParser()
			parse := p.parse
			if tt.file {
				parse = p.parseFile
			}
			facts := parse(tt.data, chainValue)
			if !slices.Equal(facts.reasons, tt.wantReasons) {
				t.Errorf("reasons = %v, want %v", facts.reasons, tt.wantReasons)
			}
			if len(facts.certs) != tt.wantCerts {
				t.Errorf("certificates = %d, want %d", len(facts.certs), tt.wantCerts)
			}
		})
	}
}

// recordLogs replaces the file source's logger with one that keeps the
// message and values of every line it logs.
func recordLogs(s *fileSource) *[]map[string]any {
	var lines []map[string]any
	s.logger = funcr.NewJSON(func(obj string) {
		var line map[string]any
		if err := json.Unmarshal([]byte(obj), &line); err == nil {
			lines = append(lines, line)
		}
	}, funcr.Options{})
	return &lines
}

// TestFileSourceLogs checks that each change is logged once: a glob that
// stops or starts matching, an added or removed file, and a file whose
// content has an error reason. Scans with nothing new log nothing.
func TestFileSourceLogs(t *testing.T) {
	f := fixtures(t)
	crl := pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: []byte{0x30, 0x00}})
	path := filepath.Join(t.TempDir(), "gateway.pem")
	te := newTestExporter(t, filepath.Join(filepath.Dir(path), "*.pem"))
	lines := recordLogs(te.files)

	steps := []struct {
		name   string
		change func()
		want   []string
	}{
		{"no file", func() {}, []string{"No file matches a --path glob, scanning again every interval"}},
		{"added", func() { writeFile(t, path, f["leaf"]) }, []string{"Files match a --path glob again", "Added file"}},
		{"bad block", func() { writeFile(t, path, join(f["leaf"], crl)) },
			[]string{"File has unusable certificate data, reported as meshcert_secret_error"}},
		{"removed", func() { os.Remove(path) },
			[]string{"No file matches a --path glob, scanning again every interval", "Removed file"}},
	}
	for _, step := range steps {
		*lines = nil
		step.change()
		te.files.scan()
		te.files.scan()
		var got []string
		for _, line := range *lines {
			got = append(got, line["msg"].(string))
		}
		if !slices.Equal(got, step.want) {
			t.Errorf("%s: logged %q, want %q", step.name, got, step.want)
		}
	}
	// The last error line names the path and the reason.
	*lines = nil
	writeFile(t, path, join(f["leaf"], crl))
	te.files.scan()
	if len(*lines) == 0 {
		t.Fatal("no line logged for a file with an error reason")
	}
	last := (*lines)[len(*lines)-1]
	if last["path"] != path {
		t.Errorf("error line path = %v, want %s", last["path"], path)
	}
	if reasons, _ := last["reasons"].([]any); len(reasons) != 1 || reasons[0] != "unexpected-block" {
		t.Errorf("error line reasons = %v, want [unexpected-block]", last["reasons"])
	}
}
