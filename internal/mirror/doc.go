// Package mirror copies Secrets labelled meshcert.io/mirror=true to the
// same namespace of every peer cluster, keeps the copies in step with
// their sources, and deletes them when the source goes away.
//
// Peers are configured by kubeconfig Secrets in meshcert's namespace. Each
// peer has its own controller-runtime cluster (client, cache, rate
// limiter), work queue, backoff and health, so an unreachable peer delays
// no other peer. A copy carries markers (see internal/wellknown) that name
// the cluster and Secret it came from; a Secret without them is never
// overwritten or deleted, and a copy is never a source. docs/mirror.md
// describes the rules for operators.
package mirror
