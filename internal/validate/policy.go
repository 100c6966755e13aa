package validate

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Defaults of the rule thresholds.
const (
	DefaultExpiringSoon = 30 * 24 * time.Hour
	DefaultMinRSABits   = 2048
)

// DefaultAllowedCurves are the elliptic curves every Envoy build serves.
var DefaultAllowedCurves = []string{"P-256", "P-384"}

// KnownCurves are the curve names AllowedCurves accepts, spelled as Go's
// crypto/elliptic names them, plus Ed25519.
var KnownCurves = []string{"P-256", "P-384", "P-521", "Ed25519"}

// Bounds of MinRSABits. Go's crypto/rsa rejects keys under 1024 bits and
// crypto/tls clients reject server keys over 8192 bits, so a minimum
// outside this range is a typo that would deny every RSA leaf or none.
const (
	minRSABitsFloor   = 1024
	minRSABitsCeiling = 8192
)

// Policy selects the action of each rule and the thresholds of the rules
// that have one. The zero Policy is the default policy.
type Policy struct {
	// Actions overrides the default action of a rule.
	Actions map[RuleID]Action
	// ExpiringSoon is the time before a leaf's expiry from which
	// expiring-soon reports it; zero means DefaultExpiringSoon.
	ExpiringSoon time.Duration
	// MinRSABits is the shortest RSA modulus weak-rsa-key accepts; zero
	// means DefaultMinRSABits.
	MinRSABits int
	// AllowedCurves names the curves disallowed-curve accepts ("P-256",
	// "P-384", "P-521", "Ed25519"); nil means DefaultAllowedCurves.
	AllowedCurves []string
}

// DefaultPolicy returns the policy with every default filled in.
func DefaultPolicy() Policy {
	return Policy{
		Actions:       map[RuleID]Action{},
		ExpiringSoon:  DefaultExpiringSoon,
		MinRSABits:    DefaultMinRSABits,
		AllowedCurves: slices.Clone(DefaultAllowedCurves),
	}
}

// ActionFor returns the action the policy assigns to rule id.
func (p Policy) ActionFor(id RuleID) Action {
	if action, ok := p.Actions[id]; ok {
		return action
	}
	if rule, ok := rulesByID[id]; ok {
		return rule.DefaultAction
	}
	return Deny
}

// Validate reports overrides of unknown rules and thresholds out of range.
func (p Policy) Validate() error {
	for id, action := range p.Actions {
		if _, ok := rulesByID[id]; !ok {
			return fmt.Errorf("invalid rule action %s=%s: unknown rule %q", id, action, id)
		}
		if _, err := ParseAction(string(action)); err != nil {
			return fmt.Errorf("invalid rule action for %s: %w", id, err)
		}
	}
	if p.ExpiringSoon < 0 {
		return fmt.Errorf("invalid expiring-soon threshold %s: must not be negative", p.ExpiringSoon)
	}
	if p.MinRSABits != 0 && (p.MinRSABits < minRSABitsFloor || p.MinRSABits > minRSABitsCeiling) {
		return fmt.Errorf("invalid minimum RSA key size %d: use %d to %d bits",
			p.MinRSABits, minRSABitsFloor, minRSABitsCeiling)
	}
	return validateCurves(p.AllowedCurves)
}

// validateCurves rejects an unknown curve name and an empty list, because
// either would make disallowed-curve deny every elliptic-curve leaf.
func validateCurves(curves []string) error {
	if curves != nil && len(curves) == 0 {
		return fmt.Errorf("invalid allowed curves: the list is empty; name at least one of %s, "+
			"or use --rule-action=disallowed-curve=ignore to accept every curve", strings.Join(KnownCurves, ", "))
	}
	for _, curve := range curves {
		if !slices.Contains(KnownCurves, curve) {
			return fmt.Errorf("invalid allowed curve %q: use %s (case-sensitive)", curve, strings.Join(KnownCurves, ", "))
		}
	}
	return nil
}

func (p Policy) expiringSoon() time.Duration {
	if p.ExpiringSoon == 0 {
		return DefaultExpiringSoon
	}
	return p.ExpiringSoon
}

func (p Policy) minRSABits() int {
	if p.MinRSABits == 0 {
		return DefaultMinRSABits
	}
	return p.MinRSABits
}

func (p Policy) curveAllowed(curve string) bool {
	return slices.Contains(p.allowedCurves(), curve)
}

func (p Policy) allowedCurves() []string {
	if p.AllowedCurves == nil {
		return DefaultAllowedCurves
	}
	return p.AllowedCurves
}

// allowedCurvesText lists the allowed curves for a fix: "P-256 or P-384".
func (p Policy) allowedCurvesText() string {
	curves := p.allowedCurves()
	if len(curves) <= 1 {
		return strings.Join(curves, "")
	}
	return strings.Join(curves[:len(curves)-1], ", ") + " or " + curves[len(curves)-1]
}

// preferredKey names the first allowed curve as a key type for a fix:
// "ECDSA P-256" or "Ed25519".
func (p Policy) preferredKey() string {
	curves := p.allowedCurves()
	if len(curves) == 0 {
		return "ECDSA P-256"
	}
	if strings.HasPrefix(curves[0], "P-") {
		return "ECDSA " + curves[0]
	}
	return curves[0]
}

// AddFlags registers the policy's flags on fs: --rule-action (repeatable,
// RULE=ACTION), --expiring-soon, --min-rsa-bits and --allowed-curves.
func (p *Policy) AddFlags(fs *pflag.FlagSet) {
	if p.Actions == nil {
		p.Actions = map[RuleID]Action{}
	}
	fs.Var(ruleActionFlag{p.Actions}, "rule-action",
		"Override a rule's action, as RULE=ACTION with ACTION deny, warn or ignore "+
			"(repeatable or comma-separated, e.g. expiring-soon=deny,no-san=ignore).")
	fs.DurationVar(&p.ExpiringSoon, "expiring-soon", DefaultExpiringSoon,
		"Flag a leaf certificate that expires within this duration (rule expiring-soon).")
	fs.IntVar(&p.MinRSABits, "min-rsa-bits", DefaultMinRSABits,
		"Minimum RSA key size in bits of a leaf certificate, 1024 to 8192 (rule weak-rsa-key).")
	fs.StringSliceVar(&p.AllowedCurves, "allowed-curves", DefaultAllowedCurves,
		"Elliptic curves a leaf key may use: P-256, P-384, P-521, Ed25519 (rule disallowed-curve).")
}

// ruleActionFlag is a pflag.Value that fills a rule-action map.
type ruleActionFlag struct{ actions map[RuleID]Action }

func (f ruleActionFlag) String() string {
	pairs := make([]string, 0, len(f.actions))
	for id, action := range f.actions {
		pairs = append(pairs, string(id)+"="+string(action))
	}
	sort.Strings(pairs)
	return strings.Join(pairs, ",")
}

func (f ruleActionFlag) Set(value string) error {
	for pair := range strings.SplitSeq(value, ",") {
		id, name, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok {
			return fmt.Errorf("invalid rule action %q: use RULE=ACTION", pair)
		}
		if _, known := rulesByID[RuleID(id)]; !known {
			return fmt.Errorf("invalid rule action %q: unknown rule %q (see docs/rules.md)", pair, id)
		}
		action, err := ParseAction(name)
		if err != nil {
			return fmt.Errorf("invalid rule action %q: %w", pair, err)
		}
		f.actions[RuleID(id)] = action
	}
	return nil
}

func (f ruleActionFlag) Type() string { return "RULE=ACTION" }
