package main

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/meshcert/meshcert/hack/release/internal/dist"
)

// buildTestRelease runs the release command on the stand-in CLI for one
// tar.gz and one zip platform, which keeps the cross-compiles short.
func buildTestRelease(t *testing.T) string {
	t.Helper()
	src := t.TempDir()
	for _, doc := range []string{"LICENSE", "README.md"} {
		if err := os.WriteFile(filepath.Join(src, doc), []byte(doc+" text\n"), 0o600); err != nil {
			t.Fatalf("write %s: %v", doc, err)
		}
	}
	out := t.TempDir()
	args := []string{"release",
		"-dir", ".", "-out", out,
		"-version", testVersion, "-commit", testCommit, "-source-date-epoch", testEpoch,
		"-version-package", "main",
		"-package", "./testdata/standin/meshcert",
		"-platforms", "linux/amd64,windows/arm64",
		"-docs", filepath.Join(src, "LICENSE") + "," + filepath.Join(src, "README.md"),
	}
	if err := run(context.Background(), args, io.Discard); err != nil {
		t.Fatalf("release release: %v", err)
	}
	return out
}

func TestRelease(t *testing.T) {
	out := buildTestRelease(t)
	sums := readChecksums(t, filepath.Join(out, "checksums.txt"))
	wantNames := []string{"meshcert_0.1.0_linux_amd64.tar.gz", "meshcert_0.1.0_windows_arm64.zip"}
	if got := slices.Sorted(maps.Keys(sums)); !slices.Equal(got, wantNames) {
		t.Fatalf("checksums.txt names = %q, want %q", got, wantNames)
	}
	for name, sum := range sums {
		data := readFile(t, filepath.Join(out, name))
		got := sha256.Sum256(data)
		if hex.EncodeToString(got[:]) != sum {
			t.Errorf("checksums.txt sha256 of %s = %s, want %x", name, sum, got)
		}
	}

	files := readTarGz(t, filepath.Join(out, wantNames[0]))
	checkArchive(t, files, []string{"LICENSE", "README.md", "kubectl-meshcert", "meshcert"}, "meshcert")
	files = readZip(t, filepath.Join(out, wantNames[1]))
	checkArchive(t, files, []string{"LICENSE", "README.md", "kubectl-meshcert.exe", "meshcert.exe"}, "meshcert.exe")

	checkKrew(t, filepath.Join(out, "meshcert.yaml"), sums)
}

func TestReleaseReproducible(t *testing.T) {
	first := buildTestRelease(t)
	second := buildTestRelease(t)
	for _, file := range []string{"checksums.txt", "meshcert.yaml", "meshcert_0.1.0_linux_amd64.tar.gz", "meshcert_0.1.0_windows_arm64.zip"} {
		if string(readFile(t, filepath.Join(first, file))) != string(readFile(t, filepath.Join(second, file))) {
			t.Errorf("%s differs between two builds", file)
		}
	}
}

// readChecksums parses sha256sum's output format: "HEX  NAME" per line.
func readChecksums(t *testing.T, file string) map[string]string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatalf("open checksums: %v", err)
	}
	defer f.Close()
	sums := map[string]string{}
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		sum, name, ok := strings.Cut(scanner.Text(), "  ")
		if !ok || len(sum) != 64 {
			t.Fatalf("checksums.txt line %q: want \"SHA256  NAME\"", scanner.Text())
		}
		sums[name] = sum
	}
	return sums
}

// archiveFile is a file read back from a release archive.
type archiveFile struct {
	name string
	mode os.FileMode
	data []byte
}

func readTarGz(t *testing.T, file string) []archiveFile {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatalf("open archive: %v", err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("read gzip: %v", err)
	}
	if gz.Name != "" || !gz.ModTime.IsZero() {
		t.Errorf("gzip header name = %q, time = %s, want both empty", gz.Name, gz.ModTime)
	}
	var files []archiveFile
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatalf("read tar: %v", err)
		}
		if hdr.Uid != 0 || hdr.Gid != 0 || !hdr.ModTime.Equal(testCreated) {
			t.Errorf("%s owner = %d:%d, mtime = %s, want 0:0 and %s", hdr.Name, hdr.Uid, hdr.Gid, hdr.ModTime, testCreated)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("read %s: %v", hdr.Name, err)
		}
		files = append(files, archiveFile{name: hdr.Name, mode: hdr.FileInfo().Mode(), data: data})
	}
}

