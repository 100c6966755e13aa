package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/x509"
	"debug/elf"
	"encoding/pem"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/meshcert/meshcert/hack/release/internal/cabundle"
)

const (
	testVersion = "0.1.0"
	testCommit  = "0123456789abcdef0123456789abcdef01234567"
	testEpoch   = "1767225600" // 2026-01-01T00:00:00Z
	testRepo    = "ghcr.io/meshcert/meshcert"
)

var testCreated = time.Unix(1767225600, 0).UTC()

// buildTestImage runs the image command on the stand-in binaries under
// testdata, which cross-compile in seconds, and returns the output dir.
func buildTestImage(t *testing.T) string {
	t.Helper()
	out := t.TempDir()
	args := []string{"image",
		"-dir", ".", "-out", out,
		"-version", testVersion, "-commit", testCommit, "-source-date-epoch", testEpoch,
		"-version-package", "main",
		"-webhook", "./testdata/standin/webhook",
		"-exporter", "./testdata/standin/exporter",
		"-meshcert", "./testdata/standin/meshcert",
	}
	if err := run(context.Background(), args, io.Discard); err != nil {
		t.Fatalf("release image: %v", err)
	}
	return out
}

// readIndex returns the multi-architecture index that the layout's
// index.json names, after checking that entry's annotations.
func readIndex(t *testing.T, dir string) v1.ImageIndex {
	t.Helper()
	outer, err := layout.ImageIndexFromPath(filepath.Join(dir, "oci"))
	if err != nil {
		t.Fatalf("read OCI layout: %v", err)
	}
	manifest, err := outer.IndexManifest()
	if err != nil {
		t.Fatalf("read index.json: %v", err)
	}
	if len(manifest.Manifests) != 1 {
		t.Fatalf("index.json has %d entries, want 1", len(manifest.Manifests))
	}
	desc := manifest.Manifests[0]
	if desc.MediaType != types.OCIImageIndex {
		t.Errorf("index.json entry media type = %s, want %s", desc.MediaType, types.OCIImageIndex)
	}
	if got := desc.Annotations["org.opencontainers.image.ref.name"]; got != testVersion {
		t.Errorf("ref.name annotation = %q, want %q", got, testVersion)
	}
	if got := desc.Annotations["io.containerd.image.name"]; got != testRepo+":"+testVersion {
		t.Errorf("io.containerd.image.name annotation = %q, want %q", got, testRepo+":"+testVersion)
	}
	idx, err := outer.ImageIndex(desc.Digest)
	if err != nil {
		t.Fatalf("read image index %s: %v", desc.Digest, err)
	}
	return idx
}

func TestImage(t *testing.T) {
	dir := buildTestImage(t)
	idx := readIndex(t, dir)
	manifest, err := idx.IndexManifest()
	if err != nil {
		t.Fatalf("read image index: %v", err)
	}
	if manifest.MediaType != types.OCIImageIndex {
		t.Errorf("image index media type = %s, want %s", manifest.MediaType, types.OCIImageIndex)
	}
	checkAnnotations(t, "image index", manifest.Annotations)

	wantPlatforms := []v1.Platform{
		{OS: "linux", Architecture: "amd64"},
		{OS: "linux", Architecture: "arm64", Variant: "v8"},
	}
	if len(manifest.Manifests) != len(wantPlatforms) {
		t.Fatalf("image index has %d manifests, want %d", len(manifest.Manifests), len(wantPlatforms))
	}
	for i, desc := range manifest.Manifests {
		want := wantPlatforms[i]
		if desc.Platform == nil || !desc.Platform.Equals(want) {
			t.Errorf("manifest %d platform = %v, want %v", i, desc.Platform, want)
			continue
		}
		img, err := idx.Image(desc.Digest)
		if err != nil {
			t.Fatalf("read image %s: %v", want.Architecture, err)
		}
		t.Run(want.Architecture, func(t *testing.T) {
			checkImage(t, img, want)
			checkDockerArchive(t, dir, img, want.Architecture)
		})
	}
}

func TestImageReproducible(t *testing.T) {
	first := buildTestImage(t)
	second := buildTestImage(t)
	firstDigest, err := readIndex(t, first).Digest()
	if err != nil {
		t.Fatalf("first digest: %v", err)
	}
	secondDigest, err := readIndex(t, second).Digest()
	if err != nil {
		t.Fatalf("second digest: %v", err)
	}
	if firstDigest != secondDigest {
		t.Errorf("image index digests differ: %s and %s", firstDigest, secondDigest)
	}
	for _, file := range []string{"oci/index.json", "meshcert_0.1.0_linux_amd64.tar", "meshcert_0.1.0_linux_arm64.tar"} {
		a := readFile(t, filepath.Join(first, file))
		b := readFile(t, filepath.Join(second, file))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between two builds", file)
		}
	}
}

func readFile(t *testing.T, file string) []byte {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("read %s: %v", file, err)
	}
	return data
}

