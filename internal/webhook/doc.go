// Package webhook adapts meshcert's checks to Kubernetes admission: the
// certificate Secret validating and mutating handlers, the conversion of
// validate.Findings into admission responses, and the webhook metrics.
// Handlers are controller-runtime admission.Handlers, registered on a
// manager's webhook server by the binary.
package webhook
