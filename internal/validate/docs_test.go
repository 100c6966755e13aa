package validate

import (
	"os"
	"strings"
	"testing"
)

// TestRulesDocumented fails when a rule is missing from docs/rules.md or
// documented with another default action or threshold.
func TestRulesDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/rules.md")
	if err != nil {
		t.Fatalf("read rules doc: %v", err)
	}
	rows := map[string]string{}
	for line := range strings.SplitSeq(string(doc), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) > 2 {
			rows[strings.Trim(strings.TrimSpace(cells[1]), "`")] = line
		}
	}
	for _, rule := range AllRules() {
		row, ok := rows[string(rule.ID)]
		if !ok {
			t.Errorf("rule %s is missing from docs/rules.md", rule.ID)
			continue
		}
		cells := strings.Split(row, "|")
		if got := strings.TrimSpace(cells[2]); got != string(rule.DefaultAction) {
			t.Errorf("docs/rules.md gives %s the default %q, want %q", rule.ID, got, rule.DefaultAction)
		}
		if got := strings.Trim(strings.TrimSpace(cells[3]), "`"); got != rule.Threshold {
			t.Errorf("docs/rules.md gives %s the threshold %q, want %q", rule.ID, got, rule.Threshold)
		}
	}
}
