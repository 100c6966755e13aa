package webhook

import (
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/meshcert/meshcert/internal/validate"
)

// Field indexes the Gateway lookups register on the manager's cache.
const (
	// podLabelIndex indexes Pods by each of their "KEY=VALUE" labels.
	podLabelIndex = "meshcert.io/label"
	// secretRefIndex indexes Gateways by the Secrets they reference, as
	// validate.SecretIndexKey returns them.
	secretRefIndex = "meshcert.io/secret-ref"
)

// IstioGatewayGVK is the version of Istio Gateways the cache watches. The
// three served versions share one schema, so any of them shows every
// Gateway.
var IstioGatewayGVK = schema.GroupVersionKind{Group: "networking.istio.io", Version: "v1", Kind: "Gateway"}

var podGVK = corev1.SchemeGroupVersion.WithKind("Pod")

// Lookups read what Gateway checks need from the cluster. Pods (metadata
// only), Gateways and ReferenceGrants come from the manager's cache.
// Secrets are never cached: the few a review needs are read from the API
// server and dropped with the review, so private keys stay in memory only
// as long as a check needs them.
type Lookups struct {
	// Cache reads the watched objects, with the indexes of AddIndexes.
	Cache client.Reader
	// API reads Secrets and Namespaces from the API server.
	API client.Reader
	// FallbackNamespaces lists the namespaces searched for credentials
	// when an Istio Gateway's selector matches no pod.
	FallbackNamespaces []string
	// NoIstio and NoGatewayAPI are set when the cluster does not serve
	// the Istio or Gateway API Gateway CRDs, so Secret writes skip them.
	NoIstio      bool
	NoGatewayAPI bool
}

// AddIndexes registers the field indexes the lookups use on indexer. A
// Gateway CRD the cluster does not serve is recorded in l and skipped.
//
// NOTE: a Gateway CRD installed after the webhook started is seen only
// after a restart.
func (l *Lookups) AddIndexes(ctx context.Context, indexer client.FieldIndexer) error {
	pod := &metav1.PartialObjectMetadata{}
	pod.SetGroupVersionKind(podGVK)
	if err := indexer.IndexField(ctx, pod, podLabelIndex, podLabels); err != nil {
		return fmt.Errorf("index Pods by label: %w", err)
	}
	err := indexer.IndexField(ctx, newIstioGatewayObject(), secretRefIndex, istioSecretRefs)
	if l.NoIstio = meta.IsNoMatchError(err); err != nil && !l.NoIstio {
		return fmt.Errorf("index Istio Gateways by Secret: %w", err)
	}
	err = indexer.IndexField(ctx, &gatewayv1.Gateway{}, secretRefIndex, gatewayAPISecretRefs)
	if l.NoGatewayAPI = meta.IsNoMatchError(err); err != nil && !l.NoGatewayAPI {
		return fmt.Errorf("index Gateway API Gateways by Secret: %w", err)
	}
	return nil
}

func newIstioGatewayObject() *unstructured.Unstructured {
	object := &unstructured.Unstructured{}
	object.SetGroupVersionKind(IstioGatewayGVK)
	return object
}

func podLabels(object client.Object) []string {
	keys := make([]string, 0, len(object.GetLabels()))
	for key, value := range object.GetLabels() {
		keys = append(keys, key+"="+value)
	}
	return keys
}

func istioSecretRefs(object client.Object) []string {
	gw, err := istioGatewayFromObject(object)
	if err != nil {
		return nil
	}
	return validate.IstioSecretRefs(gw)
}

func gatewayAPISecretRefs(object client.Object) []string {
	gw, ok := object.(*gatewayv1.Gateway)
	if !ok {
		return nil
	}
	var keys []string
	for i := range gw.Spec.Listeners {
		refs, _ := validate.ListenerSecretRefs(gw.Namespace, &gw.Spec.Listeners[i])
		for _, ref := range refs {
			keys = append(keys, validate.SecretIndexKey(ref.Namespace, ref.Name))
		}
	}
	return keys
}

