package validate

import (
	"fmt"
	"strings"

	"github.com/meshcert/meshcert/internal/certs"
)

// Action is the admission outcome of a finding.
type Action string

// Actions a Policy can assign to a rule.
const (
	Deny Action = "deny"
	Warn Action = "warn"
	// Ignore drops the finding.
	Ignore Action = "ignore"
)

// ParseAction returns the Action named by s.
func ParseAction(s string) (Action, error) {
	switch action := Action(s); action {
	case Deny, Warn, Ignore:
		return action, nil
	default:
		return "", fmt.Errorf("invalid action %q: use deny, warn or ignore", s)
	}
}

// MaxWarningLength is the length in characters of the longest admission
// warning line, "KEY: MESSAGE [rule]", so that it fits one terminal line.
// The webhook cuts longer lines, so a message puts its fix before any
// name of unbounded length.
const MaxWarningLength = 120

// RuleID is the stable kebab-case identifier of a rule. Rule ids appear in
// admission messages, CLI output, metric labels and docs/rules.md, so a
// released id never changes.
type RuleID string

// Rule describes one check.
type Rule struct {
	ID            RuleID
	DefaultAction Action
	// Summary describes what the rule catches, for docs and help text.
	Summary string
	// Threshold is the flag that tunes the rule, with its default, or
	// empty when the rule has none.
	Threshold string
}

// Finding is one problem found by a rule.
type Finding struct {
	Rule   RuleID
	Action Action
	// Object names what was checked, such as "Secret istio-system/web".
	Object string
	// Key is the data key, or empty when the finding concerns the object.
	Key string
	// Block is the zero-based PEM block index, or certs.NoBlock.
	Block int
	// Message states what is wrong and how to fix it. It never contains
	// certificate or key material.
	Message string
	// ShortMessage is Message with its names and lists cut so that the
	// warning line "KEY: MESSAGE [rule]" fits MaxWarningLength, or empty
	// when Message fits or the finding is not a warning.
	ShortMessage string
}

// WarningMessage returns ShortMessage, or Message when it is empty.
func (f Finding) WarningMessage() string {
	if f.ShortMessage != "" {
		return f.ShortMessage
	}
	return f.Message
}

// Location returns the object, key and PEM block a finding concerns, such
// as "Secret istio-system/web key tls.crt block 2".
func (f Finding) Location() string {
	var b strings.Builder
	b.WriteString(f.Object)
	if f.Key != "" {
		b.WriteString(" key ")
		b.WriteString(f.Key)
	}
	if f.Block != certs.NoBlock {
		fmt.Fprintf(&b, " block %d", f.Block+1)
	}
	return b.String()
}

// String returns the finding as one line: location, message and rule id.
func (f Finding) String() string {
	return fmt.Sprintf("%s: %s [%s]", f.Location(), f.Message, f.Rule)
}

// Findings is the result of checking one object.
type Findings []Finding

// Denials returns the findings whose action is Deny.
func (fs Findings) Denials() Findings { return fs.withAction(Deny) }

// Warnings returns the findings whose action is Warn.
func (fs Findings) Warnings() Findings { return fs.withAction(Warn) }

func (fs Findings) withAction(action Action) Findings {
	var out Findings
	for _, f := range fs {
		if f.Action == action {
			out = append(out, f)
		}
	}
	return out
}
