// Package cabundle writes the Mozilla NSS root certificates as a PEM bundle
// for images that have no operating system trust store.
//
// The roots come from golang.org/x/crypto/x509roots/fallback/bundle, whose
// version go.sum pins. The bundle therefore changes only when that
// requirement is updated, whereas a file copied from the build host would
// change with the host.
package cabundle

import (
	"bytes"
	"encoding/pem"
	"fmt"

	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// PEM returns every root of the bundle as a CERTIFICATE block, in the
// bundle's order.
//
// NOTE: a few NSS roots carry a distrust-after date that X.509 cannot
// express. The PEM file drops it, so those roots are trusted for
// certificates issued after that date too.
func PEM() ([]byte, error) {
	var buf bytes.Buffer
	count := 0
	for root := range bundle.Roots() {
		if err := pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: root.Certificate}); err != nil {
			return nil, fmt.Errorf("encode root certificate %d: %w", count, err)
		}
		count++
	}
	if count == 0 {
		return nil, fmt.Errorf("root certificate bundle is empty")
	}
	return buf.Bytes(), nil
}
