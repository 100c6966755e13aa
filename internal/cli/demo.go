package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/meshcert/meshcert/internal/demo"
)

func newDemoCommand(s *settings) *cobra.Command {
	var opts demo.Options
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole system on two local control planes and walk through an operator's day",
		Long: "demo starts two local API servers, the webhook and the exporter from --bin-dir, and " +
			"runs each step of an operator's day against them, checking that every step behaves " +
			"as described. It needs the kube-apiserver and etcd test binaries ('make tools').",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := defaultDemoPaths(&opts); err != nil {
				return err
			}
			opts.Out = s.streams.Out
			return demo.Run(cmd.Context(), opts)
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&opts.BinDir, "bin-dir", "",
		"Folder with the webhook, exporter and meshcert binaries (default: the folder of this executable).")
	flags.StringSliceVar(&opts.WebhookConfigs, "webhook-config",
		[]string{"config/webhook/webhooks.yaml", "config/webhook/gateways.yaml"},
		"Files with the webhook configurations to install (repeatable).")
	flags.StringVar(&opts.AlertRules, "alert-rules", "dashboards/alerts.yaml",
		"Prometheus rules file to evaluate on the exporter's metrics.")
	flags.StringVar(&opts.RuleEvaluator, "rule-evaluator", "",
		"Program that evaluates the alert rules (default: alerteval in --bin-dir).")
	flags.BoolVar(&opts.KeepDir, "keep", false,
		"Keep the working folder with the kubeconfigs and logs after the run.")
	return cmd
}

// defaultDemoPaths fills the defaults that depend on the executable.
func defaultDemoPaths(opts *demo.Options) error {
	if opts.BinDir == "" {
		executable, err := os.Executable()
		if err != nil {
			return fmt.Errorf("locate the meshcert executable for --bin-dir: %w", err)
		}
		opts.BinDir = filepath.Dir(executable)
	}
	if opts.RuleEvaluator == "" {
		opts.RuleEvaluator = filepath.Join(opts.BinDir, "alerteval")
	}
	return nil
}
