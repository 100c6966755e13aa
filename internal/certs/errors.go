package certs

import (
	"errors"
	"fmt"
)

// Reason is a stable, bounded identifier of why certificate material could
// not be used. The values are kebab-case and double as rule ids and metric
// label values, so they never change once released.
type Reason string

// Reasons. The parser returns each of them except ReasonKeyOnly, which
// the exporter reports for a whole value.
const (
	ReasonEmpty           Reason = "empty"
	ReasonNotPEM          Reason = "not-pem"
	ReasonDER             Reason = "der"
	ReasonDoubleBase64    Reason = "double-base64"
	ReasonEscapedNewlines Reason = "escaped-newlines"
	ReasonLeadingGarbage  Reason = "leading-garbage"
	ReasonMalformed       Reason = "malformed"
	ReasonUnexpectedBlock Reason = "unexpected-block"
	ReasonEncryptedKey    Reason = "encrypted-key"
	ReasonUnsupportedKey  Reason = "unsupported-key"

	// ReasonNegativeSerial marks a certificate whose serial number is
	// negative. RFC 5280 requires a positive serial and Go's x509 parser
	// rejects the certificate since Go 1.23, but many TLS stacks accept
	// it. Only ParseCertificatesLenient returns it; ParseCertificates
	// reports such a block as ReasonMalformed.
	ReasonNegativeSerial Reason = "negative-serial"
	// ReasonKeyOnly marks a certificate value that contains only private
	// key blocks. The parser returns ReasonUnexpectedBlock for each of
	// them; the exporter reports the value as a whole with this reason.
	ReasonKeyOnly Reason = "key-only"
)

// NoBlock is the block index of an error that concerns the value as a whole.
const NoBlock = -1

// Error describes one problem in certificate material. Block is the
// zero-based index of the PEM block, or NoBlock. Messages never contain
// the material itself.
type Error struct {
	Reason Reason
	Block  int
	Err    error
}

func (e *Error) Error() string {
	if e.Block == NoBlock {
		return fmt.Sprintf("%s: %v", e.Reason, e.Err)
	}
	return fmt.Sprintf("%s in PEM block %d: %v", e.Reason, e.Block+1, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// ReasonOf returns the Reason of the first *Error in err's chain, or
// ReasonMalformed when err carries none.
func ReasonOf(err error) Reason {
	var certErr *Error
	if errors.As(err, &certErr) {
		return certErr.Reason
	}
	return ReasonMalformed
}

func newError(reason Reason, block int, format string, args ...any) *Error {
	return &Error{Reason: reason, Block: block, Err: fmt.Errorf(format, args...)}
}
