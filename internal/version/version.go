// Package version reports the version of the running meshcert binary.
package version

import "runtime/debug"

// Version and Commit are set at link time with
// -ldflags "-X github.com/meshcert/meshcert/internal/version.Version=v1.2.3".
var (
	Version = "dev"
	Commit  = ""
)

// Get returns the version and the VCS revision the binary was built from,
// falling back to the build information Go embeds when the linker flags
// were not set.
func Get() (version, commit string) {
	version, commit = Version, Commit
	if commit != "" {
		return version, commit
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, setting := range info.Settings {
			if setting.Key == "vcs.revision" {
				commit = setting.Value
			}
		}
	}
	if commit == "" {
		commit = "unknown"
	}
	return version, commit
}
