package testcerts

import (
	"bytes"
	"testing"
)

// NegativeSerial returns the DER of cert with its serial number made
// negative by setting the sign bit of its first byte. The signature no
// longer matches, which parsers that do not verify it ignore.
func NegativeSerial(tb testing.TB, cert *Cert) []byte {
	tb.Helper()
	serial := cert.X509.SerialNumber.Bytes()
	if serial[0]&0x80 != 0 {
		tb.Fatalf("serial %x already has its sign bit set, so DER pads it", serial)
	}
	encoded := append([]byte{0x02, byte(len(serial))}, serial...)
	return patch(tb, cert.X509.Raw, encoded, func(b []byte) { b[2] |= 0x80 })
}

// MalformedSAN returns the DER of cert with a byte of the DNS name
// dnsName, which must be one of its SANs, replaced by 0xff, so that the
// name is no longer an IA5String.
func MalformedSAN(tb testing.TB, cert *Cert, dnsName string) []byte {
	tb.Helper()
	return patch(tb, cert.X509.Raw, []byte(dnsName), func(b []byte) { b[0] = 0xff })
}

func patch(tb testing.TB, der, find []byte, edit func([]byte)) []byte {
	tb.Helper()
	at := bytes.Index(der, find)
	if at < 0 {
		tb.Fatalf("%x not found in the certificate", find)
	}
	out := bytes.Clone(der)
	edit(out[at : at+len(find)])
	return out
}
