//go:build tools

package crds

// The CRDs of these modules are installed into test clusters. Importing a
// package of each keeps the module, at the version go.mod pins, in the
// module graph; the build tag keeps it out of every binary.
import (
	_ "istio.io/api/networking/v1"
)
