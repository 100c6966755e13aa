package webhook

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/meshcert/meshcert/internal/validate"
)

// maxConcurrentSecretReads bounds the Secret reads one review runs at
// once, so a Gateway with many servers costs about one API round trip
// without a burst of requests.
const maxConcurrentSecretReads = 8

// fetchedSecret is the outcome of reading one Secret.
type fetchedSecret struct {
	secret *corev1.Secret
	err    error
}

// prefetchedGetter reads the Secrets of keys concurrently and returns a
// getter that serves them, and reads any other Secret when asked. The
// Secrets live as long as the getter, which is one review.
func (l *Lookups) prefetchedGetter(ctx context.Context, keys []client.ObjectKey) validate.SecretGetter {
	get := l.secretGetter(ctx)
	fetched := make(map[client.ObjectKey]fetchedSecret, len(keys))
	var mu sync.Mutex
	var wg sync.WaitGroup
	slots := make(chan struct{}, maxConcurrentSecretReads)
	for _, key := range keys {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			secret, err := get(key.Namespace, key.Name)
			mu.Lock()
			fetched[key] = fetchedSecret{secret: secret, err: err}
			mu.Unlock()
		})
	}
	wg.Wait()
	return func(namespace, name string) (*corev1.Secret, error) {
		if result, ok := fetched[client.ObjectKey{Namespace: namespace, Name: name}]; ok {
			return result.secret, result.err
		}
		return get(namespace, name)
	}
}

// istioSecretKeys returns the Secrets a review of gw reads in namespaces:
// every credential and client CA source, by name in each namespace, or
// in the namespace the reference names.
func istioSecretKeys(gw *validate.IstioGateway, namespaces []string) []client.ObjectKey {
	keys := map[client.ObjectKey]bool{}
	for _, ref := range validate.IstioSecretRefs(gw) {
		namespace, name, _ := strings.Cut(ref, "/")
		if namespace != "*" {
			keys[client.ObjectKey{Namespace: namespace, Name: name}] = true
			continue
		}
		for _, namespace := range namespaces {
			keys[client.ObjectKey{Namespace: namespace, Name: name}] = true
		}
	}
	return slices.Collect(maps.Keys(keys))
}

// gatewayAPISecretKeys returns the core Secrets the listeners of gw name.
func gatewayAPISecretKeys(gw *gatewayv1.Gateway) []client.ObjectKey {
	keys := map[client.ObjectKey]bool{}
	for i := range gw.Spec.Listeners {
		refs, _ := validate.ListenerSecretRefs(gw.Namespace, &gw.Spec.Listeners[i])
		for _, ref := range refs {
			keys[client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}] = true
		}
	}
	return slices.Collect(maps.Keys(keys))
}
