package ociimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// File is a regular file in an image layer, owned by root.
type File struct {
	// Path is absolute, as seen in the container: /webhook.
	Path string
	Mode int64
	Data []byte
}

// tarLayer returns an uncompressed layer with files and the directories
// above them. Every entry has the owner 0:0, the modification time mtime
// and a fixed mode. Entries are sorted by name, so the bytes depend only
// on the files.
func tarLayer(files []File, mtime time.Time) ([]byte, error) {
	entries, err := tarEntries(files)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, entry := range entries {
		hdr := &tar.Header{
			Name:    entry.name,
			Mode:    entry.mode,
			ModTime: mtime,
			Format:  tar.FormatPAX,
		}
		if entry.data == nil {
			hdr.Typeflag = tar.TypeDir
		} else {
			hdr.Typeflag = tar.TypeReg
			hdr.Size = int64(len(entry.data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("write tar header %s: %w", entry.name, err)
		}
		if _, err := tw.Write(entry.data); err != nil {
			return nil, fmt.Errorf("write tar entry %s: %w", entry.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("close tar: %w", err)
	}
	return buf.Bytes(), nil
}

type tarEntry struct {
	name string
	mode int64
	data []byte // nil for a directory
}

// tarEntries returns the files and their parent directories, sorted by
// name. Names are relative to the root, as in layers docker builds;
// directories end in a slash.
func tarEntries(files []File) ([]tarEntry, error) {
	seen := map[string]bool{}
	var entries []tarEntry
	for _, f := range files {
		name, err := entryName(f.Path)
		if err != nil {
			return nil, err
		}
		if seen[name] {
			return nil, fmt.Errorf("layer file %s listed twice", f.Path)
		}
		seen[name] = true
		data := f.Data
		if data == nil {
			data = []byte{}
		}
		entries = append(entries, tarEntry{name: name, mode: f.Mode, data: data})
		for dir := path.Dir(name); dir != "."; dir = path.Dir(dir) {
			if !seen[dir+"/"] {
				seen[dir+"/"] = true
				entries = append(entries, tarEntry{name: dir + "/", mode: 0o755})
			}
		}
	}
	slices.SortFunc(entries, func(a, b tarEntry) int { return strings.Compare(a.name, b.name) })
	return entries, nil
}

func entryName(p string) (string, error) {
	if !path.IsAbs(p) || path.Clean(p) != p || p == "/" {
		return "", fmt.Errorf("invalid layer file path %q: want a clean absolute file path", p)
	}
	return strings.TrimPrefix(p, "/"), nil
}

// newLayer returns an OCI layer of files, gzip-compressed once and kept in
// memory, because the digest, the layout and each archive read it again.
func newLayer(files []File, mtime time.Time) (v1.Layer, error) {
	data, err := tarLayer(files, mtime)
	if err != nil {
		return nil, err
	}
	opener := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	layer, err := tarball.LayerFromOpener(opener,
		tarball.WithMediaType(types.OCILayer),
		tarball.WithCompressionLevel(gzip.DefaultCompression),
		tarball.WithCompressedCaching)
	if err != nil {
		return nil, fmt.Errorf("compress layer: %w", err)
	}
	return layer, nil
}
