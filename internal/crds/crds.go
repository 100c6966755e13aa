// Package crds locates the Istio networking and Gateway API CRDs in the
// module cache, at the versions go.mod pins, for test and demo clusters.
package crds

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"sync"
)

// crdModules names the Go modules that ship the CRDs, and the file or
// folder inside each. The versions come from go.mod.
var crdModules = []struct {
	module string
	path   string
}{
	{"istio.io/api", "kubernetes/customresourcedefinitions.gen.yaml"},
	{"sigs.k8s.io/gateway-api", "config/crd/standard"},
}

var (
	crdOnce  sync.Once
	crdFiles []string
	crdErr   error
)

// Paths returns the CRD files and folders, downloading their modules into
// the module cache when needed. It runs the go command, so it works only
// inside this repository's module.
func Paths() ([]string, error) {
	crdOnce.Do(func() {
		for _, m := range crdModules {
			dir, err := moduleDir(m.module)
			if err != nil {
				crdErr = err
				return
			}
			crdFiles = append(crdFiles, filepath.Join(dir, m.path))
		}
	})
	return crdFiles, crdErr
}

// moduleDir returns the module cache folder of module at the version that
// go.mod requires. 'go mod download' is used rather than 'go list -m', which
// reports no folder for a module that was never downloaded.
func moduleDir(module string) (string, error) {
	out, err := exec.Command("go", "mod", "download", "-json", module).Output()
	if err != nil {
		if exitErr, ok := err.(*exec.ExitError); ok {
			return "", fmt.Errorf("go mod download %s: %w: %s", module, err, exitErr.Stderr)
		}
		return "", fmt.Errorf("go mod download %s: %w", module, err)
	}

	var info struct {
		Dir   string
		Error string
	}
	if err := json.Unmarshal(out, &info); err != nil {
		return "", fmt.Errorf("decode go mod download output for %s: %w", module, err)
	}
	if info.Error != "" || info.Dir == "" {
		return "", fmt.Errorf("go mod download %s: %s", module, info.Error)
	}
	return info.Dir, nil
}
