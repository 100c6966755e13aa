package metrics

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	corev1 "k8s.io/api/core/v1"
)

// TestRenderMatchesExpfmt renders label values that need escaping and
// compares each line with client_golang's const metric encoded by expfmt.
func TestRenderMatchesExpfmt(t *testing.T) {
	values := []string{"plain", `back\slash`, `double"quote`, "new\nline", `all\"` + "\n", "ünïcode ☃", ""}
	for _, value := range values {
		obj := &object{source: sourceFile, namespace: value, name: "web", path: value, keys: []keyValue{{
			key: value,
			value: &valueFacts{
				certs: []certSeries{{index: "0", role: "leaf", facts: &certFacts{
					fingerprint: "ab", serial: value, subjectCN: value, issuerCN: value,
					notAfter: 1.7e9, notBefore: -1, sanCount: "1", keyAlgorithm: "ECDSA", keyBits: "256",
				}}},
				reasons:    []string{value},
				duplicates: 2,
				expiry:     math.Inf(+1),
			},
		}}}
		want := constMetricText(t, obj)
		for i := range familyCount {
			if got := appendObjectFamily(nil, i, obj); !bytes.Equal(got, want[i]) {
				t.Errorf("value %q, family %s:\n got %q\nwant %q", value, certFamilies[i].name, got, want[i])
			}
		}
	}
}

// constMetricText encodes the series of obj's only key and certificate
// with client_golang and expfmt, one family at a time.
func constMetricText(t *testing.T, obj *object) [familyCount][]byte {
	t.Helper()
	kv := obj.keys[0]
	cert, f := kv.value.certs[0], kv.value.certs[0].facts
	object := []string{"namespace", "secret", "key", "path"}
	ns, name, key, path := obj.namespace, obj.name, kv.key, obj.path
	certLabels := append(object[:4:4], "index", "role", "subject_cn", "issuer_cn", "serial", "fingerprint")
	metric := func(i int, labels []string, value float64, values ...string) prometheus.Metric {
		desc := prometheus.NewDesc(certFamilies[i].name, certFamilies[i].help, labels, nil)
		return prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, value, values...)
	}
	metrics := [familyCount]prometheus.Metric{
		familyInfo: metric(familyInfo, append(object[:4:4], "index", "fingerprint", "san_count", "key_algorithm", "key_bits"),
			1, ns, name, key, path, cert.index, f.fingerprint, f.sanCount, f.keyAlgorithm, f.keyBits),
		familyNotAfter: metric(familyNotAfter, certLabels, f.notAfter,
			ns, name, key, path, cert.index, cert.role, f.subjectCN, f.issuerCN, f.serial, f.fingerprint),
		familyNotBefore: metric(familyNotBefore, certLabels, f.notBefore,
			ns, name, key, path, cert.index, cert.role, f.subjectCN, f.issuerCN, f.serial, f.fingerprint),
		familyDuplicates: metric(familyDuplicates, object, float64(kv.value.duplicates), ns, name, key, path),
		familyError:      metric(familyError, append(object[:4:4], "reason"), 1, ns, name, key, path, kv.value.reasons[0]),
		familyExpiry:     metric(familyExpiry, object, kv.value.expiry, ns, name, key, path),
	}
	var out [familyCount][]byte
	for i, m := range metrics {
		registry := prometheus.NewPedanticRegistry()
		registry.MustRegister(constCollector{m})
		families, err := registry.Gather()
		if err != nil {
			t.Fatalf("gather %s: %v", certFamilies[i].name, err)
		}
		var buf bytes.Buffer
		if _, err := expfmt.MetricFamilyToText(&buf, families[0]); err != nil {
			t.Fatalf("encode %s: %v", certFamilies[i].name, err)
		}
		out[i] = bytes.TrimPrefix(buf.Bytes(), appendHeader(nil, i))
	}
	return out
}

// constCollector collects one metric.
type constCollector struct{ metric prometheus.Metric }

func (c constCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.metric.Desc() }
func (c constCollector) Collect(ch chan<- prometheus.Metric) { ch <- c.metric }

func TestFamiliesSorted(t *testing.T) {
	for i := 1; i < familyCount; i++ {
		if certFamilies[i-1].name >= certFamilies[i].name {
			t.Errorf("family %s sorts after %s", certFamilies[i-1].name, certFamilies[i].name)
		}
	}
}

// TestServeGzip scrapes the golden cases with and without gzip, after
// each change of the State, and compares the decompressed body with the
// plain one: the cached compressed certificate series must follow adds,
// updates and removals, and an empty State.
func TestServeGzip(t *testing.T) {
	te := newTestExporter(t)
	handler := te.Handler("/metrics")
	check := func(when string) {
		t.Helper()
		plain := serve(t, handler, "")
		if got := gunzip(t, serve(t, handler, "gzip")); !bytes.Equal(got, plain) {
			t.Errorf("%s: the decompressed gzip body differs from the plain body:\n%s", when, lineDiff(string(plain), string(got)))
		}
	}
	check("empty State")
	cases := goldenCases(t)
	for _, c := range cases {
		te.add(c.source, fakeSecret(c))
	}
	check("golden cases added")
	check("nothing changed")
	updated := fakeSecret(cases[0])
	updated.Data = fakeSecret(cases[1]).Data
	te.add(cases[0].source, updated)
	check("first case updated")
	te.state.remove(objectKey{source: cases[1].source, namespace: "gateways", name: cases[1].name})
	check("second case removed")
}