// istioGatewayFromObject converts a cached unstructured Istio Gateway.
func istioGatewayFromObject(object client.Object) (*validate.IstioGateway, error) {
	u, ok := object.(*unstructured.Unstructured)
	if !ok {
		return nil, fmt.Errorf("Istio Gateway is a %T, not unstructured", object)
	}
	gw := &validate.IstioGateway{Namespace: u.GetNamespace(), Name: u.GetName()}
	spec, _, err := unstructured.NestedMap(u.Object, "spec")
	if err != nil {
		return nil, fmt.Errorf("read spec of Istio Gateway %s/%s: %w", u.GetNamespace(), u.GetName(), err)
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(spec, &gw.Spec); err != nil {
		return nil, fmt.Errorf("convert spec of Istio Gateway %s/%s: %w", u.GetNamespace(), u.GetName(), err)
	}
	return gw, nil
}

// workload is the set of pods an Istio Gateway's selector picks.
type workload struct {
	selector   map[string]string
	namespaces []string
	podLabels  []map[string]string
}

// selectWorkload finds the pods, in every namespace, that selector
// matches. An empty selector matches no pod here: Istio applies it to
// every gateway proxy, which pod labels alone cannot tell apart.
func (l *Lookups) selectWorkload(ctx context.Context, selector map[string]string) (*workload, error) {
	w := &workload{selector: selector}
	if len(selector) == 0 {
		return w, nil
	}
	// Any one pair narrows the candidates; the full selector filters them.
	var anyPair string
	for key, value := range selector {
		anyPair = key + "=" + value
		break
	}
	pods := &metav1.PartialObjectMetadataList{}
	pods.SetGroupVersionKind(podGVK.GroupVersion().WithKind("PodList"))
	if err := l.Cache.List(ctx, pods, client.MatchingFields{podLabelIndex: anyPair}); err != nil {
		return nil, fmt.Errorf("list Pods labelled %s: %w", anyPair, err)
	}
	match := labels.SelectorFromSet(selector)
	namespaces := map[string]bool{}
	for i := range pods.Items {
		pod := &pods.Items[i]
		if pod.DeletionTimestamp != nil || !match.Matches(labels.Set(pod.Labels)) {
			continue
		}
		namespaces[pod.Namespace] = true
		w.podLabels = append(w.podLabels, pod.Labels)
	}
	for namespace := range namespaces {
		w.namespaces = append(w.namespaces, namespace)
	}
	sort.Strings(w.namespaces)
	return w, nil
}

// credentialNamespaces returns where the workload reads credentials: its
// pods' namespaces, or the fallback namespaces when it has no pod.
func (l *Lookups) credentialNamespaces(w *workload) []string {
	if len(w.namespaces) > 0 {
		return w.namespaces
	}
	return l.FallbackNamespaces
}

// sharesWorkload reports whether selector picks a pod of w, or, when w
// has no pod, whether it equals w's selector.
func (w *workload) sharesWorkload(selector map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	if len(w.podLabels) == 0 {
		return labels.Equals(selector, w.selector)
	}
	match := labels.SelectorFromSet(selector)
	for _, podLabels := range w.podLabels {
		if match.Matches(labels.Set(podLabels)) {
			return true
		}
	}
	return false
}

// istioPeers returns the other Istio Gateways that select a pod of w.
//
// NOTE: it converts every cached Istio Gateway on each review, which is
// linear in the Gateways of the cluster; an index by selector would make
// it proportional to the peers.
func (l *Lookups) istioPeers(ctx context.Context, gw *validate.IstioGateway, w *workload) ([]*validate.IstioGateway, error) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(IstioGatewayGVK.GroupVersion().WithKind("GatewayList"))
	if err := l.Cache.List(ctx, list); err != nil {
		return nil, fmt.Errorf("list Istio Gateways: %w", err)
	}
	var peers []*validate.IstioGateway
	for i := range list.Items {
		item := &list.Items[i]
		if item.GetNamespace() == gw.Namespace && item.GetName() == gw.Name {
			continue
		}
		peer, err := istioGatewayFromObject(item)
		if err != nil || !w.sharesWorkload(peer.Spec.Selector) {
			continue
		}
		peers = append(peers, peer)
	}
	return peers, nil
}

// secretGetter returns a getter that reads Secrets from the API server.
func (l *Lookups) secretGetter(ctx context.Context) validate.SecretGetter {
	return func(namespace, name string) (*corev1.Secret, error) {
		secret := &corev1.Secret{}
		err := l.API.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, secret)
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return secret, nil
	}
}

// secretExists reports whether a Secret exists, reading its metadata only.
func (l *Lookups) secretExists(ctx context.Context) func(namespace, name string) (bool, error) {
	return func(namespace, name string) (bool, error) {
		secret := &metav1.PartialObjectMetadata{}
		secret.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
		err := l.API.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, secret)
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, err
	}
}

// referenceGranted returns whether a ReferenceGrant in the Secret's
// namespace lets Gateways of fromNamespace use the Secret.
func (l *Lookups) referenceGranted(ctx context.Context, fromNamespace string) func(namespace, name string) (bool, error) {
	return func(namespace, name string) (bool, error) {
		grants := &gatewayv1beta1.ReferenceGrantList{}
		if err := l.Cache.List(ctx, grants, client.InNamespace(namespace)); err != nil {
			return false, fmt.Errorf("list ReferenceGrants in %s: %w", namespace, err)
		}
		for i := range grants.Items {
			if validate.GrantsSecret(&grants.Items[i].Spec, fromNamespace, name) {
				return true, nil
			}
		}
		return false, nil
	}
}

// namespaceTerminating reports whether the namespace is being deleted.
func (l *Lookups) namespaceTerminating(ctx context.Context, name string) (bool, error) {
	namespace := &corev1.Namespace{}
	if err := l.API.Get(ctx, client.ObjectKey{Name: name}, namespace); err != nil {
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, fmt.Errorf("get Namespace %s: %w", name, err)
	}
	return namespace.DeletionTimestamp != nil || namespace.Status.Phase == corev1.NamespaceTerminating, nil
}
