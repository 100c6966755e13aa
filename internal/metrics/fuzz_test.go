package metrics

import (
	"encoding/pem"
	"testing"

	"github.com/meshcert/meshcert/internal/testcerts"
)

// FuzzParseValue runs arbitrary values through the exporter's parsing path,
// lenient fallback included, and scrapes the result: the scrape must never
// fail, whatever the value holds.
//
// NOTE: with -fuzz this target ran under one input per second on 2 shared
// cores, against thousands per second for FuzzParseLenient in
// internal/certs; the cause is not known yet.
func FuzzParseValue(f *testing.F) {
	chain := testcerts.NewChain(f, 3, testcerts.Options{KeyKind: testcerts.ECDSAP256})
	f.Add(chain.CertPEM())
	f.Add(append(chain.CertPEM(), chain.CertPEM()...))
	f.Add(chain.Leaf.KeyPEM)
	f.Add(append(chain.CertPEM(), chain.Leaf.KeyPEM...))
	f.Add(testcerts.NegativeSerial(f, chain.Leaf))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n"))

	te := newTestExporter(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		parser := te.sources[sourceSecret].parser
		for _, kind := range []valueKind{chainValue, caValue} {
			facts := parser.parse(data, kind)
			if len(facts.certs) == 0 && len(facts.reasons) == 0 {
				t.Fatal("a value gave neither certificates nor a reason")
			}
			fileFacts := parser.parseFile(data, kind)
			if len(fileFacts.certs) == 0 && len(fileFacts.reasons) == 0 {
				t.Fatal("a file gave neither certificates nor a reason")
			}
		}
		wrapped := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: data})
		te.add(sourceSecret, fakeSecret(goldenCase{name: "fuzz", source: sourceSecret,
			data: map[string][]byte{"tls.crt": data, "ca.crt": wrapped}}))
		_ = scrape(t, te.Gatherer())
	})
}
