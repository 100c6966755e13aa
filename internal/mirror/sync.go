package mirror

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/meshcert/meshcert/internal/logging"
	"github.com/meshcert/meshcert/internal/wellknown"
)

var (
	errNotConnected     = errors.New("peer is not connected")
	errNamespaceMissing = errors.New("namespace is missing on the peer and --mirror-create-namespaces is off")
)

// conflictError reports a Secret on the peer that meshcert must not
// overwrite: one without meshcert's markers, or the copy of a cluster
// that takes precedence.
type conflictError struct {
	peer  string
	key   types.NamespacedName
	owner string
}

func (e *conflictError) Error() string {
	if e.owner == "" {
		return fmt.Sprintf("Secret %s on peer %s is not managed by meshcert; it is left unchanged", e.key, e.peer)
	}
	return fmt.Sprintf("Secret %s on peer %s is the copy of cluster %s, whose lower cluster ID takes precedence", e.key, e.peer, e.owner)
}

// sync brings the peer's copy of key in line with the local Secret at key.
func (p *peer) sync(ctx context.Context, key types.NamespacedName) error {
	conn := p.current()
	if conn == nil {
		return errNotConnected
	}
	source, err := p.m.sourceFor(ctx, key)
	if err != nil {
		return err
	}
	if isSource(source) {
		return p.ensureCopy(ctx, conn, source)
	}
	return p.removeCopy(ctx, conn, key, source)
}

// ensureCopy creates or updates the copy. A copy that is missing from the
// cache is created, never applied, so an unmanaged Secret that the cache
// does not hold is never overwritten.
func (p *peer) ensureCopy(ctx context.Context, conn *connection, source *corev1.Secret) error {
	key := client.ObjectKeyFromObject(source)
	desired := buildCopy(source, p.m.clusterID)
	existing, err := p.cachedCopy(ctx, conn, key)
	if err != nil {
		return err
	}
	if existing == nil {
		existing, err = p.create(ctx, conn, desired)
		if err != nil || existing == nil {
			p.afterWrite(key, err)
			return err
		}
	}
	if err := p.checkOwner(existing); err != nil {
		return err
	}
	if upToDate(existing, desired) {
		p.changed.Delete(key)
		p.confirmed.Delete(key)
		return nil
	}
	switch {
	case needsReplace(existing, desired):
		err = p.replace(ctx, conn, existing, desired)
	default:
		err = p.removeStaleKeys(ctx, conn, existing, desired)
		if err == nil {
			err = p.apply(ctx, conn, existing, desired)
		}
	}
	p.afterWrite(key, err)
	return err
}

func (p *peer) afterWrite(key types.NamespacedName, err error) {
	if err != nil {
		return
	}
	p.confirmed.Delete(key)
	if changed, ok := p.changed.LoadAndDelete(key); ok {
		propagationDuration.WithLabelValues(p.name).Observe(time.Since(changed.(time.Time)).Seconds())
	}
	p.log.V(logging.Debug).Info("Wrote copy", "secret", key)
}

// cachedCopy returns this cluster's copy of key from the peer cache, or
// nil when the cache has none.
func (p *peer) cachedCopy(ctx context.Context, conn *connection, key types.NamespacedName) (*corev1.Secret, error) {
	var existing corev1.Secret
	if err := conn.client.Get(ctx, key, &existing); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("get copy %s from peer cache: %w", key, err)
	}
	return &existing, nil
}

// create creates the copy. When a Secret of that name exists it returns
// the Secret read from the peer.

func (p *peer) create(ctx context.Context, conn *connection, desired *corev1.Secret) (*corev1.Secret, error) {
	key := client.ObjectKeyFromObject(desired)
	err := p.createOnce(ctx, conn, desired)
	if apierrors.IsNotFound(err) {
		if !p.m.opts.CreateNamespaces {
			return nil, fmt.Errorf("create copy %s: %w", key, errNamespaceMissing)
		}
		if err := p.createNamespace(ctx, conn, key.Namespace); err != nil {
			return nil, err
		}
		err = p.createOnce(ctx, conn, desired)
	}
	if !apierrors.IsAlreadyExists(err) {
		if err != nil {
			return nil, fmt.Errorf("create copy %s: %w", key, err)
		}
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, p.m.opts.PeerTimeout)
	defer cancel()
	var existing corev1.Secret
	if err := conn.reader.Get(ctx, key, &existing); err != nil {
		return nil, fmt.Errorf("get Secret %s from peer: %w", key, err)
	}
	return &existing, nil
}

func (p *peer) createOnce(ctx context.Context, conn *connection, desired *corev1.Secret) error {
	ctx, cancel := context.WithTimeout(ctx, p.m.opts.PeerTimeout)
	defer cancel()
	return conn.client.Create(ctx, desired.DeepCopy(), client.FieldOwner(wellknown.MirrorFieldManager))
}

func (p *peer) createNamespace(ctx context.Context, conn *connection, name string) error {
	ctx, cancel := context.WithTimeout(ctx, p.m.opts.PeerTimeout)
	defer cancel()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	err := conn.client.Create(ctx, ns, client.FieldOwner(wellknown.MirrorFieldManager))
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s on peer: %w", name, err)
	}
	p.log.Info("Created namespace on peer", "namespace", name)
	return nil
}

