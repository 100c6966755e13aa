package gobuild

import (
	"slices"
	"strings"
	"testing"
)

func TestParsePlatform(t *testing.T) {
	tests := []struct {
		in      string
		want    Platform
		wantErr bool
	}{
		{in: "linux/amd64", want: Platform{OS: "linux", Arch: "amd64"}},
		{in: "windows/arm64", want: Platform{OS: "windows", Arch: "arm64"}},
		{in: "linux", wantErr: true},
		{in: "linux/", wantErr: true},
		{in: "/amd64", wantErr: true},
		{in: "linux/arm/v7", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePlatform(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParsePlatform(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ParsePlatform(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzParsePlatform(f *testing.F) {
	for _, seed := range []string{"linux/amd64", "darwin/arm64", "a/b/c", "/", "", strings.Repeat("x/", 1<<16)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		p, err := ParsePlatform(in)
		if err != nil {
			return
		}
		if p.String() != in {
			t.Errorf("ParsePlatform(%q).String() = %q, want the input", in, p.String())
		}
	})
}

func TestEnv(t *testing.T) {
	base := []string{"HOME=/root", "CGO_ENABLED=1", "GOFLAGS=-mod=vendor", "GOARCH=386", "GOAMD64=v3"}
	env := Env(base, Platform{OS: "linux", Arch: "arm64"})
	want := []string{"HOME=/root", "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64", "GOAMD64=v1", "GOARM64=v8.0", "GOFLAGS=-mod=readonly"}
	slices.Sort(env)
	slices.Sort(want)
	if !slices.Equal(env, want) {
		t.Errorf("Env() = %q, want %q", env, want)
	}
}

func TestLDFlags(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{name: "no version", opts: Options{}, want: "-s -w -buildid="},
		{
			name: "version",
			opts: Options{VersionPackage: "example.com/v", Version: "1.2.3", Commit: "abc"},
			want: "-s -w -buildid= -X example.com/v.Version=1.2.3 -X example.com/v.Commit=abc",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := LDFlags(tt.opts); got != tt.want {
				t.Errorf("LDFlags() = %q, want %q", got, tt.want)
			}
		})
	}
}
