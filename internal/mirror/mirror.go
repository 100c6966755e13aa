package mirror

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/recorder"
)

// controllerName names the controllers, the event reporter and the logger.
const controllerName = "meshcert-mirror"

// errNotReady is returned by reconcilers that run before the mirror has
// resolved its cluster identity and loaded its peers.
var errNotReady = errors.New("mirror is not ready: cluster identity or peer configuration not loaded yet")

// Mirror is the mirror controller of one cluster.
type Mirror struct {
	opts     Options
	local    client.Client
	reader   client.Reader
	recorder recorder.EventRecorder
	log      logr.Logger
	peers    *peerSet

	// confirmations carries the keys of sources that a peer finished
	// removing, so the source reconciler can release the finalizer.
	confirmations chan event.GenericEvent

	// ready closes once clusterID and localUID are set.
	ready     chan struct{}
	clusterID string
	localUID  types.UID
}

// Add registers the mirror controller on mgr. Everything it starts runs
// only on the elected leader.
func Add(mgr manager.Manager, opts Options) error {
	if err := opts.Validate(); err != nil {
		return fmt.Errorf("mirror options: %w", err)
	}
	m := &Mirror{
		opts:          opts,
		local:         mgr.GetClient(),
		reader:        mgr.GetAPIReader(),
		recorder:      mgr.GetEventRecorder(controllerName),
		log:           mgr.GetLogger().WithName("mirror"),
		confirmations: make(chan event.GenericEvent, 1024),
		ready:         make(chan struct{}),
	}
	m.peers = newPeerSet(m, mgr.GetScheme())
	if err := mgr.Add(m.peers); err != nil {
		return fmt.Errorf("add mirror peer set: %w", err)
	}
	if err := m.addSourceController(mgr); err != nil {
		return err
	}
	return m.addPeerController(mgr)
}

// waitReady blocks until the identity is known and the peer configuration
// was loaded once, or ctx ends.
func (m *Mirror) waitReady(ctx context.Context) error {
	for _, ch := range []chan struct{}{m.ready, m.peers.loaded} {
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", errNotReady, ctx.Err())
		}
	}
	return nil
}

// resolveIdentity reads the UID of kube-system, retrying until it succeeds
// or ctx ends. The UID names this cluster unless --cluster-id is set, and
// identifies a peer that is this cluster.
func (m *Mirror) resolveIdentity(ctx context.Context) error {
	backoff := wait.Backoff{Duration: time.Second, Factor: 2, Steps: 1 << 30, Cap: time.Minute}
	err := wait.ExponentialBackoffWithContext(ctx, backoff, func(ctx context.Context) (bool, error) {
		uid, err := kubeSystemUID(ctx, m.reader, m.opts.PeerTimeout)
		if err != nil {
			m.log.Error(err, "Failed to read this cluster's identity, retrying")
			return false, nil
		}
		m.localUID = uid
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("resolve cluster identity: %w", err)
	}
	m.clusterID = m.opts.ClusterID
	if m.clusterID == "" {
		m.clusterID = string(m.localUID)
	}
	m.log.Info("Resolved cluster identity", "clusterID", m.clusterID)
	close(m.ready)
	return nil
}

func kubeSystemUID(ctx context.Context, reader client.Reader, timeout time.Duration) (types.UID, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var ns corev1.Namespace
	if err := reader.Get(ctx, client.ObjectKey{Name: metav1.NamespaceSystem}, &ns); err != nil {
		return "", fmt.Errorf("get namespace %s: %w", metav1.NamespaceSystem, err)
	}
	return ns.UID, nil
}

// confirm queues key for the source reconciler.
func (m *Mirror) confirm(ctx context.Context, key types.NamespacedName) {
	ev := event.GenericEvent{Object: &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}}
	select {
	case m.confirmations <- ev:
	case <-ctx.Done():
	}
}

// sourceFor returns the local Secret at key from the cache, or nil when
// there is none.
func (m *Mirror) sourceFor(ctx context.Context, key types.NamespacedName) (*corev1.Secret, error) {
	var secret corev1.Secret
	if err := m.local.Get(ctx, key, &secret); err != nil {
		if client.IgnoreNotFound(err) == nil {
			return nil, nil
		}
		return nil, fmt.Errorf("get source Secret %s: %w", key, err)
	}
	return &secret, nil
}
