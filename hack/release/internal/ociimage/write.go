package ociimage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Tag returns repository:version, validated as an image reference.
func (m Metadata) Tag() (name.Tag, error) {
	tag, err := name.NewTag(m.Repository+":"+m.Version, name.StrictValidation)
	if err != nil {
		return name.Tag{}, fmt.Errorf("invalid image reference %s:%s: %w", m.Repository, m.Version, err)
	}
	return tag, nil
}

// WriteLayout writes idx as the one entry of a new OCI image layout in
// dir. The entry is named by the tag in org.opencontainers.image.ref.name,
// the OCI layout convention, and by the full reference in
// io.containerd.image.name, which ctr import reads. A previous layout in
// dir is replaced, but any other non-empty dir is left alone and reported.
func WriteLayout(dir string, meta Metadata, idx v1.ImageIndex) error {
	tag, err := meta.Tag()
	if err != nil {
		return err
	}
	if err := clearLayout(dir); err != nil {
		return err
	}
	path, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("create OCI layout %s: %w", dir, err)
	}
	err = path.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": tag.TagStr(),
		"io.containerd.image.name":          tag.Name(),
	}))
	if err != nil {
		return fmt.Errorf("write image index to OCI layout %s: %w", dir, err)
	}
	return makeReadable(dir)
}

// makeReadable sets mode 0644 on every file and 0755 on every directory,
// because the layout writer creates some blobs with 0600 and the layout is
// read by tools that may run as another user.
func makeReadable(dir string) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if d.IsDir() {
			mode = 0o755
		}
		if err := os.Chmod(path, mode); err != nil {
			return fmt.Errorf("set mode of %s: %w", path, err)
		}
		return nil
	})
}

// checkLayoutDir returns whether dir contains a previous layout, and an
// error when it is a non-empty directory without one.
func checkLayoutDir(dir string) (bool, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && len(entries) == 0) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read OCI layout directory: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "oci-layout")); err != nil {
		return false, fmt.Errorf("directory %s is not empty and contains no OCI layout, so it is left alone; remove it or choose another -out: %w", dir, err)
	}
	return true, nil
}

func clearLayout(dir string) error {
	previous, err := checkLayoutDir(dir)
	if err != nil || !previous {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove previous OCI layout: %w", err)
	}
	return nil
}

// WriteDockerArchive writes img as a docker save archive (manifest.json
// and one tag), which docker load, kind load image-archive, k3d image
// import, minikube image load and crane push accept. Such an archive holds
// one image, so each platform gets its own.
func WriteDockerArchive(file string, meta Metadata, img v1.Image) error {
	tag, err := meta.Tag()
	if err != nil {
		return err
	}
	if err := tarball.WriteToFile(file, tag, img); err != nil {
		return fmt.Errorf("write docker archive %s: %w", file, err)
	}
	return nil
}
