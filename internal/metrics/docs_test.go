package metrics

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/meshcert/meshcert/internal/certs"
)

// exporterReasons are the reason label values the exporter can set: the
// reasons of certificate values, never those of private keys.
var exporterReasons = []certs.Reason{
	certs.ReasonEmpty, certs.ReasonNotPEM, certs.ReasonDER, certs.ReasonDoubleBase64,
	certs.ReasonEscapedNewlines, certs.ReasonLeadingGarbage, certs.ReasonMalformed,
	certs.ReasonNegativeSerial, certs.ReasonUnexpectedBlock, certs.ReasonKeyOnly,
}

// TestReasonsDocumented fails when the reason table of docs/metrics.md
// lacks a reason the exporter sets or lists one it does not.
func TestReasonsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatalf("read metrics doc: %v", err)
	}
	_, section, found := strings.Cut(string(doc), "## Error reasons")
	if !found {
		t.Fatal("docs/metrics.md has no Error reasons section")
	}
	section, _, _ = strings.Cut(section, "\n## ")

	var documented []certs.Reason
	for line := range strings.SplitSeq(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 3 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		documented = append(documented, certs.Reason(strings.Trim(strings.TrimSpace(cells[1]), "`")))
	}
	for _, reason := range exporterReasons {
		if !slices.Contains(documented, reason) {
			t.Errorf("reason %s is missing from docs/metrics.md", reason)
		}
	}
	for _, reason := range documented {
		if !slices.Contains(exporterReasons, reason) {
			t.Errorf("docs/metrics.md lists reason %s, which the exporter does not set", reason)
		}
	}
}
