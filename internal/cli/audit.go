package cli

import (
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshcert/meshcert/internal/validate"
)

type auditOptions struct {
	policy            validate.Policy
	output            string
	failOnWarning     bool
	allNamespaces     bool
	gatewayNamespaces []string
}

// auditReport is the document 'audit -o json|yaml' prints.
type auditReport struct {
	APIVersion string        `json:"apiVersion"`
	Kind       string        `json:"kind"`
	Time       time.Time     `json:"time"`
	Summary    auditSummary  `json:"summary"`
	Objects    []auditObject `json:"objects"`
}

// auditSummary counts the objects audited. Secrets and Gateways count
// them by kind; Checked counts all of them, Denied those with a denial,
// Warned those with warnings only and Passed those with no finding.
type auditSummary struct {
	Secrets  int `json:"secrets"`
	Gateways int `json:"gateways"`
	Checked  int `json:"checked"`
	Denied   int `json:"denied"`
	Warned   int `json:"warned"`
	Passed   int `json:"passed"`
}

// auditObject is one object with at least one finding.
type auditObject struct {
	// Kind is Secret, Gateway.networking.istio.io or
	// Gateway.gateway.networking.k8s.io.
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
		Short: "Run the admission rules over the certificate Secrets and Gateways already in the cluster",
		Long: "audit checks every certificate Secret and every Istio and Gateway API Gateway of " +
			"the current namespace (the kubeconfig context's, or -n), or of every namespace with -A, " +
			"with the admission webhook's rules, " +
			"so that objects created before the webhook was installed are brought under the same " +
			"rules.\n\n" +
			"Exit status: 0 when nothing is denied, 1 for warnings with --fail-on-warning, " +
			"2 when a rule denies an object, 3 for a usage error (an unknown flag or command, an invalid value) " +
			"or when the cluster cannot be read.",
		Example: "  meshcert audit -A\n  meshcert audit -n istio-system -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAudit(cmd, s, opts)
		},
	}
	flags := cmd.Flags()
	opts.policy.AddFlags(flags)
	flags.BoolVarP(&opts.allNamespaces, "all-namespaces", "A", false,
		"Audit the Secrets and Gateways of every namespace.")
	flags.StringVarP(&opts.output, "output", "o", "", "Output format: json or yaml (default: text).")
	flags.BoolVar(&opts.failOnWarning, "fail-on-warning", false,
		"Exit with status 1 when a rule warns and none denies.")
	flags.StringSliceVar(&opts.gatewayNamespaces, "gateway-namespaces", defaultGatewayNamespaces,
		"Namespaces where an Istio Gateway's credentials are checked when its selector matches no pod "+
			"(the webhook's flag of the same name).")
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

	scope := ""
	if !opts.allNamespaces {
		if scope, _, err = s.namespace(); err != nil {
			return err
		}
	}
	items, err := collectItems(cmd, s, opts.policy, now, opts.allNamespaces)
	if err != nil {
		return err
	}
	gateways, err := auditGatewaysIn(cmd, s, opts, now, scope)
	if err != nil {
		return err
	}
	report := buildReport(items, gateways, now)
	if opts.output != "" {
		err = writeStructured(s.streams.Out, opts.output, report)
	} else {
		err = writeAuditText(s.streams.Out, s.color(), report, auditScope(scope))
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

// auditScope names what audit read: a namespace, or all of them for "".
func auditScope(namespace string) string {
	if namespace != "" {
		return "namespace " + namespace
	}
	return "all namespaces"
}

func auditGatewaysIn(cmd *cobra.Command, s *settings, opts *auditOptions, now time.Time,
	namespace string) ([]gatewayObjectFindings, error) {
	client, err := s.clusterClient()
	if err != nil {
		return nil, err
	}
	auditor := &gatewayAuditor{
		client: client, ctx: cmd.Context(), policy: opts.policy, now: now,
		fallbackNamespaces: opts.gatewayNamespaces, warn: s.streams.ErrOut,
		workloads: map[string]*podWorkload{},
	}
	return auditor.auditGateways(namespace)
}

// buildReport sums up the checked Secrets and Gateways and lists those
// with findings: Secrets first, then Gateways, each by namespace and name.
func buildReport(items []certificateItem, gateways []gatewayObjectFindings, now time.Time) auditReport {
	sortItems(items, "name")
	report := auditReport{APIVersion: outputAPIVersion, Kind: "AuditReport", Time: now.UTC(), Objects: []auditObject{}}
	var counts tally
	for _, item := range items {
		counts.add(item.findings)
		report.addObject("Secret", item.Namespace, item.Name, item.findings)
	}
	sort.SliceStable(gateways, func(i, j int) bool {
		a, b := gateways[i], gateways[j]
		return a.kind+"\x00"+a.namespace+"\x00"+a.name < b.kind+"\x00"+b.namespace+"\x00"+b.name
	})
	for _, gateway := range gateways {
		counts.add(gateway.findings)
		report.addObject(gateway.kind, gateway.namespace, gateway.name, gateway.findings)
	}
	report.Summary = auditSummary{
		Secrets: len(items), Gateways: len(gateways),
		Checked: counts.checked, Denied: counts.denied, Warned: counts.warned, Passed: counts.passed,
	}
	return report
}

func (r *auditReport) addObject(kind, namespace, name string, findings validate.Findings) {
	if len(findings) == 0 {
		return
	}
	result := string(validate.Warn)
	if len(findings.Denials()) > 0 {
		result = string(validate.Deny)
	}
	r.Objects = append(r.Objects, auditObject{
		Kind: kind, Namespace: namespace, Name: name,
		Result: result, Findings: toFindingOutputs(findings), findings: findings,
	})
}

func writeAuditText(w io.Writer, color bool, report auditReport, scope string) error {
	sum := report.Summary
	fmt.Fprintf(w, "Audited %s and %s in %s at %s: %d denied, %d with warnings only, %d passed.\n",
		plural(sum.Secrets, "certificate Secret", "certificate Secrets"), plural(sum.Gateways, "Gateway", "Gateways"),
		scope, report.Time.Format(time.RFC3339), sum.Denied, sum.Warned, sum.Passed)
	for _, object := range report.Objects {
		fmt.Fprintf(w, "\n%s %s/%s\n", object.Kind, object.Namespace, object.Name)
		for _, f := range object.findings {
			writeFinding(w, color, f, locationInObject(f))
		}
	}
	return nil
}
