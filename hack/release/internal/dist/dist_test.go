package dist

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/meshcert/meshcert/hack/release/internal/gobuild"
)

func TestArchiveName(t *testing.T) {
	tests := []struct {
		platform gobuild.Platform
		want     string
	}{
		{gobuild.Platform{OS: "linux", Arch: "amd64"}, "meshcert_0.1.0_linux_amd64.tar.gz"},
		{gobuild.Platform{OS: "darwin", Arch: "arm64"}, "meshcert_0.1.0_darwin_arm64.tar.gz"},
		{gobuild.Platform{OS: "windows", Arch: "arm64"}, "meshcert_0.1.0_windows_arm64.zip"},
	}
	for _, tt := range tests {
		t.Run(tt.platform.String(), func(t *testing.T) {
			if got := ArchiveName("0.1.0", tt.platform); got != tt.want {
				t.Errorf("ArchiveName() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDefaultPlatforms(t *testing.T) {
	want := map[string]bool{
		"linux/amd64": true, "linux/arm64": true, "darwin/amd64": true,
		"darwin/arm64": true, "windows/amd64": true, "windows/arm64": true,
	}
	if len(DefaultPlatforms) != len(want) {
		t.Fatalf("DefaultPlatforms has %d entries, want %d", len(DefaultPlatforms), len(want))
	}
	for _, p := range DefaultPlatforms {
		if !want[p.String()] {
			t.Errorf("DefaultPlatforms has %s, want only %v", p, want)
		}
	}
}

func TestReadDocsWithoutLicense(t *testing.T) {
	readme := filepath.Join(t.TempDir(), "README.md")
	if err := os.WriteFile(readme, []byte("readme"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readDocs([]string{readme}); err == nil {
		t.Error("readDocs() without LICENSE: got no error")
	}
}
