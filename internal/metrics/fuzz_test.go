package metrics

import (
	"bytes"
	"encoding/pem"
	"testing"

	"github.com/meshcert/meshcert/internal/testcerts"
)

// FuzzParseValue runs arbitrary values through the exporter's parsing path,
// lenient fallback included, and scrapes the result: the scrape must never
// fail, whatever the value holds, and the gzip scrape must decompress to
// the plain one.
//
// With go test's default -fuzzminimizetime of 60s, minimizing new inputs
// stalled this target: about 10 inputs a minute, against about 1,000 a
// second with minimization bounded to 100 runs, as 'make fuzz' does.
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
		var plain, compressed bytes.Buffer
		if err := te.state.writeText(&plain, nil); err != nil {
			t.Fatal(err)
		}
		if err := te.state.writeGzip(&compressed, nil); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(gunzip(t, compressed.Bytes()), plain.Bytes()) {
			t.Fatal("the gzip scrape differs from the plain one")
		}
	})
}
