package mirror

import (
	"errors"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/meshcert/meshcert/internal/logging"
)

// handleResult records the outcome of a sync and schedules the retry of a
// failed one with the peer's exponential backoff.
func (p *peer) handleResult(key types.NamespacedName, err error) {
	if err == nil {
		p.queue.Forget(key)
		p.clearConflict(key)
		lastSync.WithLabelValues(p.name).SetToCurrentTime()
		return
	}
	syncErrors.WithLabelValues(p.name, errorReason(err)).Inc()
	var conflict *conflictError
	if errors.As(err, &conflict) {
		p.reportConflict(key, conflict)
	} else {
		p.reportFailure(key, err)
	}
	p.queue.AddRateLimited(key)
}

// reportConflict logs and records an event when key enters conflict; the
// retries that follow log at debug level only.
func (p *peer) reportConflict(key types.NamespacedName, conflict *conflictError) {
	if _, loaded := p.conflicts.LoadOrStore(key, struct{}{}); loaded {
		p.log.V(logging.Debug).Info("Conflict persists, retrying", "secret", key, "retries", p.queue.NumRequeues(key))
		return
	}
	peerConflicts.WithLabelValues(p.name).Set(float64(p.conflictCount.Add(1)))
	p.log.Info("Not overwriting Secret on peer", "secret", key, "reason", conflict.Error())
	p.event(key, "MirrorConflict", conflict.Error())
}

func (p *peer) clearConflict(key types.NamespacedName) {
	if _, loaded := p.conflicts.LoadAndDelete(key); loaded {
		peerConflicts.WithLabelValues(p.name).Set(float64(p.conflictCount.Add(-1)))
		p.log.Info("Conflict resolved", "secret", key)
	}
}

// reportFailure logs every failure and records an event on the first
// failure of a run of retries.
func (p *peer) reportFailure(key types.NamespacedName, err error) {
	retries := p.queue.NumRequeues(key)
	p.log.Error(err, "Failed to sync Secret to peer, retrying", "secret", key, "retries", retries)
	if retries == 0 {
		p.event(key, "MirrorFailed", err.Error())
	}
}

// event records a Warning event on the local source, when it exists.
func (p *peer) event(key types.NamespacedName, reason, message string) {
	source, err := p.m.sourceFor(p.ctx, key)
	if err != nil || source == nil {
		return
	}
	p.m.recorder.Eventf(source, nil, corev1.EventTypeWarning, reason, "Mirror", "peer %s: %s", p.name, message)
}
