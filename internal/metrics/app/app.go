// Package app wires the exporter's flags to internal/metrics, so that
// cmd/exporter stays a few lines.
package app

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/meshcert/meshcert/internal/logging"
	"github.com/meshcert/meshcert/internal/metrics"
	"github.com/meshcert/meshcert/internal/version"
)

// Options are the exporter's command-line flags.
type Options struct {
	Logging        logging.Options
	ListenAddress  string
	TelemetryPath  string
	Kubernetes     bool
	Kubeconfig     string
	QPS            float32
	Burst          int
	Secrets        metrics.SecretOptions
	IstioSecrets   bool
	Paths          []string
	RescanInterval time.Duration
}

// AddFlags registers the flags on fs.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	o.Logging.AddFlags(fs)
	fs.StringVar(&o.ListenAddress, "web.listen-address", ":9219", "Address to serve metrics, /healthz and /readyz on.")
	fs.StringVar(&o.TelemetryPath, "web.telemetry-path", "/metrics", "Path to serve metrics under.")
	fs.BoolVar(&o.Kubernetes, "kubernetes", true,
		"Watch Secrets through the Kubernetes API. When --path is given and neither this flag nor --kubeconfig is, "+
			"only files are read.")
	fs.StringVar(&o.Kubeconfig, "kubeconfig", "",
		"Path to a kubeconfig; empty uses the in-cluster configuration, then $KUBECONFIG and ~/.kube/config.")
	fs.Float32Var(&o.QPS, "kube-api-qps", 20,
		"Requests per second to the Kubernetes API, sustained; the initial sync reads Secrets in pages of 500.")
	fs.IntVar(&o.Burst, "kube-api-burst", 40, "Requests to the Kubernetes API allowed at once above --kube-api-qps.")
	fs.StringSliceVar(&o.Secrets.NamespaceInclude, "namespace-include", nil,
		"Namespaces to watch (repeatable or comma-separated); empty watches every namespace.")
	fs.StringSliceVar(&o.Secrets.NamespaceExclude, "namespace-exclude", nil,
		"Namespaces to skip (repeatable or comma-separated), filtered by the API server.")
	fs.StringVar(&o.Secrets.LabelSelector, "label-selector", "", "Label selector the watched Secrets must match.")
	fs.BoolVar(&o.IstioSecrets, "istio-secrets", false,
		"Also watch Secrets of other types than kubernetes.io/tls for Istio's keys (cert, cacert, ca.crt). "+
			"This lists every such Secret once; narrow it with --label-selector or the namespace flags.")
	fs.StringArrayVar(&o.Paths, "path", nil, "Glob of PEM files to read and watch (repeatable).")
	fs.DurationVar(&o.RescanInterval, "path.rescan-interval", metrics.DefaultRescanInterval,
		"How often to glob and read --path again, in case a file event was missed.")
}

// Run starts the exporter and serves it until ctx ends.
func Run(ctx context.Context, o *Options, fs *pflag.FlagSet) error {
	logger, err := logging.New(o.Logging)
	if err != nil {
		return err
	}
	if !fs.Changed("kubernetes") && len(o.Paths) > 0 && o.Kubeconfig == "" {
		o.Kubernetes = false
	}
	if err := o.validate(); err != nil {
		return err
	}

	v, commit := version.Get()
	logger.Info("Starting exporter", "version", v, "commit", commit, "kubernetes", o.Kubernetes,
		"istioSecrets", o.IstioSecrets, "paths", o.Paths)
	exporter, err := newExporter(o, logger, metrics.BuildInfo{Version: v, Commit: commit, GoVersion: runtime.Version()})
	if err != nil {
		return err
	}
	return serve(ctx, exporter, o, logger)
}

