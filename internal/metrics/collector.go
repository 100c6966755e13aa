package metrics

import (
	"math"
	"slices"
	"strconv"
	"strings"
)

// certFamily is one metric family of certificate series. Every one is a
// gauge.
type certFamily struct {
	name, help string
}

// certFamilies are the certificate families, sorted by name as client_golang
// sorts gathered families.
var certFamilies = []certFamily{
	{"meshcert_certificate_info", "Facts about a certificate; the value is always 1."},
	{"meshcert_certificate_not_after_timestamp_seconds", "End of the certificate's validity period, in Unix seconds."},
	{"meshcert_certificate_not_before_timestamp_seconds", "Start of the certificate's validity period, in Unix seconds."},
	{"meshcert_secret_duplicate_certificates",
		"Certificate blocks of a Secret key or file that repeat an earlier block and were merged into it."},
	{"meshcert_secret_error", "A Secret key or file, or a block of it, could not be used; the value is always 1."},
	{"meshcert_secret_expiry_timestamp_seconds",
		"Earliest not-after of the certificates of a Secret key or file, in Unix seconds."},
}

// Indexes of certFamilies.
const (
	familyInfo = iota
	familyNotAfter
	familyNotBefore
	familyDuplicates
	familyError
	familyExpiry
	familyCount
)

// exposition is the text exposition of one object's series, rendered once
// when the object is stored. The lines of family i are text[ends[i-1]:ends[i]].
type exposition struct {
	text []byte
	ends [familyCount]int
}

// family returns the lines of family i, empty when the object has none.
func (e *exposition) family(i int) []byte {
	start := 0
	if i > 0 {
		start = e.ends[i-1]
	}
	return e.text[start:e.ends[i]]
}

// label is one label pair of a series.
type label struct{ name, value string }

// renderObject renders the series of obj family by family, in the order of
// its keys and certificates.
func renderObject(obj *object) *exposition {
	e := &exposition{}
	for i := range familyCount {
		for _, kv := range obj.keys {
			e.text = appendFamily(e.text, i, obj, kv)
		}
		e.ends[i] = len(e.text)
	}
	return e
}

// appendFamily appends the series of family i for one key of obj.
func appendFamily(b []byte, i int, obj *object, kv keyValue) []byte {
	name, value := certFamilies[i].name, kv.value
	base := []label{{"namespace", obj.namespace}, {"secret", obj.name}, {"key", kv.key}, {"path", labelValue(obj.path)}}
	switch i {
	case familyInfo, familyNotAfter, familyNotBefore:
		for _, cert := range value.certs {
			b = appendCertSeries(b, i, base, cert)
		}
	case familyDuplicates:
		if value.duplicates > 0 {
			b = appendSeries(b, name, base, float64(value.duplicates))
		}
	case familyError:
		for _, reason := range value.reasons {
			b = appendSeries(b, name, append(base, label{"reason", reason}), 1)
		}
	case familyExpiry:
		if len(value.certs) > 0 {
			b = appendSeries(b, name, base, value.expiry)
		}
	}
	return b
}

func appendCertSeries(b []byte, i int, base []label, cert certSeries) []byte {
	f := cert.facts
	labels := append(base[:len(base):len(base)], label{"index", cert.index}, label{"fingerprint", f.fingerprint})
	if i == familyInfo {
		labels = append(labels, label{"san_count", f.sanCount}, label{"key_algorithm", f.keyAlgorithm},
			label{"key_bits", f.keyBits})
		return appendSeries(b, certFamilies[i].name, labels, 1)
	}
	labels = append(labels, label{"role", cert.role}, label{"subject_cn", f.subjectCN},
		label{"issuer_cn", f.issuerCN}, label{"serial", f.serial})
	value := f.notAfter
	if i == familyNotBefore {
		value = f.notBefore
	}
	return appendSeries(b, certFamilies[i].name, labels, value)
}

// appendSeries appends one line of the text format 0.0.4 with the labels
// sorted by name, as client_golang sorts them.
func appendSeries(b []byte, name string, labels []label, value float64) []byte {
	slices.SortFunc(labels, func(x, y label) int { return strings.Compare(x.name, y.name) })
	b = append(b, name...)
	b = append(b, '{')
	for j, l := range labels {
		if j > 0 {
			b = append(b, ',')
		}
		b = append(b, l.name...)
		b = append(b, `="`...)
		b = appendEscaped(b, l.value, true)
		b = append(b, '"')
	}
	b = append(b, "} "...)
	b = appendFloat(b, value)
	return append(b, '\n')
}

// appendEscaped escapes s as expfmt's text encoder does: a backslash and a
// newline always, a double quote in label values.
func appendEscaped(b []byte, s string, quoted bool) []byte {
	for j := 0; j < len(s); j++ {
		switch c := s[j]; {
		case c == '\\':
			b = append(b, `\\`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '"' && quoted:
			b = append(b, `\"`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendFloat formats f as expfmt's text encoder does.
func appendFloat(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, +1):
		return append(b, "+Inf"...)
	case math.IsInf(f, -1):
		return append(b, "-Inf"...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

// appendHeader appends the HELP and TYPE lines of family i.
func appendHeader(b []byte, i int) []byte {
	family := certFamilies[i]
	b = append(b, "# HELP "+family.name+" "...)
	b = appendEscaped(b, family.help, false)
	return append(b, "\n# TYPE "+family.name+" gauge\n"...)
}
