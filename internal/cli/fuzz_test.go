package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/meshcert/meshcert/internal/validate"
)

// FuzzDecodeInputs feeds arbitrary bytes to check's input decoder, as a
// single file and beside a key file. It must not panic, every target it
// returns must have a Secret, and every finding must map back to a file.
func FuzzDecodeInputs(f *testing.F) {
	key := fixture(f, "web.key")
	f.Add(fixture(f, "web.crt"))
	f.Add(fixtureChain(f, "web.crt", "web.key"))
	f.Add([]byte("apiVersion: v1\nkind: Secret\nmetadata: {name: a}\nstringData:\n  tls.crt: x\n---\n---\n"))
	f.Add([]byte(`{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Secret","data":{"ca.crt":"eA=="}}]}`))
	f.Add([]byte("kind: Secret\napiVersion: v1\ndata: {tls.crt: '!!'}\n"))
	f.Add([]byte("\x30\x82\x01\x00"))
	f.Add(bytes.Repeat([]byte("---\n"), 1000))

	f.Fuzz(func(t *testing.T, data []byte) {
		for _, files := range [][]inputFile{
			{{name: "a", data: data}},
			{{name: "a", data: data}, {name: "b", data: key}},
			{{name: "a", data: data, ca: true}},
		} {
			targets, _, err := decodeInputs(files)
			if err != nil {
				if strings.Contains(err.Error(), "PRIVATE KEY-----\n") {
					t.Fatalf("error contains PEM text: %v", err)
				}
				continue
			}
			for _, target := range targets {
				assertTarget(t, target)
			}
		}
	})
}

func assertTarget(t *testing.T, target checkTarget) {
	t.Helper()
	if target.secret == nil || target.label == "" {
		t.Fatalf("target without Secret or label: %+v", target)
	}
	if target.skip != "" {
		return
	}
	_, findings := validate.CheckSecret(target.secret, validate.Policy{}, fixedNow)
	for _, f := range findings {
		if target.origins != nil && locateInFiles(target.origins, f) == "" {
			t.Fatalf("finding %v has no file", f)
		}
	}
}
