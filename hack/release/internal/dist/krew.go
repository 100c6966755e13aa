package dist

import (
	"bytes"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// KrewPlugin is krew's plugin manifest (krew.googlecontainertools.github.com
// /v1alpha2, kind Plugin), the file a krew index holds for kubectl meshcert.
type KrewPlugin struct {
	APIVersion string       `yaml:"apiVersion"`
	Kind       string       `yaml:"kind"`
	Metadata   KrewMetadata `yaml:"metadata"`
	Spec       KrewSpec     `yaml:"spec"`
}

// KrewMetadata names the plugin; kubectl runs it as kubectl NAME.
type KrewMetadata struct {
	Name string `yaml:"name"`
}

// KrewSpec is the plugin's description and one entry per platform.
type KrewSpec struct {
	// Version is a semantic version with a leading v, as krew requires.
	Version          string         `yaml:"version"`
	Homepage         string         `yaml:"homepage"`
	ShortDescription string         `yaml:"shortDescription"`
	Description      string         `yaml:"description"`
	Platforms        []KrewPlatform `yaml:"platforms"`
}

// KrewPlatform is the archive for one os and arch, and what krew installs
// from it.
type KrewPlatform struct {
	Selector KrewSelector `yaml:"selector"`
	URI      string       `yaml:"uri"`
	SHA256   string       `yaml:"sha256"`
	Files    []KrewFile   `yaml:"files"`
	Bin      string       `yaml:"bin"`
}

// KrewSelector matches the os and arch labels krew sets for the machine.
type KrewSelector struct {
	MatchLabels map[string]string `yaml:"matchLabels"`
}

// KrewFile copies a file from the unpacked archive into the plugin
// directory.
type KrewFile struct {
	From string `yaml:"from"`
	To   string `yaml:"to"`
}

const krewDescription = `Lists, describes and checks the TLS certificates that service-mesh
gateways serve from Kubernetes Secrets.
`

// newKrewPlugin returns the manifest without platforms.
func newKrewPlugin(version, homepage string) KrewPlugin {
	return KrewPlugin{
		APIVersion: "krew.googlecontainertools.github.com/v1alpha2",
		Kind:       "Plugin",
		Metadata:   KrewMetadata{Name: "meshcert"},
		Spec: KrewSpec{
			Version:          "v" + version,
			Homepage:         homepage,
			ShortDescription: "Check mesh gateway TLS certificates",
			Description:      krewDescription,
		},
	}
}

// krewPlatform returns the entry for the archive of one platform.
func krewPlatform(goos, arch, uri, sum, bin string) KrewPlatform {
	return KrewPlatform{
		Selector: KrewSelector{MatchLabels: map[string]string{"os": goos, "arch": arch}},
		URI:      uri,
		SHA256:   sum,
		Files:    []KrewFile{{From: bin, To: "."}, {From: "LICENSE", To: "."}},
		Bin:      bin,
	}
}

// marshalKrew encodes the manifest with the two-space indent of the krew
// index.
func marshalKrew(p KrewPlugin) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(p); err != nil {
		return nil, fmt.Errorf("encode krew manifest: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode krew manifest: %w", err)
	}
	return buf.Bytes(), nil
}
