package mirror

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/meshcert/meshcert/internal/logging"
	"github.com/meshcert/meshcert/internal/wellknown"
)

// addSourceController watches labelled Secrets and those holding the
// mirror finalizer, fans every change out to the peers' queues, and keeps
// the finalizer until every peer removed the copies.
func (m *Mirror) addSourceController(mgr manager.Manager) error {
	relevant := predicate.NewPredicateFuncs(func(obj client.Object) bool {
		return obj.GetLabels()[wellknown.MirrorLabel] == wellknown.True ||
			controllerutil.ContainsFinalizer(obj, wellknown.MirrorFinalizer)
	})
	err := builder.ControllerManagedBy(mgr).
		Named("mirror-source").
		For(&corev1.Secret{}, builder.WithPredicates(relevant)).
		WatchesRawSource(source.Channel(m.confirmations, &handler.EnqueueRequestForObject{})).
		Complete(reconcile.Func(m.reconcileSource))
	if err != nil {
		return fmt.Errorf("add mirror source controller: %w", err)
	}
	return nil
}

func (m *Mirror) reconcileSource(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	if err := m.waitReady(ctx); err != nil {
		return reconcile.Result{}, err
	}
	secret, err := m.sourceFor(ctx, req.NamespacedName)
	if err != nil {
		return reconcile.Result{}, err
	}
	m.peers.enqueue(req.NamespacedName)
	switch {
	case secret == nil:
		return reconcile.Result{}, nil
	case isSource(secret):
		return reconcile.Result{}, m.addFinalizer(ctx, secret)
	case controllerutil.ContainsFinalizer(secret, wellknown.MirrorFinalizer):
		return reconcile.Result{}, m.releaseFinalizer(ctx, secret)
	}
	return reconcile.Result{}, nil
}

func (m *Mirror) addFinalizer(ctx context.Context, secret *corev1.Secret) error {
	if controllerutil.ContainsFinalizer(secret, wellknown.MirrorFinalizer) {
		return nil
	}
	patch := client.MergeFromWithOptions(secret.DeepCopy(), client.MergeFromWithOptimisticLock{})
	controllerutil.AddFinalizer(secret, wellknown.MirrorFinalizer)
	if err := m.local.Patch(ctx, secret, patch, client.FieldOwner(wellknown.MirrorFieldManager)); err != nil {
		return fmt.Errorf("add finalizer to Secret %s/%s: %w", secret.Namespace, secret.Name, err)
	}
	ctrllog.FromContext(ctx).V(logging.Debug).Info("Added mirror finalizer")
	return nil
}

// releaseFinalizer removes the finalizer once every configured peer
// confirmed that it removed (or orphaned) the copy of this version of the
// source. Peers that are removed from the configuration no longer count.
func (m *Mirror) releaseFinalizer(ctx context.Context, secret *corev1.Secret) error {
	pending := m.peers.unconfirmed(secret)
	if len(pending) > 0 {
		ctrllog.FromContext(ctx).V(logging.Debug).Info("Waiting for peers to remove copies", "peers", pending)
		return nil
	}
	patch := client.MergeFromWithOptions(secret.DeepCopy(), client.MergeFromWithOptimisticLock{})
	controllerutil.RemoveFinalizer(secret, wellknown.MirrorFinalizer)
	err := m.local.Patch(ctx, secret, patch, client.FieldOwner(wellknown.MirrorFieldManager))
	if client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("remove finalizer from Secret %s/%s: %w", secret.Namespace, secret.Name, err)
	}
	ctrllog.FromContext(ctx).V(logging.Debug).Info("Removed mirror finalizer: every peer removed its copy")
	return nil
}
