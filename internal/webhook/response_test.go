package webhook

import (
	"strings"
	"testing"

	"github.com/meshcert/meshcert/internal/certs"
	"github.com/meshcert/meshcert/internal/validate"
)

func finding(rule validate.RuleID, action validate.Action, key string, block int, message string) validate.Finding {
	return validate.Finding{Rule: rule, Action: action, Object: "Secret ns/web", Key: key, Block: block, Message: message}
}

func TestResponseFor(t *testing.T) {
	deny := finding(validate.RuleDER, validate.Deny, "tls.crt", certs.NoBlock, "the value is binary DER")
	warn := finding(validate.RuleExpiringSoon, validate.Warn, "tls.crt", 0, "leaf expires in 3 days")
	tests := []struct {
		name         string
		findings     validate.Findings
		wantAllowed  bool
		wantWarnings int
	}{
		{"none", nil, true, 0},
		{"warning", validate.Findings{warn}, true, 1},
		{"denial", validate.Findings{deny}, false, 0},
		{"denial and warning", validate.Findings{deny, warn}, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			response := ResponseFor(tt.findings)
			if response.Allowed != tt.wantAllowed {
				t.Errorf("allowed = %t, want %t", response.Allowed, tt.wantAllowed)
			}
			if got := len(response.Warnings); got != tt.wantWarnings {
				t.Errorf("warnings = %q, want %d", response.Warnings, tt.wantWarnings)
			}
			if !tt.wantAllowed && response.Result.Code != 403 {
				t.Errorf("code = %d, want 403", response.Result.Code)
			}
		})
	}
}

func TestDenialMessageListsEvery(t *testing.T) {
	denials := validate.Findings{
		finding(validate.RuleDER, validate.Deny, "tls.crt", certs.NoBlock, "the value is binary DER"),
		finding(validate.RuleMalformed, validate.Deny, "tls.key", 1, "parse PRIVATE KEY failed"),
	}
	message := DenialMessage(denials)
	for _, want := range []string{
		"Secret ns/web has 2 problems",
		"(1) key tls.crt: the value is binary DER [der]",
		"(2) key tls.key block 2: parse PRIVATE KEY failed [malformed]",
	} {
		if !strings.Contains(message, want) {
			t.Errorf("message %q lacks %q", message, want)
		}
	}
	if strings.Count(message, "Secret ns/web") != 1 {
		t.Errorf("message %q names the Secret more than once", message)
	}
}

func TestFormatWarningsCapped(t *testing.T) {
	var warnings validate.Findings
	for range 7 {
		warnings = append(warnings, finding(validate.RuleNoSAN, validate.Warn, "tls.crt", 0, strings.Repeat("long ", 40)))
	}
	warnings = append(warnings, finding(validate.RuleLeafIsCA, validate.Warn, "tls.crt", 0, "leaf is a CA"))
	lines := FormatWarnings(warnings)
	if len(lines) != MaxWarnings {
		t.Fatalf("lines = %d, want %d", len(lines), MaxWarnings)
	}
	for _, line := range lines {
		if n := len([]rune(line)); n > MaxWarningLength {
			t.Errorf("line has %d characters, want at most %d: %q", n, MaxWarningLength, line)
		}
	}
	if !strings.HasSuffix(lines[0], " [no-san]") {
		t.Errorf("cut line %q lost its rule id", lines[0])
	}
	if want := "5 more warnings: no-san, leaf-is-ca"; lines[MaxWarnings-1] != want {
		t.Errorf("summary = %q, want %q", lines[MaxWarnings-1], want)
	}
}
