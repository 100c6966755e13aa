package metrics

import (
	"math"
	"strconv"
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

// label is one label pair of a series.
type label struct{ name, value string }

// hasFamily reports whether obj has series in family i.
func hasFamily(obj *object, i int) bool {
	for _, kv := range obj.keys {
		value := kv.value
		switch i {
		case familyInfo, familyNotAfter, familyNotBefore, familyExpiry:
			if len(value.certs) > 0 {
				return true
			}
		case familyDuplicates:
			if value.duplicates > 0 {
				return true
			}
		case familyError:
			if len(value.reasons) > 0 {
				return true
			}
		}
	}
	return false
}

// appendObjectFamily appends the series of family i of obj, in the order
// of its keys and certificates.
func appendObjectFamily(b []byte, i int, obj *object) []byte {
	for _, kv := range obj.keys {
		b = appendFamily(b, i, obj, kv)
	}
	return b
}

// appendFamily appends the series of family i for one key of obj. Each
// label list is written sorted by name, as client_golang sorts labels.
func appendFamily(b []byte, i int, obj *object, kv keyValue) []byte {
	name, value, path := certFamilies[i].name, kv.value, labelValue(obj.path)
	switch i {
	case familyInfo:
		for _, cert := range value.certs {
			f := cert.facts
			labels := [...]label{{"fingerprint", f.fingerprint}, {"index", cert.index}, {"key", kv.key},
				{"key_algorithm", f.keyAlgorithm}, {"key_bits", f.keyBits}, {"namespace", obj.namespace},
				{"path", path}, {"san_count", f.sanCount}, {"secret", obj.name}}
			b = appendSeries(b, name, labels[:], 1)
		}
	case familyNotAfter, familyNotBefore:
		for _, cert := range value.certs {
			f := cert.facts
			labels := [...]label{{"fingerprint", f.fingerprint}, {"index", cert.index}, {"issuer_cn", f.issuerCN},
				{"key", kv.key}, {"namespace", obj.namespace}, {"path", path}, {"role", cert.role},
				{"secret", obj.name}, {"serial", f.serial}, {"subject_cn", f.subjectCN}}
			timestamp := f.notAfter
			if i == familyNotBefore {
				timestamp = f.notBefore
			}
			b = appendSeries(b, name, labels[:], timestamp)
		}
	case familyDuplicates:
		if value.duplicates > 0 {
			labels := [...]label{{"key", kv.key}, {"namespace", obj.namespace}, {"path", path}, {"secret", obj.name}}
			b = appendSeries(b, name, labels[:], float64(value.duplicates))
		}
	case familyError:
		for _, reason := range value.reasons {
			labels := [...]label{{"key", kv.key}, {"namespace", obj.namespace}, {"path", path},
				{"reason", reason}, {"secret", obj.name}}
			b = appendSeries(b, name, labels[:], 1)
		}
	case familyExpiry:
		if len(value.certs) > 0 {
			labels := [...]label{{"key", kv.key}, {"namespace", obj.namespace}, {"path", path}, {"secret", obj.name}}
			b = appendSeries(b, name, labels[:], value.expiry)
		}
	}
	return b
}

// appendSeries appends one line of the text format 0.0.4. The labels are
// already sorted by name.
func appendSeries(b []byte, name string, labels []label, value float64) []byte {
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
	if !needsEscape(s) {
		return append(b, s...)
	}
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

// needsEscape reports whether s holds a backslash, a newline or a double
// quote. A plain loop is faster here than strings.ContainsAny, which
// builds its character set on every call.
func needsEscape(s string) bool {
	for j := 0; j < len(s); j++ {
		if c := s[j]; c == '\\' || c == '\n' || c == '"' {
			return true
		}
	}
	return false
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
