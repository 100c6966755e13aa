package mirror

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/cluster"

	"github.com/meshcert/meshcert/internal/logging"
	"github.com/meshcert/meshcert/internal/wellknown"
)

// peer syncs the sources of this cluster to one peer cluster. Its queue,
// backoff, confirmations and metrics outlive any one connection, so a
// rotated kubeconfig swaps the connection and keeps the rest.
type peer struct {
	name   string
	m      *Mirror
	scheme *runtime.Scheme
	log    logr.Logger
	queue  workqueue.TypedRateLimitingInterface[types.NamespacedName]

	ctx     context.Context
	cancel  context.CancelFunc
	workers sync.WaitGroup

	mu   sync.Mutex
	conn *connection
	// dialing cancels the connection attempt in progress, if any.
	dialing     context.CancelFunc
	dialingHash string
	connected   chan struct{}
	connectOnce sync.Once
	// rejected is set when the peer turns out to be this cluster.
	rejected atomic.Bool
	healthy  atomic.Bool

	// confirmed maps a source key to the resourceVersion of the source
	// whose copy this peer removed or orphaned.
	confirmed sync.Map
	// changed maps a source key to the time its change was first seen.
	changed sync.Map
	// conflicts holds the source keys in conflict on this peer.
	conflicts     sync.Map
	conflictCount atomic.Int64
}

func newPeer(m *Mirror, scheme *runtime.Scheme, name string) *peer {
	limiter := workqueue.NewTypedItemExponentialFailureRateLimiter[types.NamespacedName](m.opts.RetryBaseDelay, m.opts.RetryMaxDelay)
	return &peer{
		name:   name,
		m:      m,
		scheme: scheme,
		log:    m.log.WithValues("peer", name),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(limiter, workqueue.TypedRateLimitingQueueConfig[types.NamespacedName]{
			Name: "mirror-" + name,
		}),
		connected: make(chan struct{}),
	}
}

// start connects to the peer and runs its workers and periodic tasks.
func (p *peer) start(ctx context.Context, config peerConfig) {
	p.ctx, p.cancel = context.WithCancel(ctx)
	p.log.Info("Starting peer", "secret", config.secret)
	peerUp.WithLabelValues(p.name).Set(0)
	peerConflicts.WithLabelValues(p.name).Set(0)
	p.reconnect(config)
	for range p.m.opts.PeerWorkers {
		p.workers.Go(p.runWorker)
	}
	p.workers.Go(p.runPeriodic)
}

// stop ends the workers and the connection and drops the peer's metrics.
func (p *peer) stop() {
	p.cancel()
	p.queue.ShutDown()
	p.workers.Wait()
	p.mu.Lock()
	if p.dialing != nil {
		p.dialing()
	}
	if p.conn != nil {
		p.conn.cancel()
	}
	p.mu.Unlock()
	deletePeerMetrics(p.name)
	p.log.Info("Stopped peer")
}

// current returns the connection in use, or nil before the first one.
func (p *peer) current() *connection {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conn
}

func (p *peer) enqueueChange(key types.NamespacedName) {
	p.changed.LoadOrStore(key, time.Now())
	p.queue.Add(key)
}

func (p *peer) hasConfirmed(key types.NamespacedName, resourceVersion string) bool {
	if p.rejected.Load() {
		return true
	}
	confirmed, ok := p.confirmed.Load(key)
	return ok && confirmed == resourceVersion
}

func (p *peer) runWorker() {
	select {
	case <-p.connected:
	case <-p.ctx.Done():
		return
	}
	for p.processNext() {
	}
}

func (p *peer) processNext() bool {
	key, shutdown := p.queue.Get()
	if shutdown {
		return false
	}
	defer p.queue.Done(key)
	err := p.sync(p.ctx, key)
	p.handleResult(key, err)
	return true
}

// runPeriodic sweeps and checks health until the peer stops.
func (p *peer) runPeriodic() {
	sweep := time.NewTicker(p.m.opts.SweepInterval)
	defer sweep.Stop()
	health := time.NewTicker(p.m.opts.HealthInterval)
	defer health.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-sweep.C:
			p.resync(p.ctx)
		case <-health.C:
			p.checkHealth(p.ctx)
		}
	}
}

// resync queues every copy this cluster holds on the peer and every local
// source. The workers delete copies whose source is gone or unlabelled,
// and write only what differs, so a resync of unchanged Secrets sends no
// request to the peer.
func (p *peer) resync(ctx context.Context) {
	conn := p.current()
	if conn == nil {
		return
	}
	var copies corev1.SecretList
	if err := conn.client.List(ctx, &copies, client.MatchingLabels{
		wellknown.ManagedByLabel:     wellknown.ManagedByMirror,
		wellknown.SourceClusterLabel: p.m.clusterID,
	}); err != nil {
		p.log.Error(err, "Failed to list copies in the peer cache")
		return
	}
	for i := range copies.Items {
		p.queue.Add(client.ObjectKeyFromObject(&copies.Items[i]))
	}
	peerCopies.WithLabelValues(p.name).Set(float64(len(copies.Items)))

	var sources corev1.SecretList
	if err := p.m.local.List(ctx, &sources, client.MatchingLabels{wellknown.MirrorLabel: wellknown.True}); err != nil {
		p.log.Error(err, "Failed to list local sources")
		return
	}
	for i := range sources.Items {
		p.queue.Add(client.ObjectKeyFromObject(&sources.Items[i]))
	}
	p.log.V(logging.Debug).Info("Queued resync", "copies", len(copies.Items), "sources", len(sources.Items))
}

// checkHealth reads the peer's kube-system namespace and records whether
// the request succeeded.
func (p *peer) checkHealth(ctx context.Context) {
	conn := p.current()
	if conn == nil {
		return
	}
	_, err := kubeSystemUID(ctx, conn.reader, p.m.opts.PeerTimeout)
	p.setHealthy(err == nil, err)
}

func (p *peer) setHealthy(healthy bool, err error) {
	value := 0.0
	if healthy {
		value = 1
	}
	peerUp.WithLabelValues(p.name).Set(value)
	if p.healthy.Swap(healthy) == healthy {
		return
	}
	if healthy {
		p.log.Info("Peer is reachable")
	} else {
		p.log.Error(err, "Peer is unreachable")
	}
}

// newCluster builds the controller-runtime cluster of one connection. Its
// cache holds only this cluster's copies, so memory grows with the copies
// and not with every Secret on the peer.
func (p *peer) newCluster(config peerConfig) (cluster.Cluster, error) {
	restConfig := restConfigFor(config, p.m.opts)
	return cluster.New(restConfig, func(o *cluster.Options) {
		o.Scheme = p.scheme
		o.Logger = p.log
		o.Cache.ByObject = copyCacheSelector(p.m.clusterID)
		o.Client.Cache = &client.CacheOptions{DisableFor: []client.Object{&corev1.Namespace{}}}
	})
}
