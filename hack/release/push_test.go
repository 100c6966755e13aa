package main

import (
	"io"
	"log"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestImagePush pushes the layout and a docker archive to an in-memory
// registry on loopback the way crane push reads them, and pulls them back.
func TestImagePush(t *testing.T) {
	dir := buildTestImage(t)
	server := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(server.Close)
	host := strings.TrimPrefix(server.URL, "http://")

	idx := readIndex(t, dir)
	ref, err := name.NewTag(host+"/meshcert/meshcert:"+testVersion, name.Insecure)
	if err != nil {
		t.Fatalf("parse reference: %v", err)
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatalf("push OCI layout: %v", err)
	}
	want, err := idx.Digest()
	if err != nil {
		t.Fatalf("index digest: %v", err)
	}
	desc, err := remote.Get(ref)
	if err != nil {
		t.Fatalf("pull %s: %v", ref, err)
	}
	if desc.Digest != want {
		t.Errorf("registry digest = %s, want %s from the layout", desc.Digest, want)
	}
	pulled, err := desc.ImageIndex()
	if err != nil {
		t.Fatalf("read pulled index: %v", err)
	}
	manifest, err := pulled.IndexManifest()
	if err != nil {
		t.Fatalf("read pulled index manifest: %v", err)
	}
	if len(manifest.Manifests) != 2 {
		t.Errorf("pulled index has %d manifests, want 2", len(manifest.Manifests))
	}

	img, err := crane.Load(filepath.Join(dir, "meshcert_0.1.0_linux_arm64.tar"))
	if err != nil {
		t.Fatalf("load docker archive: %v", err)
	}
	archiveRef := host + "/meshcert/meshcert:" + testVersion + "-arm64"
	if err := crane.Push(img, archiveRef, crane.Insecure); err != nil {
		t.Fatalf("push docker archive: %v", err)
	}
	cfg, err := crane.Config(archiveRef, crane.Insecure)
	if err != nil {
		t.Fatalf("pull config of %s: %v", archiveRef, err)
	}
	if !strings.Contains(string(cfg), `"architecture":"arm64"`) {
		t.Errorf("pushed docker archive config = %s, want architecture arm64", cfg)
	}
}
