package app

import (
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshcert/meshcert/internal/wellknown"
)

// cacheOptions keeps Secret data in the manager's cache only where a
// controller reads it: Secrets labelled for mirroring, whose data the
// mirror copies, and Secrets in meshcert's own namespace (peer
// kubeconfigs, the rotated serving certificate). The mirror watches every
// Secret to notice labels being added and removed, and without this the
// leader would hold every Secret of the cluster, keys included, in memory.
func cacheOptions(namespace string) cache.Options {
	return cache.Options{
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}: {Transform: stripUnusedSecretData(namespace)},
		},
	}
}

func stripUnusedSecretData(namespace string) func(any) (any, error) {
	return func(obj any) (any, error) {
		secret, ok := obj.(*corev1.Secret)
		if !ok || secret.Namespace == namespace || secret.Labels[wellknown.MirrorLabel] == wellknown.True {
			return obj, nil
		}
		secret.Data, secret.StringData = nil, nil
		// The last-applied annotation of kubectl repeats the data.
		delete(secret.Annotations, wellknown.LastAppliedAnnotation)
		return secret, nil
	}
}