func checkAnnotations(t *testing.T, object string, annotations map[string]string) {
	t.Helper()
	want := map[string]string{
		"org.opencontainers.image.version":  testVersion,
		"org.opencontainers.image.revision": testCommit,
		"org.opencontainers.image.created":  "2026-01-01T00:00:00Z",
		"org.opencontainers.image.licenses": "Apache-2.0",
		"org.opencontainers.image.source":   "https://github.com/meshcert/meshcert",
	}
	for key, value := range want {
		if annotations[key] != value {
			t.Errorf("%s %s = %q, want %q", object, key, annotations[key], value)
		}
	}
}

func checkImage(t *testing.T, img v1.Image, platform v1.Platform) {
	manifest, err := img.Manifest()
	if err != nil {
		t.Fatalf("read manifest: %v", err)
	}
	if manifest.MediaType != types.OCIManifestSchema1 {
		t.Errorf("manifest media type = %s, want %s", manifest.MediaType, types.OCIManifestSchema1)
	}
	checkAnnotations(t, "manifest", manifest.Annotations)
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatalf("read config: %v", err)
	}
	checkConfig(t, cfg, platform)
	layers, err := img.Layers()
	if err != nil {
		t.Fatalf("read layers: %v", err)
	}
	if len(layers) != 2 {
		t.Fatalf("image has %d layers, want 2", len(layers))
	}
	for i, layer := range layers {
		if mt, _ := layer.MediaType(); mt != types.OCILayer {
			t.Errorf("layer %d media type = %s, want %s", i, mt, types.OCILayer)
		}
	}
	checkCALayer(t, readLayer(t, layers[0]))
	checkBinaryLayer(t, readLayer(t, layers[1]), platform.Architecture)
}

func checkConfig(t *testing.T, cfg *v1.ConfigFile, platform v1.Platform) {
	t.Helper()
	if cfg.OS != platform.OS || cfg.Architecture != platform.Architecture || cfg.Variant != platform.Variant {
		t.Errorf("config platform = %s/%s/%s, want %s/%s/%s",
			cfg.OS, cfg.Architecture, cfg.Variant, platform.OS, platform.Architecture, platform.Variant)
	}
	if cfg.Config.User != "65532:65532" {
		t.Errorf("config user = %q, want 65532:65532", cfg.Config.User)
	}
	if !slices.Equal(cfg.Config.Entrypoint, []string{"/meshcert"}) {
		t.Errorf("config entrypoint = %q, want [/meshcert]", cfg.Config.Entrypoint)
	}
	if len(cfg.Config.Cmd) != 0 || len(cfg.Config.Env) != 0 {
		t.Errorf("config cmd = %q, env = %q, want both empty", cfg.Config.Cmd, cfg.Config.Env)
	}
	if !cfg.Created.Time.Equal(testCreated) {
		t.Errorf("config created = %s, want %s", cfg.Created.Time, testCreated)
	}
	for i, h := range cfg.History {
		if !h.Created.Time.Equal(testCreated) {
			t.Errorf("history %d created = %s, want %s", i, h.Created.Time, testCreated)
		}
	}
	checkAnnotations(t, "config label", cfg.Config.Labels)
}

// layerFile is a tar entry with its content.
type layerFile struct {
	hdr  *tar.Header
	data []byte
}

func readLayer(t *testing.T, layer v1.Layer) []layerFile {
	t.Helper()
	rc, err := layer.Uncompressed()
	if err != nil {
		t.Fatalf("open layer: %v", err)
	}
	defer rc.Close()
	var files []layerFile
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatalf("read layer: %v", err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("read layer entry %s: %v", hdr.Name, err)
		}
		files = append(files, layerFile{hdr: hdr, data: data})
	}
}

// checkEntries checks that the layer has exactly the entries in want, in
// that order, with the modes in modes, owner 0:0 and the build time. A
// name ending in a slash is a directory.
func checkEntries(t *testing.T, files []layerFile, want []string, modes map[string]int64) {
	t.Helper()
	var names []string
	for _, f := range files {
		names = append(names, f.hdr.Name)
		wantType := byte(tar.TypeReg)
		if f.hdr.Name[len(f.hdr.Name)-1] == '/' {
			wantType = tar.TypeDir
		}
		if f.hdr.Typeflag != wantType {
			t.Errorf("%s type = %c, want %c", f.hdr.Name, f.hdr.Typeflag, wantType)
		}
		if f.hdr.Mode != modes[f.hdr.Name] {
			t.Errorf("%s mode = %o, want %o", f.hdr.Name, f.hdr.Mode, modes[f.hdr.Name])
		}
		if f.hdr.Uid != 0 || f.hdr.Gid != 0 || f.hdr.Uname != "" || f.hdr.Gname != "" {
			t.Errorf("%s owner = %d(%s):%d(%s), want 0:0 without names", f.hdr.Name, f.hdr.Uid, f.hdr.Uname, f.hdr.Gid, f.hdr.Gname)
		}
		if !f.hdr.ModTime.Equal(testCreated) {
			t.Errorf("%s mtime = %s, want %s", f.hdr.Name, f.hdr.ModTime, testCreated)
		}
	}
	if !slices.Equal(names, want) {
		t.Errorf("layer entries = %q, want %q", names, want)
	}
}

