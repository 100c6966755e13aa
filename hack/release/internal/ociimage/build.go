package ociimage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/meshcert/meshcert/hack/release/internal/gobuild"
)

// Config is the input of Build: the packages, the platforms and the output directory.
type Config struct {
	Go gobuild.Options
	// Packages maps each name in Binaries to its main package.
	Packages map[string]string
	// Arches are the GOARCH values of the linux images, in index order.
	Arches []string
	// CABundle is the PEM file written to CABundlePath.
	CABundle []byte
	Meta     Metadata
	// OutDir receives oci/ (the OCI layout) and one docker archive per
	// architecture.
	OutDir string
}

// Result lists what Build wrote.
type Result struct {
	// Digest is the image index digest, the one a registry reports after
	// the layout is pushed.
	Digest v1.Hash
	// Layout is the OCI layout directory.
	Layout string
	// Archives maps each GOARCH to its docker archive.
	Archives map[string]string
}

// Build compiles the binaries for every architecture, assembles one image
// each and writes the index as an OCI layout and the images as docker
// archives.
func Build(ctx context.Context, cfg Config) (Result, error) {
	bins, err := binaryList(cfg.Packages)
	if err != nil {
		return Result{}, err
	}
	if _, err := checkLayoutDir(filepath.Join(cfg.OutDir, "oci")); err != nil {
		return Result{}, err
	}
	tmp, err := os.MkdirTemp("", "meshcert-image-")
	if err != nil {
		return Result{}, fmt.Errorf("create build directory: %w", err)
	}
	defer os.RemoveAll(tmp)

	platforms := make([]Platform, 0, len(cfg.Arches))
	images := make(map[Platform]v1.Image, len(cfg.Arches))
	for _, arch := range cfg.Arches {
		target := gobuild.Platform{OS: "linux", Arch: arch}
		paths, err := gobuild.Build(ctx, cfg.Go, target, filepath.Join(tmp, arch), bins)
		if err != nil {
			return Result{}, err
		}
		platform := PlatformFor(arch)
		img, err := BuildImage(cfg.Meta, platform, paths, cfg.CABundle)
		if err != nil {
			return Result{}, fmt.Errorf("image for linux/%s: %w", arch, err)
		}
		platforms = append(platforms, platform)
		images[platform] = img
	}
	return write(cfg, platforms, images)
}

func binaryList(packages map[string]string) ([]gobuild.Binary, error) {
	bins := make([]gobuild.Binary, 0, len(Binaries))
	for _, name := range Binaries {
		pkg, ok := packages[name]
		if !ok {
			return nil, fmt.Errorf("no main package given for %s", name)
		}
		bins = append(bins, gobuild.Binary{Name: name, Package: pkg})
	}
	if len(packages) != len(bins) {
		return nil, fmt.Errorf("packages given for %d binaries, want exactly %v", len(packages), Binaries)
	}
	return bins, nil
}

func write(cfg Config, platforms []Platform, images map[Platform]v1.Image) (Result, error) {
	idx, err := BuildIndex(cfg.Meta, platforms, images)
	if err != nil {
		return Result{}, err
	}
	digest, err := idx.Digest()
	if err != nil {
		return Result{}, fmt.Errorf("image index digest: %w", err)
	}
	res := Result{Digest: digest, Layout: filepath.Join(cfg.OutDir, "oci"), Archives: map[string]string{}}
	if err := WriteLayout(res.Layout, cfg.Meta, idx); err != nil {
		return Result{}, err
	}
	for _, arch := range cfg.Arches {
		file := filepath.Join(cfg.OutDir, ArchiveName(cfg.Meta.Version, arch))
		if err := WriteDockerArchive(file, cfg.Meta, images[PlatformFor(arch)]); err != nil {
			return Result{}, err
		}
		res.Archives[arch] = file
	}
	return res, nil
}

// ArchiveName returns the file name of the docker archive for one
// architecture: meshcert_0.1.0_linux_amd64.tar.
func ArchiveName(version, arch string) string {
	return fmt.Sprintf("meshcert_%s_linux_%s.tar", version, arch)
}