func readZip(t *testing.T, file string) []archiveFile {
	t.Helper()
	zr, err := zip.OpenReader(file)
	if err != nil {
		t.Fatalf("open zip: %v", err)
	}
	defer zr.Close()
	var files []archiveFile
	for _, f := range zr.File {
		if !f.Modified.Equal(testCreated) {
			t.Errorf("%s modified = %s, want %s", f.Name, f.Modified, testCreated)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatalf("open %s: %v", f.Name, err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("read %s: %v", f.Name, err)
		}
		files = append(files, archiveFile{name: f.Name, mode: f.Mode(), data: data})
	}
	return files
}

// checkArchive checks the names in order, that the plugin is the CLI
// under a second name, and the modes.
func checkArchive(t *testing.T, files []archiveFile, want []string, cli string) {
	t.Helper()
	var names []string
	byName := map[string]archiveFile{}
	for _, f := range files {
		names = append(names, f.name)
		byName[f.name] = f
	}
	if !slices.Equal(names, want) {
		t.Fatalf("archive entries = %q, want %q", names, want)
	}
	plugin := "kubectl-" + cli
	if len(byName[cli].data) == 0 || string(byName[cli].data) != string(byName[plugin].data) {
		t.Errorf("%s and %s differ or are empty, want the same binary", cli, plugin)
	}
	for _, name := range []string{cli, plugin} {
		if byName[name].mode != 0o755 {
			t.Errorf("%s mode = %s, want -rwxr-xr-x", name, byName[name].mode)
		}
	}
	if byName["LICENSE"].mode != 0o644 || string(byName["LICENSE"].data) != "LICENSE text\n" {
		t.Errorf("LICENSE mode = %s, content = %q, want -rw-r--r-- and the source file", byName["LICENSE"].mode, byName["LICENSE"].data)
	}
}

func checkKrew(t *testing.T, file string, sums map[string]string) {
	t.Helper()
	var plugin dist.KrewPlugin
	if err := yaml.Unmarshal(readFile(t, file), &plugin); err != nil {
		t.Fatalf("parse krew manifest: %v", err)
	}
	if plugin.APIVersion != "krew.googlecontainertools.github.com/v1alpha2" || plugin.Kind != "Plugin" {
		t.Errorf("krew manifest type = %s %s, want krew.googlecontainertools.github.com/v1alpha2 Plugin", plugin.APIVersion, plugin.Kind)
	}
	if plugin.Metadata.Name != "meshcert" || plugin.Spec.Version != "v"+testVersion {
		t.Errorf("krew plugin = %s %s, want meshcert v%s", plugin.Metadata.Name, plugin.Spec.Version, testVersion)
	}
	if n := len(plugin.Spec.ShortDescription); n == 0 || n > 50 {
		t.Errorf("krew shortDescription has %d characters, want 1 to 50", n)
	}
	want := []struct{ os, arch, archive, bin string }{
		{"linux", "amd64", "meshcert_0.1.0_linux_amd64.tar.gz", "kubectl-meshcert"},
		{"windows", "arm64", "meshcert_0.1.0_windows_arm64.zip", "kubectl-meshcert.exe"},
	}
	if len(plugin.Spec.Platforms) != len(want) {
		t.Fatalf("krew manifest has %d platforms, want %d", len(plugin.Spec.Platforms), len(want))
	}
	for i, w := range want {
		p := plugin.Spec.Platforms[i]
		if p.Selector.MatchLabels["os"] != w.os || p.Selector.MatchLabels["arch"] != w.arch || len(p.Selector.MatchLabels) != 2 {
			t.Errorf("platform %d selector = %v, want os=%s arch=%s", i, p.Selector.MatchLabels, w.os, w.arch)
		}
		wantURI := "https://github.com/meshcert/meshcert/releases/download/v0.1.0/" + w.archive
		if p.URI != wantURI {
			t.Errorf("platform %d uri = %s, want %s", i, p.URI, wantURI)
		}
		if p.SHA256 != sums[w.archive] {
			t.Errorf("platform %d sha256 = %s, want %s from checksums.txt", i, p.SHA256, sums[w.archive])
		}
		if p.Bin != w.bin {
			t.Errorf("platform %d bin = %s, want %s", i, p.Bin, w.bin)
		}
		wantFiles := []dist.KrewFile{{From: w.bin, To: "."}, {From: "LICENSE", To: "."}}
		if !slices.Equal(p.Files, wantFiles) {
			t.Errorf("platform %d files = %v, want %v", i, p.Files, wantFiles)
		}
	}
}
