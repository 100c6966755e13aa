package validate

import (
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestPolicyFlags(t *testing.T) {
	var policy Policy
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	policy.AddFlags(fs)
	err := fs.Parse([]string{
		"--rule-action=expiring-soon=deny,no-san=ignore", "--rule-action", "expired=warn",
		"--expiring-soon=168h", "--min-rsa-bits=3072", "--allowed-curves=P-256",
	})
	if err != nil {
		t.Fatalf("parse flags: %v", err)
	}
	if err := policy.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	for id, want := range map[RuleID]Action{RuleExpiringSoon: Deny, RuleNoSAN: Ignore, RuleExpired: Warn, RuleKeyMismatch: Deny} {
		if got := policy.ActionFor(id); got != want {
			t.Errorf("ActionFor(%s) = %s, want %s", id, got, want)
		}
	}
	if policy.ExpiringSoon != 168*time.Hour {
		t.Errorf("ExpiringSoon = %s, want 168h", policy.ExpiringSoon)
	}
	if policy.MinRSABits != 3072 {
		t.Errorf("MinRSABits = %d, want 3072", policy.MinRSABits)
	}
	if policy.curveAllowed("P-384") {
		t.Error("P-384 allowed, want only P-256")
	}
}

func TestPolicyFlagsInvalid(t *testing.T) {
	for _, arg := range []string{"--rule-action=nosuchrule=deny", "--rule-action=expired=block", "--rule-action=expired"} {
		var policy Policy
		fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
		fs.SetOutput(discard{})
		policy.AddFlags(fs)
		if err := fs.Parse([]string{arg}); err == nil {
			t.Errorf("Parse(%s) succeeded, want an error", arg)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func TestRulesTable(t *testing.T) {
	seen := map[RuleID]bool{}
	for _, rule := range Rules {
		if seen[rule.ID] {
			t.Errorf("rule %s listed twice", rule.ID)
		}
		seen[rule.ID] = true
		if rule.DefaultAction != Deny && rule.DefaultAction != Warn {
			t.Errorf("rule %s default %q, want deny or warn", rule.ID, rule.DefaultAction)
		}
		if rule.Summary == "" {
			t.Errorf("rule %s has no summary", rule.ID)
		}
	}
}
