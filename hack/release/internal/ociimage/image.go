// Package ociimage assembles meshcert's container image from nothing: no
// base image, only the static binaries and a CA bundle, with fixed
// timestamps and ownership so the same inputs give the same digest.
package ociimage

import (
	"fmt"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The image's layout, shared by the Go builder and the Dockerfile.
const (
	// User is the numeric user and group the containers run as: distroless'
	// "nonroot", which exists in no /etc/passwd here and needs none.
	User = "65532:65532"
	// CABundlePath is where Go's crypto/x509 looks first on Linux.
	CABundlePath = "/etc/ssl/certs/ca-certificates.crt"
	// BinaryMode and FileMode are the permissions of the image's files.
	BinaryMode = 0o755
	FileMode   = 0o644
)

// Binaries are the executables in the image root, in layer order.
var Binaries = []string{"webhook", "exporter", "meshcert"}

// Entrypoint is the image's default command: the CLI. The chart's
// containers run /webhook and /exporter by setting command.
var Entrypoint = []string{"/meshcert"}

// Layout returns the path and mode of every file in the image. The
// layers also hold the directories above them, with mode 0755.
func Layout() map[string]int64 {
	files := map[string]int64{CABundlePath: FileMode}
	for _, name := range Binaries {
		files["/"+name] = BinaryMode
	}
	return files
}

// Metadata describes the build in labels and annotations.
type Metadata struct {
	// Repository is the image name without a tag: ghcr.io/meshcert/meshcert.
	Repository string
	// Version is the tag and the version the binaries report: 0.1.0.
	Version string
	// Commit is the VCS revision of the source.
	Commit string
	// Created is the time every timestamp in the image gets, usually
	// SOURCE_DATE_EPOCH.
	Created time.Time
	// Source is the URL of the source repository.
	Source string
}

// Platform is a Linux architecture the image is built for.
type Platform struct {
	Architecture string
	Variant      string
}

// PlatformFor returns the OCI platform of a GOARCH. arm64 gets the variant
// v8, as docker and containerd record it.
func PlatformFor(goarch string) Platform {
	if goarch == "arm64" {
		return Platform{Architecture: goarch, Variant: "v8"}
	}
	return Platform{Architecture: goarch}
}

// Annotations returns the org.opencontainers.image annotations, also used
// as the config's labels.
func (m Metadata) Annotations() map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":       "meshcert",
		"org.opencontainers.image.description": "Admission webhook, exporter and CLI for service-mesh gateway TLS certificates",
		"org.opencontainers.image.version":     m.Version,
		"org.opencontainers.image.revision":    m.Commit,
		"org.opencontainers.image.created":     m.Created.UTC().Format(time.RFC3339),
		"org.opencontainers.image.source":      m.Source,
		"org.opencontainers.image.licenses":    "Apache-2.0",
	}
}

// BuildImage returns the image for one platform: a layer with the CA
// bundle, then a layer with the binaries, whose paths are keyed by name.
// The CA layer is the same on every platform, so registries store it once.
func BuildImage(meta Metadata, platform Platform, binaries map[string]string, caBundle []byte) (v1.Image, error) {
	caLayer, err := newLayer([]File{{Path: CABundlePath, Mode: FileMode, Data: caBundle}}, meta.Created)
	if err != nil {
		return nil, fmt.Errorf("CA bundle layer: %w", err)
	}
	binFiles, err := binaryFiles(binaries)
	if err != nil {
		return nil, err
	}
	binLayer, err := newLayer(binFiles, meta.Created)
	if err != nil {
		return nil, fmt.Errorf("binaries layer: %w", err)
	}
	img, err := mutate.ConfigFile(ociBase(), configFile(meta, platform))
	if err != nil {
		return nil, fmt.Errorf("set image config: %w", err)
	}
	img, err = mutate.Append(img,
		addendum(caLayer, meta.Created, "CA certificates "+CABundlePath),
		addendum(binLayer, meta.Created, "binaries /webhook /exporter /meshcert"))
	if err != nil {
		return nil, fmt.Errorf("append layers: %w", err)
	}
	return mutate.Annotations(img, meta.Annotations()).(v1.Image), nil
}

func ociBase() v1.Image {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	return mutate.ConfigMediaType(img, types.OCIConfigJSON)
}

func binaryFiles(binaries map[string]string) ([]File, error) {
	if len(binaries) != len(Binaries) {
		return nil, fmt.Errorf("image binaries: got %d, want %v", len(binaries), Binaries)
	}
	files := make([]File, 0, len(Binaries))
	for _, name := range Binaries {
		src, ok := binaries[name]
		if !ok {
			return nil, fmt.Errorf("image binaries: %s missing", name)
		}
		data, err := os.ReadFile(src)
		if err != nil {
			return nil, fmt.Errorf("read binary %s: %w", name, err)
		}
		files = append(files, File{Path: "/" + name, Mode: BinaryMode, Data: data})
	}
	return files, nil
}

func configFile(meta Metadata, platform Platform) *v1.ConfigFile {
	return &v1.ConfigFile{
		Architecture: platform.Architecture,
		Variant:      platform.Variant,
		OS:           "linux",
		Created:      v1.Time{Time: meta.Created.UTC()},
		Config: v1.Config{
			User:       User,
			Entrypoint: Entrypoint,
			WorkingDir: "/",
			Labels:     meta.Annotations(),
		},
		RootFS: v1.RootFS{Type: "layers"},
	}
}

func addendum(layer v1.Layer, created time.Time, what string) mutate.Addendum {
	return mutate.Addendum{
		Layer: layer,
		History: v1.History{
			Created:   v1.Time{Time: created.UTC()},
			CreatedBy: "meshcert hack/release: " + what,
		},
	}
}

// BuildIndex returns the multi-architecture index of images keyed by
// platform, in the order of platforms.
func BuildIndex(meta Metadata, platforms []Platform, images map[Platform]v1.Image) (v1.ImageIndex, error) {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range platforms {
		img, ok := images[p]
		if !ok {
			return nil, fmt.Errorf("image index: no image for linux/%s", p.Architecture)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add: img,
			Descriptor: v1.Descriptor{
				Platform: &v1.Platform{OS: "linux", Architecture: p.Architecture, Variant: p.Variant},
			},
		})
	}
	return mutate.Annotations(idx, meta.Annotations()).(v1.ImageIndex), nil
}
