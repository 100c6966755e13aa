// Package dist packages the meshcert CLI for release: one archive per
// platform holding meshcert and kubectl-meshcert (the same binary under
// the name kubectl looks up plugins by), checksums.txt and a krew
// manifest. Archives are byte-for-byte reproducible.
package dist

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/meshcert/meshcert/hack/release/internal/gobuild"
)

// DefaultPlatforms are the platforms a release is built for.
var DefaultPlatforms = []gobuild.Platform{
	{OS: "linux", Arch: "amd64"}, {OS: "linux", Arch: "arm64"},
	{OS: "darwin", Arch: "amd64"}, {OS: "darwin", Arch: "arm64"},
	{OS: "windows", Arch: "amd64"}, {OS: "windows", Arch: "arm64"},
}

// Binary names in every archive, before the .exe suffix on Windows.
const (
	CLIName    = "meshcert"
	PluginName = "kubectl-meshcert"
)

// Files written next to the archives.
const (
	ChecksumsFile    = "checksums.txt"
	KrewManifestFile = "meshcert.yaml"
)

// Config is what a release packages and where it writes.
type Config struct {
	// Version has no leading v: 0.1.0.
	Version string
	// Created is every file's modification time.
	Created time.Time
	// Docs are files copied into each archive under their base names. One
	// must be LICENSE, which the krew manifest installs with the plugin.
	Docs []string
	// DownloadURL is the URL the archives are published under; the krew
	// manifest appends each archive name to it.
	DownloadURL string
	// Homepage is the project page in the krew manifest.
	Homepage string
	OutDir   string
}

// Result lists what a release wrote.
type Result struct {
	// Archives maps each platform to its archive path.
	Archives  map[gobuild.Platform]string
	Checksums string
	Krew      string
}

// Build compiles pkg for every platform and packages the binaries. The
// documents are read first, so a missing one fails before the builds.
func Build(ctx context.Context, opts gobuild.Options, pkg string, platforms []gobuild.Platform, cfg Config) (Result, error) {
	docs, err := readDocs(cfg.Docs)
	if err != nil {
		return Result{}, err
	}
	tmp, err := os.MkdirTemp("", "meshcert-release-")
	if err != nil {
		return Result{}, fmt.Errorf("create build directory: %w", err)
	}
	defer os.RemoveAll(tmp)

	binaries := make(map[gobuild.Platform]string, len(platforms))
	for _, p := range platforms {
		dir := filepath.Join(tmp, p.OS+"_"+p.Arch)
		paths, err := gobuild.Build(ctx, opts, p, dir, []gobuild.Binary{{Name: CLIName, Package: pkg}})
		if err != nil {
			return Result{}, err
		}
		binaries[p] = paths[CLIName]
	}
	return pack(cfg, docs, platforms, binaries)
}

// Package writes one archive per platform from the binaries keyed by
// platform, then checksums.txt and the krew manifest.
func Package(cfg Config, platforms []gobuild.Platform, binaries map[gobuild.Platform]string) (Result, error) {
	docs, err := readDocs(cfg.Docs)
	if err != nil {
		return Result{}, err
	}
	return pack(cfg, docs, platforms, binaries)
}

func pack(cfg Config, docs []entry, platforms []gobuild.Platform, binaries map[gobuild.Platform]string) (Result, error) {
	var err error
	if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
		return Result{}, fmt.Errorf("create release directory: %w", err)
	}
	res := Result{Archives: map[gobuild.Platform]string{}}
	sums := map[string]string{}
	krew := newKrewPlugin(cfg.Version, cfg.Homepage)
	for _, p := range platforms {
		name, sum, err := writeArchive(cfg, p, binaries[p], docs)
		if err != nil {
			return Result{}, err
		}
		res.Archives[p] = filepath.Join(cfg.OutDir, name)
		sums[name] = sum
		uri := strings.TrimSuffix(cfg.DownloadURL, "/") + "/" + name
		krew.Spec.Platforms = append(krew.Spec.Platforms, krewPlatform(p.OS, p.Arch, uri, sum, PluginName+p.ExeSuffix()))
	}
	if res.Checksums, err = writeChecksums(cfg.OutDir, sums); err != nil {
		return Result{}, err
	}
	if res.Krew, err = writeKrew(cfg.OutDir, krew); err != nil {
		return Result{}, err
	}
	return res, nil
}

// ArchiveName returns meshcert_0.1.0_linux_amd64.tar.gz, or .zip on Windows.
func ArchiveName(version string, p gobuild.Platform) string {
	ext := ".tar.gz"
	if p.OS == "windows" {
		ext = ".zip"
	}
	return fmt.Sprintf("meshcert_%s_%s_%s%s", version, p.OS, p.Arch, ext)
}

func readDocs(files []string) ([]entry, error) {
	var docs []entry
	hasLicense := false
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("read release document: %w", err)
		}
		name := filepath.Base(file)
		hasLicense = hasLicense || name == "LICENSE"
		docs = append(docs, entry{name: name, mode: 0o644, data: data})
	}
	if !hasLicense {
		return nil, fmt.Errorf("release documents %v lack LICENSE, which the krew manifest installs", files)
	}
	return docs, nil
}

// writeArchive writes the archive of one platform and returns its name
// and SHA-256 in hex.
func writeArchive(cfg Config, p gobuild.Platform, binary string, docs []entry) (string, string, error) {
	if binary == "" {
		return "", "", fmt.Errorf("no binary built for %s", p)
	}
	data, err := os.ReadFile(binary)
	if err != nil {
		return "", "", fmt.Errorf("read binary for %s: %w", p, err)
	}
	entries := []entry{
		{name: CLIName + p.ExeSuffix(), mode: 0o755, data: data},
		{name: PluginName + p.ExeSuffix(), mode: 0o755, data: data},
	}
	entries = append(entries, docs...)
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.name, b.name) })

	var buf bytes.Buffer
	if p.OS == "windows" {
		err = writeZip(&buf, entries, cfg.Created)
	} else {
		err = writeTarGz(&buf, entries, cfg.Created)
	}
	name := ArchiveName(cfg.Version, p)
	if err != nil {
		return "", "", fmt.Errorf("archive %s: %w", name, err)
	}
	if err := os.WriteFile(filepath.Join(cfg.OutDir, name), buf.Bytes(), 0o644); err != nil {
		return "", "", fmt.Errorf("write archive %s: %w", name, err)
	}
	sum := sha256.Sum256(buf.Bytes())
	return name, hex.EncodeToString(sum[:]), nil
}

// writeChecksums writes sha256sum's format, sorted by file name, so
// sha256sum -c checksums.txt verifies the archives.
func writeChecksums(dir string, sums map[string]string) (string, error) {
	names := make([]string, 0, len(sums))
	for name := range sums {
		names = append(names, name)
	}
	slices.Sort(names)
	var buf bytes.Buffer
	for _, name := range names {
		fmt.Fprintf(&buf, "%s  %s\n", sums[name], name)
	}
	file := filepath.Join(dir, ChecksumsFile)
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("write %s: %w", ChecksumsFile, err)
	}
	return file, nil
}

func writeKrew(dir string, plugin KrewPlugin) (string, error) {
	data, err := marshalKrew(plugin)
	if err != nil {
		return "", err
	}
	file := filepath.Join(dir, KrewManifestFile)
	if err := os.WriteFile(file, data, 0o644); err != nil {
		return "", fmt.Errorf("write krew manifest: %w", err)
	}
	return file, nil
}

func fileMode(mode int64) os.FileMode { return os.FileMode(mode) & os.ModePerm }
