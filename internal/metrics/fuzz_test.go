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
// NOTE: with -fuzz this target runs in bursts of about 10,000 inputs a
// second with stalls of many seconds at 0 between them. The function
// itself is not the cause: on random inputs in a plain loop it takes
// about 0.2 ms an input, 1.2 ms at worst. The stalls come from the
// fuzzing engine and its workers, which this package does not control.
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
