package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

var (
	objectLabels = []string{"namespace", "secret", "key", "path"}

	notAfterDesc = prometheus.NewDesc("meshcert_certificate_not_after_timestamp_seconds",
		"End of the certificate's validity period, in Unix seconds.", certLabels(), nil)
	notBeforeDesc = prometheus.NewDesc("meshcert_certificate_not_before_timestamp_seconds",
		"Start of the certificate's validity period, in Unix seconds.", certLabels(), nil)
	infoDesc = prometheus.NewDesc("meshcert_certificate_info",
		"Facts about a certificate; the value is always 1.",
		append(objectLabels[:4:4], "index", "fingerprint", "san_count", "key_algorithm", "key_bits"), nil)
	expiryDesc = prometheus.NewDesc("meshcert_secret_expiry_timestamp_seconds",
		"Earliest not-after of the certificates of a Secret key or file, in Unix seconds.", objectLabels, nil)
	errorDesc = prometheus.NewDesc("meshcert_secret_error",
		"A Secret key or file, or a block of it, could not be used; the value is always 1.",
		append(objectLabels[:4:4], "reason"), nil)
	duplicatesDesc = prometheus.NewDesc("meshcert_secret_duplicate_certificates",
		"Certificate blocks of a Secret key or file that repeat an earlier block and were merged into it.",
		objectLabels, nil)
)

func certLabels() []string {
	return append(objectLabels[:4:4], "index", "role", "subject_cn", "issuer_cn", "serial", "fingerprint")
}

// Collector exports the certificates of a State. It builds const metrics
// from a snapshot at every scrape, so it holds no metric between scrapes.
type Collector struct {
	state *State
}

// NewCollector returns a Collector of state.
func NewCollector(state *State) *Collector {
	return &Collector{state: state}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, desc := range []*prometheus.Desc{notAfterDesc, notBeforeDesc, infoDesc, expiryDesc, errorDesc, duplicatesDesc} {
		ch <- desc
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, obj := range c.state.snapshot() {
		for _, kv := range obj.keys {
			collectValue(ch, obj, kv)
		}
	}
}

func collectValue(ch chan<- prometheus.Metric, obj *object, kv keyValue) {
	ns, name, key, path := obj.namespace, obj.name, kv.key, labelValue(obj.path)
	value := kv.value
	for _, cert := range value.certs {
		f := cert.facts
		ch <- prometheus.MustNewConstMetric(notAfterDesc, prometheus.GaugeValue, f.notAfter,
			ns, name, key, path, cert.index, cert.role, f.subjectCN, f.issuerCN, f.serial, f.fingerprint)
		ch <- prometheus.MustNewConstMetric(notBeforeDesc, prometheus.GaugeValue, f.notBefore,
			ns, name, key, path, cert.index, cert.role, f.subjectCN, f.issuerCN, f.serial, f.fingerprint)
		ch <- prometheus.MustNewConstMetric(infoDesc, prometheus.GaugeValue, 1,
			ns, name, key, path, cert.index, f.fingerprint, f.sanCount, f.keyAlgorithm, f.keyBits)
	}
	if len(value.certs) > 0 {
		ch <- prometheus.MustNewConstMetric(expiryDesc, prometheus.GaugeValue, value.expiry, ns, name, key, path)
	}
	for _, reason := range value.reasons {
		ch <- prometheus.MustNewConstMetric(errorDesc, prometheus.GaugeValue, 1, ns, name, key, path, reason)
	}
	if value.duplicates > 0 {
		ch <- prometheus.MustNewConstMetric(duplicatesDesc, prometheus.GaugeValue, float64(value.duplicates),
			ns, name, key, path)
	}
}