// checkOwner returns a conflictError unless existing is a copy this
// cluster may write: its own, or the copy of a cluster with a higher ID.
func (p *peer) checkOwner(existing *corev1.Secret) error {
	key := client.ObjectKeyFromObject(existing)
	if !isCopy(existing) {
		return &conflictError{peer: p.name, key: key}
	}
	owner := existing.Labels[wellknown.SourceClusterLabel]
	if owner != "" && owner < p.m.clusterID {
		return &conflictError{peer: p.name, key: key, owner: owner}
	}
	return nil
}

// needsReplace reports whether the copy must be deleted and created again
// because the API server rejects the change: a Secret's type, and the data
// of an immutable Secret, cannot be updated.
func needsReplace(existing, desired *corev1.Secret) bool {
	if existing.Type != desired.Type {
		return true
	}
	immutable := existing.Immutable != nil && *existing.Immutable
	return immutable && !upToDate(existing, desired)
}

// apply updates the copy with server-side apply. The UID pins the apply to
// the Secret that was checked, so a Secret deleted and recreated by
// someone else in between makes the apply fail instead of overwriting it.
func (p *peer) apply(ctx context.Context, conn *connection, existing, desired *corev1.Secret) error {
	config := corev1ac.Secret(desired.Name, desired.Namespace).
		WithUID(existing.UID).
		WithLabels(desired.Labels).
		WithAnnotations(desired.Annotations).
		WithType(desired.Type).
		WithData(desired.Data)
	if desired.Immutable != nil {
		config.WithImmutable(*desired.Immutable)
	}
	ctx, cancel := context.WithTimeout(ctx, p.m.opts.PeerTimeout)
	defer cancel()
	err := conn.client.Apply(ctx, config, client.FieldOwner(wellknown.MirrorFieldManager), client.ForceOwnership)
	if err != nil {
		return fmt.Errorf("apply copy %s: %w", client.ObjectKeyFromObject(desired), err)
	}
	return nil
}

func (p *peer) replace(ctx context.Context, conn *connection, existing, desired *corev1.Secret) error {
	if err := p.deleteCopy(ctx, conn, existing); err != nil {
		return err
	}
	if err := p.createOnce(ctx, conn, desired); err != nil {
		return fmt.Errorf("create copy %s after deleting the old one: %w", client.ObjectKeyFromObject(desired), err)
	}
	return nil
}

// removeCopy deletes (or, under the orphan policy, releases) this
// cluster's copy of key, then records that the peer confirmed it.
func (p *peer) removeCopy(ctx context.Context, conn *connection, key types.NamespacedName, source *corev1.Secret) error {
	existing, err := p.cachedCopy(ctx, conn, key)
	if err != nil {
		return err
	}
	finalizing := source != nil && controllerutil.ContainsFinalizer(source, wellknown.MirrorFinalizer)
	if existing == nil && finalizing {
		// The cache may not have seen a copy written moments ago, and the
		// finalizer is released on this result, so read from the peer.
		if existing, err = p.getFromPeer(ctx, conn, key); err != nil {
			return err
		}
	}
	if existing != nil && copyOf(existing, p.m.clusterID) {
		if orphanPolicy(source) {
			err = p.orphan(ctx, conn, existing)
		} else {
			err = p.deleteCopy(ctx, conn, existing)
		}
		if err != nil {
			return err
		}
	}
	p.changed.Delete(key)
	if finalizing {
		p.confirmed.Store(key, source.ResourceVersion)
		p.m.confirm(ctx, key)
	}
	return nil
}

func (p *peer) getFromPeer(ctx context.Context, conn *connection, key types.NamespacedName) (*corev1.Secret, error) {
	ctx, cancel := context.WithTimeout(ctx, p.m.opts.PeerTimeout)
	defer cancel()
	var existing corev1.Secret
	if err := conn.reader.Get(ctx, key, &existing); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("get Secret %s from peer: %w", key, err)
	}
	return &existing, nil
}

func (p *peer) deleteCopy(ctx context.Context, conn *connection, existing *corev1.Secret) error {
	ctx, cancel := context.WithTimeout(ctx, p.m.opts.PeerTimeout)
	defer cancel()
	err := conn.client.Delete(ctx, existing, client.Preconditions{UID: &existing.UID})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete copy %s: %w", client.ObjectKeyFromObject(existing), err)
	}
	p.log.V(logging.Debug).Info("Deleted copy", "secret", client.ObjectKeyFromObject(existing))
	return nil
}

// orphan removes the markers that make a Secret a copy, so it stays on the
// peer as an ordinary Secret that no sweep deletes. The source annotations
// stay as a record of where it came from.
func (p *peer) orphan(ctx context.Context, conn *connection, existing *corev1.Secret) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"uid": existing.UID,
		"labels": map[string]any{
			wellknown.ManagedByLabel:     nil,
			wellknown.SourceClusterLabel: nil,
		},
		"annotations": map[string]any{wellknown.ContentHashAnnotation: nil},
	}})
	if err != nil {
		return fmt.Errorf("encode orphan patch: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, p.m.opts.PeerTimeout)
	defer cancel()
	err = conn.client.Patch(ctx, existing, client.RawPatch(types.MergePatchType, patch), client.FieldOwner(wellknown.MirrorFieldManager))
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("orphan copy %s: %w", client.ObjectKeyFromObject(existing), err)
	}
	p.log.Info("Orphaned copy under the source's deletion policy", "secret", client.ObjectKeyFromObject(existing))
	return nil
}
