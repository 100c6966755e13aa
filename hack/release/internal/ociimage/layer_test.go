package ociimage

import (
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
