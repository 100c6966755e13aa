package dashboards

import (
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

const (
	rulesFile     = "alerts.yaml"
	rulesTestFile = "alerts_test.yaml"
	runbooksFile  = "../docs/runbooks.md"
	runbooksURL   = "https://github.com/meshcert/meshcert/blob/main/docs/runbooks.md#"
)

// promtool returns the promtool binary that hack/tools/install.sh builds.
func promtool(t *testing.T) string {
	t.Helper()
	path := os.Getenv("MESHCERT_PROMTOOL")
	if path == "" {
		t.Fatal("MESHCERT_PROMTOOL is not set: run the tests with 'make test', which builds promtool " +
			"and sets it, or run eval \"$(hack/tools/env.sh)\" from the repository root first")
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("MESHCERT_PROMTOOL: %v; run 'make tools' to build it", err)
	}
	return path
}

func runPromtool(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command(promtool(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestRulesCheck(t *testing.T) {
	runPromtool(t, "check", "rules", rulesFile)
}

func TestRulesUnitTests(t *testing.T) {
	runPromtool(t, "test", "rules", rulesTestFile)
}

func TestRulesAnnotations(t *testing.T) {
	groups := parseRules(t, readFile(t, rulesFile))
	headings := markdownAnchors(string(readFile(t, runbooksFile)))

	for _, group := range groups.Groups {
		for _, rule := range group.Rules {
			if rule.Alert == "" {
				continue
			}
			t.Run(rule.Alert, func(t *testing.T) {
				if s := rule.Labels["severity"]; s != "warning" && s != "critical" {
					t.Errorf("severity = %q, want warning or critical", s)
				}
				for _, name := range []string{"summary", "description", "runbook_url"} {
					if rule.Annotations[name] == "" {
						t.Errorf("annotation %s is missing", name)
					}
				}
				if !strings.Contains(rule.Annotations["description"], "{{ $") {
					t.Error("description names no label or value")
				}
				anchor := strings.ToLower(rule.Alert)
				if want := runbooksURL + anchor; rule.Annotations["runbook_url"] != want {
					t.Errorf("runbook_url = %q, want %q", rule.Annotations["runbook_url"], want)
				}
				if !headings[anchor] {
					t.Errorf("%s has no section %q", runbooksFile, "## "+rule.Alert)
				}
			})
		}
	}
}

// parseRules parses and validates a Prometheus rules file, rejecting
// unknown fields.
func parseRules(t *testing.T, content []byte) *rulefmt.RuleGroups {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	groups, errs := rulefmt.Parse(content, false, model.UTF8Validation, parser.NewParser(parser.Options{}), logger)
	if len(errs) > 0 {
		t.Fatalf("parse rules: %v", errors.Join(errs...))
	}
	return groups
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return data
}

var heading = regexp.MustCompile(`(?m)^## (\S+)\s*$`)

// markdownAnchors returns the anchors GitHub derives from the second-level
// headings that are a single word, such as an alert name.
func markdownAnchors(doc string) map[string]bool {
	anchors := map[string]bool{}
	for _, m := range heading.FindAllStringSubmatch(doc, -1) {
		anchors[strings.ToLower(m[1])] = true
	}
	return anchors
}
