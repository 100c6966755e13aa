package validate

import (
	"testing"

	"github.com/meshcert/meshcert/internal/certs"
)

func TestFindingString(t *testing.T) {
	tests := []struct {
		name    string
		finding Finding
		want    string
	}{
		{
			"object only",
			Finding{Rule: "missing-key", Object: "Secret ns/web", Block: certs.NoBlock, Message: "add tls.key"},
			"Secret ns/web: add tls.key [missing-key]",
		},
		{
			"key and block",
			Finding{Rule: "malformed", Object: "Secret ns/web", Key: "tls.crt", Block: 1, Message: "re-export it"},
			"Secret ns/web key tls.crt block 2: re-export it [malformed]",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.finding.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFindingsByAction(t *testing.T) {
	findings := Findings{{Rule: "a", Action: Deny}, {Rule: "b", Action: Warn}, {Rule: "c", Action: Deny}}
	if got := len(findings.Denials()); got != 2 {
		t.Errorf("denials = %d, want 2", got)
	}
	if got := len(findings.Warnings()); got != 1 {
		t.Errorf("warnings = %d, want 1", got)
	}
}

func TestParseAction(t *testing.T) {
	for _, valid := range []string{"deny", "warn", "ignore"} {
		if _, err := ParseAction(valid); err != nil {
			t.Errorf("ParseAction(%q): %v", valid, err)
		}
	}
	if _, err := ParseAction("block"); err == nil {
		t.Error("ParseAction(\"block\") succeeded, want an error")
	}
}
