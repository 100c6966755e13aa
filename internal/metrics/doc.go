// Package metrics exports the expiry of every certificate that meshcert
// can see, from Kubernetes Secrets and from PEM files, as Prometheus
// metrics.
//
// Sources parse each object once into compact, immutable facts (no Secret
// data, no key material) and put them into a State. A Collector turns a
// snapshot of the State into const metrics at scrape time. docs/metrics.md
// lists the metrics.
package metrics
