// Package gobuild cross-compiles static Go binaries reproducibly: the same
// source, Go toolchain and options give byte-identical files.
package gobuild

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Platform is an operating system and CPU architecture in Go's spelling.
type Platform struct {
	OS   string
	Arch string
}

// String returns the platform as os/arch.
func (p Platform) String() string { return p.OS + "/" + p.Arch }

// ParsePlatform parses os/arch, for example linux/arm64.
func ParsePlatform(s string) (Platform, error) {
	goos, arch, ok := strings.Cut(s, "/")
	if !ok || goos == "" || arch == "" || strings.Contains(arch, "/") {
		return Platform{}, fmt.Errorf("invalid platform %q: want os/arch, for example linux/amd64", s)
	}
	return Platform{OS: goos, Arch: arch}, nil
}

// ExeSuffix returns ".exe" on Windows and "" elsewhere.
func (p Platform) ExeSuffix() string {
	if p.OS == "windows" {
		return ".exe"
	}
	return ""
}

// Binary is a main package and the file name its executable gets.
type Binary struct {
	// Name is the executable's file name without the Windows .exe suffix.
	Name string
	// Package is the main package, as go build takes it (./cmd/webhook).
	Package string
}

// Options are the inputs of a build besides the platform.
type Options struct {
	// Dir is the module directory that go build runs in.
	Dir string
	// Go is the go command; "go" when empty.
	Go string
	// VersionPackage is the package whose Version and Commit variables the
	// linker sets. Empty leaves them unset.
	VersionPackage string
	Version        string
	Commit         string
}

// Build compiles the binaries for one platform into outDir and returns
// their paths by binary name. The flags make the output depend only on
// the source, the toolchain and the options: -trimpath drops file system
// paths, -buildvcs=false drops the working tree state, and an empty build
// ID replaces the one derived from the action graph.
func Build(ctx context.Context, opts Options, platform Platform, outDir string, bins []Binary) (map[string]string, error) {
	if len(bins) == 0 {
		return nil, fmt.Errorf("build %s: no binaries requested", platform)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("build %s: %w", platform, err)
	}
	paths := make(map[string]string, len(bins))
	for _, bin := range bins {
		paths[bin.Name] = filepath.Join(outDir, bin.Name+platform.ExeSuffix())
	}
	// One go build per binary keeps the output names explicit; the
	// build cache shares the compiled packages between them.
	for _, bin := range bins {
		if err := run(ctx, opts, platform, paths[bin.Name], bin.Package); err != nil {
			return nil, fmt.Errorf("build %s for %s: %w", bin.Name, platform, err)
		}
	}
	return paths, nil
}

func run(ctx context.Context, opts Options, platform Platform, out, pkg string) error {
	goCmd := opts.Go
	if goCmd == "" {
		goCmd = "go"
	}
	args := []string{"build", "-trimpath", "-buildvcs=false", "-ldflags", LDFlags(opts), "-o", out, pkg}
	cmd := exec.CommandContext(ctx, goCmd, args...)
	cmd.Dir = opts.Dir
	cmd.Env = Env(os.Environ(), platform)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// LDFlags returns the linker flags: no symbol table or DWARF (stack traces
// keep their function names and lines), an empty build ID, and the
// version variables.
func LDFlags(opts Options) string {
	flags := []string{"-s", "-w", "-buildid="}
	if opts.VersionPackage != "" {
		flags = append(flags,
			"-X", opts.VersionPackage+".Version="+opts.Version,
			"-X", opts.VersionPackage+".Commit="+opts.Commit)
	}
	return strings.Join(flags, " ")
}

// Env returns base with the variables that select the target replaced,
// together with those that would let the host change the output: cgo is
// off and the instruction sets are the baseline ones. GOFLAGS becomes
// -mod=readonly, so a host setting cannot switch the dependency source.
func Env(base []string, platform Platform) []string {
	fixed := map[string]string{
		"CGO_ENABLED": "0",
		"GOOS":        platform.OS,
		"GOARCH":      platform.Arch,
		"GOAMD64":     "v1",
		"GOARM64":     "v8.0",
		"GOFLAGS":     "-mod=readonly",
	}
	env := make([]string, 0, len(base)+len(fixed))
	for _, kv := range base {
		key, _, _ := strings.Cut(kv, "=")
		if _, ok := fixed[key]; !ok {
			env = append(env, kv)
		}
	}
	for _, key := range []string{"CGO_ENABLED", "GOOS", "GOARCH", "GOAMD64", "GOARM64", "GOFLAGS"} {
		env = append(env, key+"="+fixed[key])
	}
	return env
}
