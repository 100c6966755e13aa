package mirror

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/cluster"

	"github.com/meshcert/meshcert/internal/version"
	"github.com/meshcert/meshcert/internal/wellknown"
)

// connection is one kubeconfig's client and cache for a peer.
type connection struct {
	client client.Client
	reader client.Reader
	hash   string
	cancel context.CancelFunc
}

func restConfigFor(config peerConfig, opts Options) *rest.Config {
	restConfig := rest.CopyConfig(config.config)
	restConfig.QPS = opts.PeerQPS
	restConfig.Burst = opts.PeerBurst
	v, _ := version.Get()
	restConfig.UserAgent = "meshcert-mirror/" + v
	return restConfig
}

func copyCacheSelector(clusterID string) map[client.Object]cache.ByObject {
	selector := labels.SelectorFromSet(labels.Set{
		wellknown.ManagedByLabel:     wellknown.ManagedByMirror,
		wellknown.SourceClusterLabel: clusterID,
	})
	return map[client.Object]cache.ByObject{&corev1.Secret{}: {Label: selector}}
}

// reconnect starts connecting with config unless the connection in use or
// the one being dialled already has this kubeconfig. The connection in
// use keeps serving until the new one has synced its cache.
func (p *peer) reconnect(config peerConfig) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dialing != nil && p.dialingHash == config.hash {
		return
	}
	if p.dialing == nil && p.conn != nil && p.conn.hash == config.hash {
		return
	}
	if p.dialing != nil {
		p.dialing()
	}
	if p.conn != nil {
		p.log.Info("Peer kubeconfig changed, reconnecting", "secret", config.secret)
	}
	ctx, cancel := context.WithCancel(p.ctx)
	p.dialing, p.dialingHash = cancel, config.hash
	go p.dial(ctx, cancel, config)
}

// dial builds and starts a cluster for config, checks that the peer is not
// this cluster, waits for the copy cache, then puts the connection in use.
func (p *peer) dial(ctx context.Context, cancelDial context.CancelFunc, config peerConfig) {
	defer cancelDial()
	cl, err := p.newCluster(config)
	if err != nil {
		p.log.Error(err, "Failed to build peer client; fix the kubeconfig in the peer Secret", "secret", config.secret)
		return
	}
	if !p.checkIdentity(ctx, cl) {
		return
	}
	// The cluster runs for the peer's lifetime, not the dial's, unless the
	// dial fails or is superseded before the connection is in use.
	clusterCtx, stopCluster := context.WithCancel(p.ctx)
	go func() {
		if err := cl.Start(clusterCtx); err != nil {
			p.log.Error(err, "Peer cache stopped with error")
		}
	}()
	if err := p.watchCopies(ctx, cl); err != nil {
		stopCluster()
		if ctx.Err() == nil {
			p.log.Error(err, "Failed to watch copies on peer")
		}
		return
	}
	p.use(ctx, &connection{client: cl.GetClient(), reader: cl.GetAPIReader(), hash: config.hash, cancel: stopCluster})
}

// checkIdentity retries until it reads the peer's kube-system UID, and
// reports false when the dial ended or the peer is this cluster.
func (p *peer) checkIdentity(ctx context.Context, cl cluster.Cluster) bool {
	var uid types.UID
	backoff := wait.Backoff{Duration: time.Second, Factor: 2, Steps: 1 << 30, Cap: 30 * time.Second}
	err := wait.ExponentialBackoffWithContext(ctx, backoff, func(ctx context.Context) (bool, error) {
		var err error
		uid, err = kubeSystemUID(ctx, cl.GetAPIReader(), p.m.opts.PeerTimeout)
		p.setHealthy(err == nil, err)
		return err == nil, nil
	})
	if err != nil {
		return false
	}
	if uid == p.m.localUID {
		p.rejected.Store(true)
		peerUp.WithLabelValues(p.name).Set(0)
		p.log.Error(nil, "Rejected peer: its kubeconfig points at this cluster; remove it from the peer Secret")
		return false
	}
	p.rejected.Store(false)
	return true
}

// watchCopies starts the copy informer, queues the key of every copy event
// so a copy edited or deleted on the peer is restored, and waits for the
// cache to sync.
func (p *peer) watchCopies(ctx context.Context, cl cluster.Cluster) error {
	informer, err := cl.GetCache().GetInformer(ctx, &corev1.Secret{}, cache.BlockUntilSynced(false))
	if err != nil {
		return fmt.Errorf("get Secret informer: %w", err)
	}
	enqueue := func(obj any) {
		if tombstone, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
			obj = tombstone.Obj
		}
		if accessor, err := meta.Accessor(obj); err == nil {
			p.queue.Add(types.NamespacedName{Namespace: accessor.GetNamespace(), Name: accessor.GetName()})
		}
	}
	_, err = informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		DeleteFunc: enqueue,
	})
	if err != nil {
		return fmt.Errorf("add copy event handler: %w", err)
	}
	if !cl.GetCache().WaitForCacheSync(ctx) {
		return fmt.Errorf("wait for copy cache: %w", ctx.Err())
	}
	return nil
}

// use puts a synced connection in use, stops the one it replaces and
// queues a full resync.
func (p *peer) use(ctx context.Context, conn *connection) {
	p.mu.Lock()
	if ctx.Err() != nil {
		p.mu.Unlock()
		conn.cancel()
		return
	}
	old := p.conn
	p.conn = conn
	p.dialing, p.dialingHash = nil, ""
	p.mu.Unlock()
	if old != nil {
		old.cancel()
	}
	p.connectOnce.Do(func() { close(p.connected) })
	p.log.Info("Connected to peer")
	p.resync(ctx)
}
