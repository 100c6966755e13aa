package mirror

import (
	"context"
	"errors"
	"net"

	"github.com/prometheus/client_golang/prometheus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	peerUp = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "meshcert_mirror_peer_up",
		Help: "1 when the peer cluster's API server answered the last health check, else 0.",
	}, []string{"peer"})
	peerCopies = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "meshcert_mirror_copies",
		Help: "Copies this cluster holds on the peer cluster, counted in the peer cache at the last sweep.",
	}, []string{"peer"})
	peerConflicts = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "meshcert_mirror_conflicts",
		Help: "Source Secrets not copied to the peer because the peer holds a Secret of the same name that is not this cluster's copy.",
	}, []string{"peer"})
	syncErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "meshcert_mirror_sync_errors_total",
		Help: "Failed syncs of a Secret to the peer, by reason.",
	}, []string{"peer", "reason"})
	propagationDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "meshcert_mirror_propagation_duration_seconds",
		Help: "Time from the controller observing a source change to the copy written on the peer.",
		// 5 ms to about 80 s.
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 15),
	}, []string{"peer"})
	lastSync = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "meshcert_mirror_last_sync_timestamp_seconds",
		Help: "Unix time of the last Secret synced to the peer without error.",
	}, []string{"peer"})
)

func init() {
	metrics.Registry.MustRegister(peerUp, peerCopies, peerConflicts, syncErrors, propagationDuration, lastSync)
}

// deletePeerMetrics removes a peer's series when it leaves the
// configuration, so dashboards do not show a removed peer as down.
func deletePeerMetrics(peer string) {
	labels := prometheus.Labels{"peer": peer}
	peerUp.DeletePartialMatch(labels)
	peerCopies.DeletePartialMatch(labels)
	peerConflicts.DeletePartialMatch(labels)
	syncErrors.DeletePartialMatch(labels)
	propagationDuration.DeletePartialMatch(labels)
	lastSync.DeletePartialMatch(labels)
}

// Sync error reasons, the values of the reason label.
const (
	reasonConflict         = "conflict"
	reasonNamespaceMissing = "namespace-missing"
	reasonForbidden        = "forbidden"
	reasonUnauthorized     = "unauthorized"
	reasonTimeout          = "timeout"
	reasonUnreachable      = "unreachable"
	reasonInvalid          = "invalid"
	reasonNotConnected     = "not-connected"
	reasonOther            = "other"
)

// errorReason classifies a sync error for the reason label.
func errorReason(err error) string {
	var conflict *conflictError
	var netErr net.Error
	switch {
	case errors.As(err, &conflict):
		return reasonConflict
	case errors.Is(err, errNamespaceMissing):
		return reasonNamespaceMissing
	case errors.Is(err, errNotConnected):
		return reasonNotConnected
	case apierrors.IsForbidden(err):
		return reasonForbidden
	case apierrors.IsUnauthorized(err):
		return reasonUnauthorized
	case errors.Is(err, context.DeadlineExceeded), apierrors.IsTimeout(err), apierrors.IsServerTimeout(err):
		return reasonTimeout
	case apierrors.IsInvalid(err), apierrors.IsRequestEntityTooLargeError(err):
		return reasonInvalid
	case errors.As(err, &netErr), apierrors.IsServiceUnavailable(err):
		return reasonUnreachable
	}
	return reasonOther
}
