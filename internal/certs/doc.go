// Package certs is the single parser of certificate material in meshcert.
//
// It turns the bytes of a Secret value or a mounted file into typed facts:
// PEM blocks, X.509 certificates and the public half of private keys. It
// has no Kubernetes imports, so the admission rules, the exporter and the
// CLI all read certificates the same way. Errors carry a stable Reason and
// the index of the PEM block they concern; callers add the object and the
// data key.
package certs
