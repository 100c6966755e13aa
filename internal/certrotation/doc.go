// Package certrotation gives the webhook a serving certificate without
// cert-manager. It runs github.com/open-policy-agent/cert-controller's
// rotator, which keeps a self-signed CA and a serving certificate in a
// Secret and injects the CA into the webhook configurations. It also
// writes the Secret's tls.crt and tls.key into the webhook's cert dir
// whenever they change, so the webhook server's certificate watcher
// reloads them without waiting for the kubelet to refresh a Secret volume.
//
// Every replica runs the rotator: they race only on the first creation or
// a renewal, and the API server's optimistic concurrency lets one write
// win while the others re-read it.
package certrotation
