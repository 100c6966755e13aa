package mirror

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/pflag"
)

// Options configure the mirror controller. Start from DefaultOptions, then
// call AddFlags and set Namespace.
type Options struct {
	// Namespace holds the peer-cluster kubeconfig Secrets. The webhook sets
	// it from its own --namespace flag, so AddFlags does not register it.
	Namespace string
	// ClusterID names this cluster in the copies it writes. Empty means the
	// UID of the kube-system namespace.
	ClusterID string
	// CreateNamespaces creates a missing namespace on a peer before
	// copying into it. When false a missing namespace is a sync error.
	CreateNamespaces bool
	// PeerWorkers is the number of Secrets synced to one peer at once.
	PeerWorkers int
	// PeerQPS and PeerBurst limit the requests sent to one peer.
	PeerQPS   float32
	PeerBurst int
	// PeerTimeout bounds each request to a peer.
	PeerTimeout time.Duration
	// SweepInterval is the period of the full resync per peer, which also
	// deletes copies whose source is gone.
	SweepInterval time.Duration
	// HealthInterval is the period of the health check per peer.
	HealthInterval time.Duration
	// RetryBaseDelay and RetryMaxDelay bound the exponential backoff of a
	// Secret that failed to sync to a peer.
	RetryBaseDelay time.Duration
	RetryMaxDelay  time.Duration
}

// DefaultOptions returns the options the flags default to.
func DefaultOptions() Options {
	return Options{
		PeerWorkers:    4,
		PeerQPS:        50,
		PeerBurst:      100,
		PeerTimeout:    10 * time.Second,
		SweepInterval:  5 * time.Minute,
		HealthInterval: 15 * time.Second,
		RetryBaseDelay: 100 * time.Millisecond,
		RetryMaxDelay:  2 * time.Minute,
	}
}

// AddFlags registers the mirror flags on fs, with o's values as defaults.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.ClusterID, "cluster-id", o.ClusterID,
		"Identity of this cluster in the copies it writes and in source precedence (default: UID of the kube-system namespace).")
	fs.BoolVar(&o.CreateNamespaces, "mirror-create-namespaces", o.CreateNamespaces,
		"Create a namespace on a peer cluster when a mirrored Secret's namespace is missing there.")
	fs.IntVar(&o.PeerWorkers, "mirror-peer-workers", o.PeerWorkers,
		"Secrets synced to one peer cluster at once.")
	fs.Float32Var(&o.PeerQPS, "mirror-peer-qps", o.PeerQPS,
		"Requests per second sent to one peer cluster.")
	fs.IntVar(&o.PeerBurst, "mirror-peer-burst", o.PeerBurst,
		"Burst of requests sent to one peer cluster.")
	fs.DurationVar(&o.PeerTimeout, "mirror-peer-timeout", o.PeerTimeout,
		"Timeout of each request to a peer cluster.")
	fs.DurationVar(&o.SweepInterval, "mirror-sweep-interval", o.SweepInterval,
		"Period of the full resync per peer, which also deletes copies whose source is gone.")
	fs.DurationVar(&o.HealthInterval, "mirror-health-interval", o.HealthInterval,
		"Period of the health check of each peer cluster.")
	fs.DurationVar(&o.RetryBaseDelay, "mirror-retry-base-delay", o.RetryBaseDelay,
		"First delay before a failed sync to a peer is retried; it doubles on each failure.")
	fs.DurationVar(&o.RetryMaxDelay, "mirror-retry-max-delay", o.RetryMaxDelay,
		"Maximum delay between retries of a failed sync to a peer.")
}

// Validate returns an error that lists every invalid option.
func (o Options) Validate() error {
	var errs []error
	if o.Namespace == "" {
		errs = append(errs, errors.New("mirror namespace is empty: set --namespace or POD_NAMESPACE"))
	}
	if o.PeerWorkers < 1 {
		errs = append(errs, fmt.Errorf("invalid --mirror-peer-workers %d: must be at least 1", o.PeerWorkers))
	}
	if o.PeerQPS <= 0 || o.PeerBurst < 1 {
		errs = append(errs, fmt.Errorf("invalid --mirror-peer-qps %v or --mirror-peer-burst %d: both must be positive", o.PeerQPS, o.PeerBurst))
	}
	for name, d := range map[string]time.Duration{
		"--mirror-peer-timeout":     o.PeerTimeout,
		"--mirror-sweep-interval":   o.SweepInterval,
		"--mirror-health-interval":  o.HealthInterval,
		"--mirror-retry-base-delay": o.RetryBaseDelay,
		"--mirror-retry-max-delay":  o.RetryMaxDelay,
	} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("invalid %s %v: must be positive", name, d))
		}
	}
	if len(o.ClusterID) > 63 {
		errs = append(errs, fmt.Errorf("invalid --cluster-id %q: longer than 63 characters, the limit of a label value", o.ClusterID))
	}
	return errors.Join(errs...)
}