// validate rejects flag values that would otherwise fail late, such as a
// telemetry path that makes the handler panic or a namespace that widens
// or stalls the watch. It also removes repeated namespaces.
func (o *Options) validate() error {
	if o.RescanInterval < 0 {
		return fmt.Errorf("invalid --path.rescan-interval %s: it must not be negative", o.RescanInterval)
	}
	path := o.TelemetryPath
	if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, "{} \t") || path == "/healthz" || path == "/readyz" {
		return fmt.Errorf("invalid --web.telemetry-path %q: it must start with /, must not contain braces or whitespace, "+
			"and must differ from /healthz and /readyz", path)
	}
	if !o.Kubernetes {
		return nil
	}

	// NaN fails every comparison, so the check is written to reject it.
	if !(o.QPS > 0) || o.Burst < 1 {
		return fmt.Errorf("invalid --kube-api-qps %v or --kube-api-burst %d: both must be positive", o.QPS, o.Burst)
	}
	if o.Secrets.LabelSelector != "" {
		if _, err := labels.Parse(o.Secrets.LabelSelector); err != nil {
			return fmt.Errorf("invalid --label-selector %q: %w", o.Secrets.LabelSelector, err)
		}
	}

	var err error
	if o.Secrets.NamespaceInclude, err = namespaceList("--namespace-include", o.Secrets.NamespaceInclude); err != nil {
		return err
	}
	if o.Secrets.NamespaceExclude, err = namespaceList("--namespace-exclude", o.Secrets.NamespaceExclude); err != nil {
		return err
	}
	for _, namespace := range o.Secrets.NamespaceInclude {
		if slices.Contains(o.Secrets.NamespaceExclude, namespace) {
			return fmt.Errorf("namespace %q is in both --namespace-include and --namespace-exclude: "+
				"give it in one of them", namespace)
		}
	}
	return nil
}

// namespaceList returns the namespaces of flag without repeats. It
// rejects an empty entry, which a trailing comma leaves, because the API
// reads the empty namespace as every namespace.
func namespaceList(flag string, namespaces []string) ([]string, error) {
	var out []string
	for _, namespace := range namespaces {
		if problems := validation.IsDNS1123Label(namespace); len(problems) > 0 {
			return nil, fmt.Errorf("invalid %s namespace %q: %s", flag, namespace, strings.Join(problems, "; "))
		}
		if !slices.Contains(out, namespace) {
			out = append(out, namespace)
		}
	}
	return out, nil
}

func newExporter(o *Options, logger logr.Logger, build metrics.BuildInfo) (*metrics.Exporter, error) {
	opts := metrics.Options{
		Secrets: o.Secrets, IstioSecrets: o.IstioSecrets, Paths: o.Paths, RescanInterval: o.RescanInterval,
		Build: build, RuntimeMetrics: true, Logger: logger,
	}
	if o.Kubernetes {
		config, err := loadConfig(o.Kubeconfig)
		if err != nil {
			return nil, err
		}
		config = rest.CopyConfig(config)
		config.UserAgent = "meshcert-exporter"
		config.QPS, config.Burst = o.QPS, o.Burst
		opts.Config = config
	}
	return metrics.New(opts)
}

func serve(ctx context.Context, exporter *metrics.Exporter, o *Options, logger logr.Logger) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		exporter.Run(ctx)
	}()
	err := exporter.Serve(ctx, metrics.ServerOptions{Address: o.ListenAddress, TelemetryPath: o.TelemetryPath})
	cancel()
	<-done
	if err != nil {
		logger.Error(err, "Exporter failed")
		return loggedError{err}
	}
	logger.Info("Stopped exporter")
	return nil
}

// loggedError marks an error that Run has already logged.
type loggedError struct{ error }

func (e loggedError) Unwrap() error { return e.error }

// Logged reports whether Run has already logged err, so the caller need
// not print it again.
func Logged(err error) bool {
	var logged loggedError
	return errors.As(err, &logged)
}

func loadConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		config, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("load --kubeconfig %s: %w", kubeconfig, err)
		}
		return config, nil
	}
	if config, err := rest.InClusterConfig(); err == nil {
		return config, nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	config, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, nil).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("load Kubernetes configuration (in-cluster, $KUBECONFIG, ~/.kube/config): %w; "+
			"give --kubeconfig, or --kubernetes=false to read only --path files", err)
	}
	return config, nil
}
