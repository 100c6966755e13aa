package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshcert/meshcert/internal/validate"
)

type auditOptions struct {
	policy        validate.Policy
	output        string
	failOnWarning bool
}

// auditReport is the document 'audit -o json|yaml' prints.
type auditReport struct {
	APIVersion string        `json:"apiVersion"`
	Kind       string        `json:"kind"`
	Time       time.Time     `json:"time"`
	Summary    auditSummary  `json:"summary"`
	Objects    []auditObject `json:"objects"`
}

type auditSummary struct {
	// Checked counts every object checked; Denied those with a denial,
	// Warned those with warnings only, Passed those with no finding.
	Checked int `json:"checked"`
	Denied  int `json:"denied"`
	Warned  int `json:"warned"`
	Passed  int `json:"passed"`
}

// auditObject is one object with at least one finding.
type auditObject struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Result is deny when a finding denies, else warn.
	Result   string          `json:"result"`
	Findings []findingOutput `json:"findings"`

	findings validate.Findings
}

func newAuditCommand(s *settings) *cobra.Command {
	opts := &auditOptions{}
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Run the admission rules over the certificate Secrets already in the cluster",
		Long: "audit checks every certificate Secret of the cluster, or of the namespace given " +
			"with -n, with the admission webhook's rules, so that Secrets created before the " +
			"webhook was installed are brought under the same rules.\n\n" +
			"Exit status: 0 when nothing is denied, 1 for warnings with --fail-on-warning, " +
			"2 when a rule denies an object, 3 when the cluster cannot be read.",
		Example: "  meshcert audit\n  meshcert audit -n istio-system -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAudit(cmd, s, opts)
		},
	}
	flags := cmd.Flags()
	opts.policy.AddFlags(flags)
	flags.StringVarP(&opts.output, "output", "o", "", "Output format: json or yaml (default: text).")
	flags.BoolVar(&opts.failOnWarning, "fail-on-warning", false,
		"Exit with status 1 when a rule warns and none denies.")
	return cmd
}

func runAudit(cmd *cobra.Command, s *settings, opts *auditOptions) error {
	if err := validateOutput(opts.output, "json", "yaml"); err != nil {
		return err
	}
	if err := opts.policy.Validate(); err != nil {
		return err
	}
	now, err := s.now()
	if err != nil {
		return err
	}

	namespace, explicit, err := s.namespace()
	if err != nil {
		return err
	}
	// TODO: audit Istio and Gateway API Gateways once internal/validate
	// has their rules; only certificate Secrets are audited today.
	items, err := collectItems(cmd, s, opts.policy, now, !explicit)
	if err != nil {
		return err
	}
	report := buildReport(items, now)
	if opts.output != "" {
		err = writeStructured(s.streams.Out, opts.output, report)
	} else {
		err = writeAuditText(s.streams.Out, s.color(), report, auditScope(namespace, explicit))
	}
	if err != nil {
		return err
	}

	var all validate.Findings
	for _, object := range report.Objects {
		all = append(all, object.findings...)
	}
	if code := verdict(all, opts.failOnWarning); code != ExitOK {
		return exitError{code}
	}
	return nil
}

func auditScope(namespace string, explicit bool) string {
	if explicit {
		return "namespace " + namespace
	}
	return "all namespaces"
}

func buildReport(items []certificateItem, now time.Time) auditReport {
	sortItems(items, "name")
	report := auditReport{APIVersion: outputAPIVersion, Kind: "AuditReport", Time: now.UTC(), Objects: []auditObject{}}
	var counts tally
	for _, item := range items {
		counts.add(item.findings)
		if len(item.findings) == 0 {
			continue
		}
		result := string(validate.Warn)
		if len(item.findings.Denials()) > 0 {
			result = string(validate.Deny)
		}
		report.Objects = append(report.Objects, auditObject{
			Kind: "Secret", Namespace: item.Namespace, Name: item.Name,
			Result: result, Findings: item.Findings, findings: item.findings,
		})
	}
	report.Summary = auditSummary{Checked: counts.checked, Denied: counts.denied, Warned: counts.warned, Passed: counts.passed}
	return report
}

func writeAuditText(w io.Writer, color bool, report auditReport, scope string) error {
	sum := report.Summary
	fmt.Fprintf(w, "Audited %d certificate Secrets in %s at %s: %d denied, %d with warnings only, %d passed.\n",
		sum.Checked, scope, report.Time.Format(time.RFC3339), sum.Denied, sum.Warned, sum.Passed)
	for _, object := range report.Objects {
		fmt.Fprintf(w, "\n%s %s/%s\n", object.Kind, object.Namespace, object.Name)
		for _, f := range object.findings {
			writeFinding(w, color, f, locationInObject(f))
		}
	}
	return nil
}
