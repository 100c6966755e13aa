package mirror

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/meshcert/meshcert/internal/wellknown"
)

// peerSet runs one peer per configured cluster. It is a leader-elected
// Runnable: peers run only while this replica leads.
type peerSet struct {
	m      *Mirror
	scheme *runtime.Scheme

	mu    sync.Mutex
	ctx   context.Context
	peers map[string]*peer

	// started closes when Start has run; loaded closes after the peer
	// configuration was read once, so an empty set means no peers.
	started  chan struct{}
	loaded   chan struct{}
	loadOnce sync.Once
}

func newPeerSet(m *Mirror, scheme *runtime.Scheme) *peerSet {
	return &peerSet{
		m:       m,
		scheme:  scheme,
		peers:   map[string]*peer{},
		started: make(chan struct{}),
		loaded:  make(chan struct{}),
	}
}

// NeedLeaderElection makes the peer set run on the leader only.
func (s *peerSet) NeedLeaderElection() bool { return true }

// Start resolves the cluster identity, then runs the peers until ctx ends.
func (s *peerSet) Start(ctx context.Context) error {
	if err := s.m.resolveIdentity(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	s.mu.Lock()
	s.ctx = ctx
	s.mu.Unlock()
	close(s.started)
	s.m.log.Info("Started mirror")

	<-ctx.Done()
	s.mu.Lock()
	peers := s.peers
	s.peers = map[string]*peer{}
	s.mu.Unlock()
	for _, p := range peers {
		p.stop()
	}
	s.m.log.Info("Stopped mirror")
	return nil
}

// enqueue queues key on every peer and records when the change was first
// observed, for the propagation metric.
func (s *peerSet) enqueue(key types.NamespacedName) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.peers {
		p.enqueueChange(key)
	}
}

// unconfirmed returns the peers that have not yet removed their copy of
// this version of the source.
func (s *peerSet) unconfirmed(secret *corev1.Secret) []string {
	key := client.ObjectKeyFromObject(secret)
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for name, p := range s.peers {
		if !p.hasConfirmed(key, secret.ResourceVersion) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// addPeerController watches the Secrets in meshcert's namespace and
// brings the running peers in line with the kubeconfigs they hold.
func (m *Mirror) addPeerController(mgr manager.Manager) error {
	inNamespace := predicate.NewPredicateFuncs(func(obj client.Object) bool {
		return obj.GetNamespace() == m.opts.Namespace
	})
	err := builder.ControllerManagedBy(mgr).
		Named("mirror-peers").
		For(&corev1.Secret{}, builder.WithPredicates(inNamespace)).
		Complete(reconcile.Func(m.reconcilePeers))
	if err != nil {
		return fmt.Errorf("add mirror peer controller: %w", err)
	}
	return nil
}

func (m *Mirror) reconcilePeers(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
	select {
	case <-m.peers.started:
	case <-ctx.Done():
		return reconcile.Result{}, fmt.Errorf("%w: %w", errNotReady, ctx.Err())
	}
	var list corev1.SecretList
	if err := m.local.List(ctx, &list, client.InNamespace(m.opts.Namespace)); err != nil {
		return reconcile.Result{}, fmt.Errorf("list peer Secrets in namespace %s: %w", m.opts.Namespace, err)
	}
	desired := m.desiredPeers(list.Items)
	removed := m.peers.update(desired)
	m.peers.loadOnce.Do(func() { close(m.peers.loaded) })
	if removed {
		m.recheckFinalizers(ctx)
	}
	return reconcile.Result{}, nil
}

// desiredPeers parses every peer Secret. When two Secrets name the same
// cluster, the Secret whose name sorts first wins.
func (m *Mirror) desiredPeers(secrets []corev1.Secret) map[string]peerConfig {
	slices.SortFunc(secrets, func(a, b corev1.Secret) int { return cmp.Compare(a.Name, b.Name) })
	desired := map[string]peerConfig{}
	for i := range secrets {
		secret := &secrets[i]
		if !isPeerSecret(secret) {
			continue
		}
		configs, errs := parsePeerSecret(secret)
		for _, err := range errs {
			m.log.Error(err, "Ignored invalid peer kubeconfig")
			m.recorder.Eventf(secret, nil, corev1.EventTypeWarning, "InvalidPeer", "ConfigurePeer", "%v", err)
		}
		for _, config := range configs {
			if first, ok := desired[config.name]; ok {
				m.log.Error(nil, "Ignored duplicate peer cluster", "peer", config.name, "secret", config.secret, "kept", first.secret)
				continue
			}
			if config.name == m.clusterID {
				m.log.Error(nil, "Ignored peer cluster named after this cluster", "peer", config.name, "secret", config.secret)
				continue
			}
			desired[config.name] = config
		}
	}
	return desired
}

// update starts new peers, reconnects peers whose kubeconfig changed and
// stops removed ones. It reports whether a peer was removed.
func (s *peerSet) update(desired map[string]peerConfig) bool {
	s.mu.Lock()
	var removed []*peer
	for name, p := range s.peers {
		if _, ok := desired[name]; !ok {
			delete(s.peers, name)
			removed = append(removed, p)
		}
	}
	s.start(desired)
	s.mu.Unlock()

	// Stopping waits for the peer's in-flight requests, so it happens
	// outside the lock that fan-out takes.
	for _, p := range removed {
		p.stop()
	}
	return len(removed) > 0
}

// start starts the desired peers that are not running and hands the
// others their current kubeconfig. The caller holds s.mu.
func (s *peerSet) start(desired map[string]peerConfig) {
	for name, config := range desired {
		p, ok := s.peers[name]
		if !ok {
			p = newPeer(s.m, s.scheme, name)
			s.peers[name] = p
			p.start(s.ctx, config)
			continue
		}
		p.reconnect(config)
	}
}

// recheckFinalizers queues every Secret that holds the finalizer for the
// source reconciler, because a removed peer no longer blocks its release.
func (m *Mirror) recheckFinalizers(ctx context.Context) {
	var list corev1.SecretList
	if err := m.local.List(ctx, &list); err != nil {
		m.log.Error(err, "Failed to list Secrets to release finalizers after a peer was removed")
		return
	}
	for i := range list.Items {
		if controllerutil.ContainsFinalizer(&list.Items[i], wellknown.MirrorFinalizer) {
			m.confirm(ctx, client.ObjectKeyFromObject(&list.Items[i]))
		}
	}
}