// gunzip decompresses body, which must be exactly one gzip member with
// a valid checksum and length.
func gunzip(t *testing.T, body []byte) []byte {
	t.Helper()
	input := bytes.NewReader(body)
	reader, err := gzip.NewReader(input)
	if err != nil {
		t.Fatalf("read gzip header: %v", err)
	}
	reader.Multistream(false)
	decompressed, err := io.ReadAll(reader)
	if err != nil {
		t.Fatalf("decompress body: %v", err)
	}
	if input.Len() != 0 {
		t.Errorf("%d bytes follow the gzip member", input.Len())
	}
	return decompressed
}

func TestAcceptsGzip(t *testing.T) {
	cases := []struct {
		header string
		want   bool
	}{
		{"", false},
		{"gzip", true},
		{"GZIP", true},
		{"deflate, gzip;q=0.5", true},
		{"gzip;q=0", false},
		{"gzip; q=0.000", false},
		{"gzip;q=bad", false},
		{"gzip;Q=0", false},
		{"gzip;level=1;q=0", false},
		{"gzip;level=1", true},
		{"identity", false},
		{"zstd,gzip", true},
	}
	for _, c := range cases {
		if got := acceptsGzip([]string{c.header}); got != c.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", c.header, got, c.want)
		}
	}
}

// TestScrapeFollowsChanges checks that the sorted index follows adds,
// updates and removals.
func TestScrapeFollowsChanges(t *testing.T) {
	te := newTestExporter(t)
	cases := goldenCases(t)
	te.add(cases[0].source, fakeSecret(cases[0]))
	before := certText(t, te.state)
	te.add(cases[1].source, fakeSecret(cases[1]))
	if bytes.Equal(certText(t, te.state), before) {
		t.Fatal("the scrape did not change after an add")
	}
	te.state.remove(objectKey{source: cases[1].source, namespace: "gateways", name: cases[1].name})
	if got := certText(t, te.state); !bytes.Equal(got, before) {
		t.Errorf("the scrape after a removal differs from the one before the add:\n%s", lineDiff(string(before), string(got)))
	}
	te.state.remove(objectKey{source: cases[0].source, namespace: "gateways", name: cases[0].name})
	if got := certText(t, te.state); len(got) != 0 {
		t.Errorf("an empty State wrote %q", got)
	}
}

// TestServeGzipManyChunks follows more objects than one chunk holds
// through an update in the middle, a removal at the front, which shifts
// every chunk, and an add, checking each gzip scrape against the plain
// one and counting the chunks compressed again.
func TestServeGzipManyChunks(t *testing.T) {
	te := newTestExporter(t)
	handler := te.Handler("/metrics")
	c := goldenCases(t)[0]
	secret := func(n int) *corev1.Secret {
		s := fakeSecret(c)
		s.Name = fmt.Sprintf("secret-%04d", n)
		return s
	}
	const count = 3*chunkObjects + 10
	for n := range count {
		te.add(sourceSecret, secret(n))
	}
	check := func(when string) {
		t.Helper()
		plain := serve(t, handler, "")
		if got := gunzip(t, serve(t, handler, "gzip")); !bytes.Equal(got, plain) {
			t.Fatalf("%s: the decompressed gzip body differs from the plain body", when)
		}
	}
	check("all added")
	before := te.state.compressed

	te.add(sourceSecret, secret(chunkObjects+1))
	check("one updated")
	after := te.state.compressed
	recompressed, families := 0, 0
	for id, c := range after.chunks {
		if before.chunks[id] != c {
			recompressed++
		}
		if id.start < 0 {
			families++
		}
	}
	if recompressed != families {
		t.Errorf("an update of one Secret compressed %d chunks again, want %d (one per family)", recompressed, families)
	}

	te.state.remove(objectKey{source: sourceSecret, namespace: "gateways", name: "secret-0000"})
	check("first removed")
	te.add(sourceSecret, secret(count))
	check("one added at the end")
}

func TestCRC32Combine(t *testing.T) {
	data := make([]byte, 5000)
	for i := range data {
		data[i] = byte(i*7 + i/13)
	}
	for _, split := range []int{0, 1, 7, 64, 1000, 4999, 5000} {
		a, b := data[:split], data[split:]
		got := crc32Combine(crc32.ChecksumIEEE(a), crc32.ChecksumIEEE(b), uint64(len(b)))
		if want := crc32.ChecksumIEEE(data); got != want {
			t.Errorf("split at %d: combined CRC %08x, want %08x", split, got, want)
		}
	}
}
