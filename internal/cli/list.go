package cli

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshcert/meshcert/internal/validate"
)

type listOptions struct {
	policy        validate.Policy
	allNamespaces bool
	output        string
	sortBy        string
}

// certificateList is the document 'list -o json|yaml' prints.
type certificateList struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Items      []certificateItem `json:"items"`
}

func newListCommand(s *settings) *cobra.Command {
	opts := &listOptions{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the certificate Secrets with their expiry, status, mirroring and Gateways",
		Example: "  meshcert list -A --sort-by=expiry\n" +
			"  meshcert list -n istio-system -o wide",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runList(cmd, s, opts)
		},
	}
	flags := cmd.Flags()
	opts.policy.AddFlags(flags)
	flags.BoolVarP(&opts.allNamespaces, "all-namespaces", "A", false, "List the Secrets of every namespace.")
	flags.StringVarP(&opts.output, "output", "o", "", "Output format: wide, json or yaml (default: a table).")
	flags.StringVar(&opts.sortBy, "sort-by", "name", "Sort by name (namespace, then name) or expiry (soonest first).")
	return cmd
}

func validateOutput(output string, allowed ...string) error {
	if output == "" || slices.Contains(allowed, output) {
		return nil
	}
	return fmt.Errorf("invalid --output %q: use %s", output, strings.Join(allowed, ", "))
}

func runList(cmd *cobra.Command, s *settings, opts *listOptions) error {
	if err := validateOutput(opts.output, "wide", "json", "yaml"); err != nil {
		return err
	}
	if opts.sortBy != "name" && opts.sortBy != "expiry" {
		return fmt.Errorf("invalid --sort-by %q: use name or expiry", opts.sortBy)
	}
	if err := opts.policy.Validate(); err != nil {
		return err
	}
	now, err := s.now()
	if err != nil {
		return err
	}
	items, err := collectItems(cmd, s, opts.policy, now, opts.allNamespaces)
	if err != nil {
		return err
	}
	sortItems(items, opts.sortBy)

	switch opts.output {
	case "json", "yaml":
		return writeStructured(s.streams.Out, opts.output,
			certificateList{APIVersion: outputAPIVersion, Kind: "CertificateList", Items: items})
	default:
		if len(items) == 0 {
			fmt.Fprintf(s.streams.ErrOut, "No certificate Secrets found%s.\n", inNamespace(scope(s, opts.allNamespaces)))
			return nil
		}
		return listTable(items, opts.allNamespaces, opts.output == "wide", s.color()).write(s.streams.Out, s.terminal())
	}
}

// scope returns the namespace to read, "" for all namespaces.
func scope(s *settings, all bool) string {
	if all {
		return ""
	}
	namespace, _, _ := s.namespace()
	return namespace
}

// collectItems reads the certificate Secrets and the Gateways of the
// namespace (or of all) and summarizes each Secret.
func collectItems(cmd *cobra.Command, s *settings, policy validate.Policy, now time.Time, all bool) ([]certificateItem, error) {
	namespace := ""
	if !all {
		ns, _, err := s.namespace()
		if err != nil {
			return nil, err
		}
		namespace = ns
	}
	client, err := s.clusterClient()
	if err != nil {
		return nil, err
	}
	ctx := cmd.Context()
	secrets, err := client.certificateSecrets(ctx, namespace)
	if err != nil {
		return nil, err
	}
	usages, err := client.gatewayUsage(ctx, namespace, s.streams.ErrOut)
	if err != nil {
		return nil, err
	}
	items := make([]certificateItem, 0, len(secrets))
	for i := range secrets {
		items = append(items, summarize(&secrets[i], policy, now, usages))
	}
	return items, nil
}

func sortItems(items []certificateItem, by string) {
	slices.SortStableFunc(items, func(a, b certificateItem) int {
		if by == "expiry" {
			if order := compareExpiry(a, b); order != 0 {
				return order
			}
		}
		if order := strings.Compare(a.Namespace, b.Namespace); order != 0 {
			return order
		}
		return strings.Compare(a.Name, b.Name)
	})
}

// compareExpiry orders by not-after, Secrets without one last.
func compareExpiry(a, b certificateItem) int {
	switch {
	case a.NotAfter == nil && b.NotAfter == nil:
		return 0
	case a.NotAfter == nil:
		return 1
	case b.NotAfter == nil:
		return -1
	default:
		return a.NotAfter.Compare(*b.NotAfter)
	}
}

func listTable(items []certificateItem, withNamespace, wide, color bool) table {
	t := table{header: []string{"NAME", "SUBJECT", "ISSUER", "NOT AFTER", "DAYS LEFT", "STATUS", "MIRROR", "USED BY"}}
	if wide {
		t.header = append(t.header, "TYPE", "KEY", "DNS NAMES", "FINDINGS")
	}
	if withNamespace {
		t.header = append([]string{"NAMESPACE"}, t.header...)
	}
	for _, item := range items {
		row := []string{item.Name, item.Subject, item.Issuer, formatDate(item.NotAfter), formatDays(item.DaysLeft),
			paintStatus(color, item.Status), mirrorCell(item.Mirror, wide), usedByCell(item, wide)}
		if wide {
			row = append(row, item.Type, keyCell(item), strings.Join(item.DNSNames, ","), findingsCell(item.findings))
		}
		if withNamespace {
			row = append([]string{item.Namespace}, row...)
		}
		t.rows = append(t.rows, row)
	}
	return t
}

func formatDate(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func formatDays(days *int) string {
	if days == nil {
		return ""
	}
	return strconv.Itoa(*days)
}

func paintStatus(color bool, status string) string {
	switch status {
	case statusValid:
		return paint(color, colorGreen, status)
	case statusExpiring:
		return paint(color, colorYellow, status)
	default:
		return paint(color, colorRed, status)
	}
}

func mirrorCell(m *mirrorInfo, wide bool) string {
	switch {
	case m == nil:
		return ""
	case m.Role == "source":
		return "to peers"
	case wide && m.SourceName != "":
		return fmt.Sprintf("from %s:%s/%s", m.SourceCluster, m.SourceNamespace, m.SourceName)
	default:
		return "from " + m.SourceCluster
	}
}

func usedByCell(item certificateItem, wide bool) string {
	names := make([]string, 0, len(item.UsedBy))
	for _, u := range item.UsedBy {
		name := u.shortName(item.Namespace, wide)
		if u.Role == usageCA {
			name += "(ca)"
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return strings.Join(names, ",")
}

func keyCell(item certificateItem) string {
	if item.KeyAlgorithm == "" || item.KeyBits == 0 || strings.Contains(item.KeyAlgorithm, " ") {
		return item.KeyAlgorithm
	}
	return fmt.Sprintf("%s %d", item.KeyAlgorithm, item.KeyBits)
}

func findingsCell(findings validate.Findings) string {
	denials, warnings := len(findings.Denials()), len(findings.Warnings())
	if denials+warnings == 0 {
		return ""
	}
	return fmt.Sprintf("%d deny, %d warn", denials, warnings)
}
