package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/meshcert/meshcert/internal/certs"
	"github.com/meshcert/meshcert/internal/validate"
)

// ANSI colours, used only when settings.color allows them.
const (
	colorRed    = "\x1b[31m"
	colorYellow = "\x1b[33m"
	colorGreen  = "\x1b[32m"
	colorReset  = "\x1b[0m"
)

func paint(enabled bool, color, text string) string {
	if !enabled || text == "" {
		return text
	}
	return color + text + colorReset
}

// findingOutput is the machine-readable form of a finding.
type findingOutput struct {
	Rule   string `json:"rule"`
	Action string `json:"action"`
	// Key is the data key, empty for findings about the whole object.
	Key string `json:"key,omitempty"`
	// Block is the one-based PEM block, omitted for the whole value.
	Block   int    `json:"block,omitempty"`
	Message string `json:"message"`
}

func toFindingOutputs(findings validate.Findings) []findingOutput {
	out := make([]findingOutput, 0, len(findings))
	for _, f := range findings {
		block := 0
		if f.Block != certs.NoBlock {
			block = f.Block + 1
		}
		out = append(out, findingOutput{
			Rule: string(f.Rule), Action: string(f.Action), Key: f.Key, Block: block, Message: f.Message,
		})
	}
	return out
}

// locationInObject returns where in its object a finding is, such as
// "key tls.crt block 2", or "" for the object as a whole.
func locationInObject(f validate.Finding) string {
	return strings.TrimPrefix(strings.TrimPrefix(f.Location(), f.Object), " ")
}

// writeFinding writes one finding as "  DENY  rule-id  location: message".
func writeFinding(w io.Writer, color bool, f validate.Finding, location string) {
	action := strings.ToUpper(string(f.Action))
	switch f.Action {
	case validate.Deny:
		action = paint(color, colorRed, action)
	case validate.Warn:
		action = paint(color, colorYellow, action)
	}
	if location != "" {
		location += ": "
	}
	fmt.Fprintf(w, "  %s  %s  %s%s\n", action, f.Rule, location, f.Message)
}

// verdict sums up findings as the exit status of check and audit.
func verdict(findings validate.Findings, failOnWarning bool) int {
	switch {
	case len(findings.Denials()) > 0:
		return ExitDenied
	case failOnWarning && len(findings.Warnings()) > 0:
		return ExitWarnings
	default:
		return ExitOK
	}
}

// tally counts checked objects by their worst action.
type tally struct {
	checked, denied, warned, passed, skipped int
}

func (t *tally) add(findings validate.Findings) {
	t.checked++
	switch {
	case len(findings.Denials()) > 0:
		t.denied++
	case len(findings.Warnings()) > 0:
		t.warned++
	default:
		t.passed++
	}
}

func (t tally) String() string {
	summary := fmt.Sprintf("%d checked: %d denied, %d with warnings only, %d passed",
		t.checked, t.denied, t.warned, t.passed)
	if t.skipped > 0 {
		summary += fmt.Sprintf("; %d skipped", t.skipped)
	}
	return summary
}
