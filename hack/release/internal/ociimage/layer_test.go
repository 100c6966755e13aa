package ociimage

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestTarEntries(t *testing.T) {
	tests := []struct {
		name    string
		files   []File
		want    []string
		wantErr bool
	}{
		{
			name:  "parents added and sorted",
			files: []File{{Path: "/webhook"}, {Path: "/etc/ssl/certs/ca.crt"}, {Path: "/etc/passwd"}},
			want:  []string{"etc/", "etc/passwd", "etc/ssl/", "etc/ssl/certs/", "etc/ssl/certs/ca.crt", "webhook"},
		},
		{name: "duplicate", files: []File{{Path: "/a"}, {Path: "/a"}}, wantErr: true},
		{name: "relative", files: []File{{Path: "a"}}, wantErr: true},
		{name: "unclean", files: []File{{Path: "/etc/../a"}}, wantErr: true},
		{name: "root", files: []File{{Path: "/"}}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entries, err := tarEntries(tt.files)
			if (err != nil) != tt.wantErr {
				t.Fatalf("tarEntries() error = %v, want error %v", err, tt.wantErr)
			}
			var names []string
			for _, e := range entries {
				names = append(names, e.name)
			}
			if !slices.Equal(names, tt.want) {
				t.Errorf("tarEntries() = %q, want %q", names, tt.want)
			}
		})
	}
}

func TestBinaryFilesMissing(t *testing.T) {
	_, err := binaryFiles(map[string]string{"webhook": "/w", "exporter": "/e"})
	if err == nil {
		t.Error("binaryFiles() without meshcert: got no error")
	}
}

func TestCheckLayoutDir(t *testing.T) {
	empty := t.TempDir()
	layout := t.TempDir()
	if err := os.WriteFile(filepath.Join(layout, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "notes.txt"), []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		dir          string
		wantPrevious bool
		wantErr      bool
	}{
		{name: "missing", dir: filepath.Join(empty, "oci")},
		{name: "empty", dir: empty},
		{name: "previous layout", dir: layout, wantPrevious: true},
		{name: "other files", dir: other, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			previous, err := checkLayoutDir(tt.dir)
			if (err != nil) != tt.wantErr {
				t.Fatalf("checkLayoutDir() error = %v, want error %v", err, tt.wantErr)
			}
			if previous != tt.wantPrevious {
				t.Errorf("checkLayoutDir() = %v, want %v", previous, tt.wantPrevious)
			}
		})
	}
}
