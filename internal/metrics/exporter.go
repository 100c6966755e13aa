package metrics

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
)

// DefaultRescanInterval is how often the file source globs and reads its
// paths again in case a file system event was missed.
const DefaultRescanInterval = time.Minute

// Options configure an Exporter.
type Options struct {
	// Config connects to the API server that the Secrets are read from;
	// nil disables the Secret sources.
	Config  *rest.Config
	Secrets SecretOptions
	// IstioSecrets also watches Secrets of other types than
	// kubernetes.io/tls for Istio's keys (cert, cacert, ca.crt).
	IstioSecrets bool
	// Paths are globs of PEM files to read.
	Paths          []string
	RescanInterval time.Duration
	Build          BuildInfo
	// RuntimeMetrics adds the Go runtime and process collectors.
	RuntimeMetrics bool
	// Clock defaults to the real clock.
	Clock  clock.Clock
	Logger logr.Logger
}

// sourceDeps are the parser, State, self metrics and logger that every
// source shares.
type sourceDeps struct {
	parser *parser
	state  *State
	self   *selfMetrics
	logger logr.Logger
}

// Exporter reads certificates from its sources into a State and serves
// them as metrics.
type Exporter struct {
	state   *State
	self    *prometheus.Registry
	secrets []*secretSource
	files   *fileSource
	logger  logr.Logger
}

// New builds an Exporter; Run starts its sources.
func New(opts Options) (*Exporter, error) {
	if opts.Config == nil && len(opts.Paths) == 0 {
		return nil, errors.New("no source: give a Kubernetes client configuration or at least one path")
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.RescanInterval <= 0 {
		opts.RescanInterval = DefaultRescanInterval
	}
	e := &Exporter{state: NewState(), self: prometheus.NewRegistry(), logger: opts.Logger}
	if opts.RuntimeMetrics {
		e.self.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}

	sources := enabledSources(opts)
	deps := sourceDeps{parser: newParser(), state: e.state, logger: opts.Logger,
		self: newSelfMetrics(e.self, e.state, opts.Build, opts.Clock, sources)}
	return e, e.addSources(opts, sources, deps)
}

func enabledSources(opts Options) []string {
	var sources []string
	if opts.Config != nil {
		sources = append(sources, sourceSecret)
		if opts.IstioSecrets {
			sources = append(sources, sourceIstioSecret)
		}
	}
	if len(opts.Paths) > 0 {
		sources = append(sources, sourceFile)
	}
	return sources
}

func (e *Exporter) addSources(opts Options, sources []string, deps sourceDeps) error {
	var clients secretClients
	if opts.Config != nil {
		var err error
		if clients, err = newSecretClients(opts.Config); err != nil {
			return err
		}
	}
	for _, source := range sources {
		if source == sourceFile {
			files, err := newFileSource(opts.Paths, opts.RescanInterval, deps)
			if err != nil {
				return err
			}
			e.files = files
			continue
		}
		secrets, err := newSecretSource(clients, source, opts.Secrets, deps)
		if err != nil {
			return err
		}
		e.secrets = append(e.secrets, secrets)
	}
	return nil
}

// Run runs the sources until ctx ends.
func (e *Exporter) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, secrets := range e.secrets {
		wg.Go(func() { secrets.run(ctx) })
	}
	if e.files != nil {
		wg.Go(func() { e.files.run(ctx) })
	}
	wg.Wait()
}

// Ready reports whether every informer has synced and the files were read.
func (e *Exporter) Ready() bool {
	for _, secrets := range e.secrets {
		if !secrets.hasSynced() {
			return false
		}
	}
	return e.files == nil || e.files.synced.Load()
}
