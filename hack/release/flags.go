package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/meshcert/meshcert/hack/release/internal/gobuild"
)

// common are the flags of every build command.
type common struct {
	dir            string
	version        string
	commit         string
	epoch          string
	versionPackage string
	out            string
}

func (c *common) register(fs *flag.FlagSet, out string) {
	fs.StringVar(&c.dir, "dir", ".", "module root that go build runs in; VERSION, LICENSE and README.md are read from it")
	fs.StringVar(&c.version, "version", "", "version without a leading v (default: the VERSION file in -dir)")
	fs.StringVar(&c.commit, "commit", "", "VCS revision recorded in the binaries and labels (required)")
	fs.StringVar(&c.epoch, "source-date-epoch", os.Getenv("SOURCE_DATE_EPOCH"), "Unix time in seconds of every timestamp (default: $SOURCE_DATE_EPOCH)")
	fs.StringVar(&c.versionPackage, "version-package", "github.com/meshcert/meshcert/internal/version", "package whose Version and Commit variables the linker sets")
	fs.StringVar(&c.out, "out", out, "output directory")
}

// resolve fills the version from the VERSION file and checks the flags.
func (c *common) resolve() error {
	if c.version == "" {
		data, err := os.ReadFile(filepath.Join(c.dir, "VERSION"))
		if err != nil {
			return fmt.Errorf("read version: %w (set -version or create VERSION)", err)
		}
		c.version = strings.TrimSpace(string(data))
	}
	if c.version == "" || strings.HasPrefix(c.version, "v") {
		return fmt.Errorf("invalid version %q: want a semantic version without a leading v, such as 0.1.0", c.version)
	}
	if c.commit == "" {
		return fmt.Errorf("missing -commit: pass the VCS revision, such as $(git rev-parse HEAD)")
	}
	return nil
}

func (c *common) created() (time.Time, error) {
	if c.epoch == "" {
		return time.Time{}, fmt.Errorf("missing -source-date-epoch: pass the commit time, such as $(git log -1 --format=%%ct)")
	}
	secs, err := strconv.ParseInt(c.epoch, 10, 64)
	if err != nil || secs < 0 {
		return time.Time{}, fmt.Errorf("invalid -source-date-epoch %q: want Unix seconds", c.epoch)
	}
	return time.Unix(secs, 0).UTC(), nil
}

func (c *common) goOptions() gobuild.Options {
	return gobuild.Options{
		Dir:            c.dir,
		Go:             os.Getenv("GO"),
		VersionPackage: c.versionPackage,
		Version:        c.version,
		Commit:         c.commit,
	}
}

func splitList(s string) []string {
	var items []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}

// writeFile writes data to file, creating its directory.
func writeFile(file string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	return os.WriteFile(file, data, mode)
}