func checkCALayer(t *testing.T, files []layerFile) {
	t.Helper()
	want := []string{"etc/", "etc/ssl/", "etc/ssl/certs/", "etc/ssl/certs/ca-certificates.crt"}
	modes := map[string]int64{"etc/": 0o755, "etc/ssl/": 0o755, "etc/ssl/certs/": 0o755, "etc/ssl/certs/ca-certificates.crt": 0o644}
	checkEntries(t, files, want, modes)
	if len(files) != len(want) {
		return
	}
	rest, count := files[3].data, 0
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			t.Errorf("CA bundle certificate %d: %v", count, err)
		}
		count++
	}
	// NSS has shipped well over 100 roots for years.
	if count < 100 {
		t.Errorf("CA bundle has %d certificates, want at least 100", count)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		t.Errorf("CA bundle has %d bytes that are not PEM", len(rest))
	}
}

func checkBinaryLayer(t *testing.T, files []layerFile, arch string) {
	t.Helper()
	want := []string{"exporter", "meshcert", "webhook"}
	checkEntries(t, files, want, map[string]int64{"exporter": 0o755, "meshcert": 0o755, "webhook": 0o755})
	machine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[arch]
	for _, f := range files {
		checkStaticELF(t, f.hdr.Name, f.data, machine)
		if arch == runtime.GOARCH && runtime.GOOS == "linux" {
			checkVersionOutput(t, f.hdr.Name, f.data)
		}
	}
}

func checkStaticELF(t *testing.T, name string, data []byte, machine elf.Machine) {
	t.Helper()
	file, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Errorf("%s is not an ELF file: %v", name, err)
		return
	}
	if file.Machine != machine {
		t.Errorf("%s machine = %s, want %s", name, file.Machine, machine)
	}
	for _, prog := range file.Progs {
		if prog.Type == elf.PT_INTERP {
			t.Errorf("%s has a program interpreter, want a static binary", name)
		}
	}
}

// checkVersionOutput runs a stand-in, which prints its name and the
// version and commit the linker set.
func checkVersionOutput(t *testing.T, name string, data []byte) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatalf("write %s: %v", name, err)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatalf("run %s: %v", name, err)
	}
	want := name + " " + testVersion + " " + testCommit + "\n"
	if string(out) != want {
		t.Errorf("%s printed %q, want %q", name, out, want)
	}
}

// checkDockerArchive reads the docker archive of one architecture and
// compares its config and layers with the image in the layout.
func checkDockerArchive(t *testing.T, dir string, img v1.Image, arch string) {
	t.Helper()
	tag, err := name.NewTag(testRepo + ":" + testVersion)
	if err != nil {
		t.Fatalf("parse tag: %v", err)
	}

	archived, err := tarball.ImageFromPath(filepath.Join(dir, "meshcert_0.1.0_linux_"+arch+".tar"), &tag)
	if err != nil {
		t.Fatalf("read docker archive: %v", err)
	}
	wantConfig, _ := img.ConfigName()
	gotConfig, err := archived.ConfigName()
	if err != nil {
		t.Fatalf("read docker archive config: %v", err)
	}
	if gotConfig != wantConfig {
		t.Errorf("docker archive config = %s, want %s", gotConfig, wantConfig)
	}

	wantLayers, _ := img.Layers()
	gotLayers, err := archived.Layers()
	if err != nil {
		t.Fatalf("read docker archive layers: %v", err)
	}
	if len(gotLayers) != len(wantLayers) {
		t.Fatalf("docker archive has %d layers, want %d", len(gotLayers), len(wantLayers))
	}
	for i := range wantLayers {
		want, _ := wantLayers[i].Digest()
		got, err := gotLayers[i].Digest()
		if err != nil || got != want {
			t.Errorf("docker archive layer %d = %s (%v), want %s", i, got, err, want)
		}
	}
}

// TestCABundleCommand checks that the file the Dockerfile copies is the
// bundle make image puts in its layer.
func TestCABundleCommand(t *testing.T) {
	file := filepath.Join(t.TempDir(), "etc", "ssl", "certs", "ca-certificates.crt")
	if err := run(context.Background(), []string{"ca-bundle", "-o", file}, io.Discard); err != nil {
		t.Fatalf("release ca-bundle: %v", err)
	}
	want, err := cabundle.PEM()
	if err != nil {
		t.Fatalf("CA bundle: %v", err)
	}
	if !bytes.Equal(readFile(t, file), want) {
		t.Error("ca-bundle output differs from the bundle in the image")
	}
}
