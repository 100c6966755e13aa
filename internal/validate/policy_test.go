package validate

import (
	"strings"
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

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name    string
		policy  Policy
		wantErr string
	}{
		{name: "zero", policy: Policy{}},
		{name: "every curve", policy: Policy{AllowedCurves: []string{"P-256", "P-384", "P-521", "Ed25519"}}},
		{name: "lower-case curve", policy: Policy{AllowedCurves: []string{"p256"}},
			wantErr: `invalid allowed curve "p256": use P-256, P-384, P-521, Ed25519`},
		{name: "unknown curve", policy: Policy{AllowedCurves: []string{"P-256", "P-999"}},
			wantErr: `invalid allowed curve "P-999"`},
		{name: "empty curves", policy: Policy{AllowedCurves: []string{}}, wantErr: "the list is empty"},
		{name: "rsa bits 1024", policy: Policy{MinRSABits: 1024}},
		{name: "rsa bits 8192", policy: Policy{MinRSABits: 8192}},
		{name: "rsa bits typo", policy: Policy{MinRSABits: 20480}, wantErr: "invalid minimum RSA key size 20480: use 1024 to 8192"},
		{name: "rsa bits small", policy: Policy{MinRSABits: 512}, wantErr: "invalid minimum RSA key size 512"},
		{name: "rsa bits negative", policy: Policy{MinRSABits: -1}, wantErr: "invalid minimum RSA key size -1"},
		{name: "negative expiry", policy: Policy{ExpiringSoon: -time.Hour}, wantErr: "invalid expiring-soon threshold"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.policy.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate succeeded, want an error containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Validate error %q lacks %q", err, tt.wantErr)
			}
		})
	}
}

func TestPolicyCurvesFlagValidate(t *testing.T) {
	var policy Policy
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	policy.AddFlags(fs)
	if err := fs.Parse([]string{"--allowed-curves=P-256,p384"}); err != nil {
		t.Fatalf("parse flags: %v", err)
	}
	err := policy.Validate()
	if err == nil || !strings.Contains(err.Error(), `"p384"`) {
		t.Errorf("Validate = %v, want an error naming p384", err)
	}
}
