package metrics

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
	"unique"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/meshcert/meshcert/internal/logging"
)

// dataKey is a Secret data key that holds certificates.
type dataKey struct {
	name string
	kind valueKind
}

var (
	tlsKeys   = []dataKey{{corev1.TLSCertKey, chainValue}, {"ca.crt", caValue}}
	istioKeys = []dataKey{{corev1.TLSCertKey, chainValue}, {"ca.crt", caValue}, {"cert", chainValue}, {"cacert", caValue}}
)

// istioSkippedTypes are Secret types that never hold Istio credentials.
// The Istio watch excludes them on the server, so that service account
// tokens, Helm releases and registry credentials are never sent.
var istioSkippedTypes = []corev1.SecretType{
	corev1.SecretTypeTLS,
	corev1.SecretTypeServiceAccountToken,
	corev1.SecretTypeDockercfg,
	corev1.SecretTypeDockerConfigJson,
	corev1.SecretTypeBasicAuth,
	corev1.SecretTypeSSHAuth,
	corev1.SecretTypeBootstrapToken,
	"helm.sh/release.v1",
}

// secretSummary is the informer cache's stand-in for a Secret: its
// identity and the parsed facts, without data.
type secretSummary struct {
	metav1.TypeMeta
	metav1.ObjectMeta
	object *object
}

// DeepCopyObject implements runtime.Object. The facts are immutable and
// shared.
func (s *secretSummary) DeepCopyObject() runtime.Object {
	c := *s
	s.ObjectMeta.DeepCopyInto(&c.ObjectMeta)
	return &c
}

// SecretOptions select the Secrets to watch.
type SecretOptions struct {
	NamespaceInclude []string
	NamespaceExclude []string
	LabelSelector    string
	// ResyncPeriod replays the cache to the handlers; 0 disables it.
	ResyncPeriod time.Duration
}

// secretSource keeps the State in step with the Secrets of one kind
// through informers: one per included namespace, or one for all.
type secretSource struct {
	source        string
	keys          []dataKey
	fieldSelector string
	informers     []cache.SharedIndexInformer
	registrations []cache.ResourceEventHandlerRegistration
	parser        *parser
	state         *State
	self          *selfMetrics
	logger        logr.Logger
}

func newSecretSource(client kubernetes.Interface, source string, opts SecretOptions, deps sourceDeps) (*secretSource, error) {
	s := &secretSource{
		source: source, keys: tlsKeys, parser: deps.parser, state: deps.state, self: deps.self,
		logger: deps.logger.WithValues("source", source),
	}
	fields := []string{"type=" + string(corev1.SecretTypeTLS)}
	if source == sourceIstioSecret {
		s.keys = istioKeys
		fields = fields[:0]
		for _, skipped := range istioSkippedTypes {
			fields = append(fields, "type!="+string(skipped))
		}
	}
	for _, namespace := range opts.NamespaceExclude {
		fields = append(fields, "metadata.namespace!="+namespace)
	}
	s.fieldSelector = strings.Join(fields, ",")

	namespaces := opts.NamespaceInclude
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	for _, namespace := range namespaces {
		if err := s.addInformer(client, namespace, opts); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *secretSource) addInformer(client kubernetes.Interface, namespace string, opts SecretOptions) error {
	secrets := client.CoreV1().Secrets(namespace)
	selectors := func(options *metav1.ListOptions) {
		options.FieldSelector = s.fieldSelector
		options.LabelSelector = opts.LabelSelector
	}
	var started atomic.Bool
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, options metav1.ListOptions) (runtime.Object, error) {
			selectors(&options)
			list, err := secrets.List(ctx, pagedList(options))
			s.requestFailed("list", namespace, err)
			return list, err
		},
		WatchFuncWithContext: func(ctx context.Context, options metav1.ListOptions) (watch.Interface, error) {
			selectors(&options)
			if started.Swap(true) {
				s.watchRestarted(namespace, options.ResourceVersion)
			}
			w, err := secrets.Watch(ctx, options)
			s.requestFailed("watch", namespace, err)
			return w, err
		},
	}
	informer := cache.NewSharedIndexInformerWithOptions(lw, &corev1.Secret{}, cache.SharedIndexInformerOptions{
		ResyncPeriod:      opts.ResyncPeriod,
		ObjectDescription: s.source + " Secrets",
	})
	if err := informer.SetTransform(s.transform(informer.GetStore())); err != nil {
		return fmt.Errorf("set transform of the %s informer: %w", s.source, err)
	}
	if err := informer.SetWatchErrorHandlerWithContext(s.watchError); err != nil {
		return fmt.Errorf("set watch error handler of the %s informer: %w", s.source, err)
	}
	registration, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.apply(obj) },
		UpdateFunc: func(_, obj any) { s.apply(obj) },
		DeleteFunc: s.delete,
	})
	if err != nil {
		return fmt.Errorf("add handler to the %s informer: %w", s.source, err)
	}
	s.informers = append(s.informers, informer)
	s.registrations = append(s.registrations, registration)
	return nil
}

// listPageSize bounds the Secrets one list response carries.
const listPageSize = 500

// pagedList makes the initial list paged. The reflector requests
// resourceVersion "0", which the API server serves whole from its watch
// cache, ignoring the limit; an unset resourceVersion honours it. On API
// servers with streaming lists (WatchList), the initial state arrives
// through the watch instead and this is not called.
func pagedList(options metav1.ListOptions) metav1.ListOptions {
	if options.ResourceVersion == "0" && options.Continue == "" {
		options.ResourceVersion = ""
	}
	if options.Limit == 0 {
		options.Limit = listPageSize
	}
	return options
}

// transform replaces each Secret with its summary before it enters the
// informer's queue and cache, so Secret data never stays in memory. A
// Secret whose resourceVersion is unchanged since the cached summary (a
// relist after a broken watch) is not parsed again. Parsing here costs
// tens of microseconds per changed Secret, on the informer's goroutine.
func (s *secretSource) transform(store cache.Store) cache.TransformFunc {
	return func(in any) (any, error) {
		secret, ok := in.(*corev1.Secret)
		if !ok {
			return in, nil
		}
		defer wipeData(secret)
		if cached, ok := cachedSummary(store, secret); ok {
			return cached, nil
		}
		return s.summarize(secret), nil
	}
}

// wipeData zeroes the Secret's data in place. The informer and the watch
// keep the last Secret they decoded in local variables until the next
// event arrives, so zeroing keeps its key bytes out of those copies. The
// transform is the first to see a decoded object, so changing it is safe.
func wipeData(secret *corev1.Secret) {
	for key, value := range secret.Data {
		clear(value)
		delete(secret.Data, key)
	}
	for key := range secret.StringData {
		delete(secret.StringData, key)
	}
}

func cachedSummary(store cache.Store, secret *corev1.Secret) (*secretSummary, bool) {
	item, exists, err := store.GetByKey(secret.Namespace + "/" + secret.Name)
	if err != nil || !exists {
		return nil, false
	}
	summary, ok := item.(*secretSummary)
	if !ok || summary.UID != secret.UID || summary.ResourceVersion != secret.ResourceVersion {
		return nil, false
	}
	return summary, true
}

func (s *secretSource) summarize(secret *corev1.Secret) *secretSummary {
	defer s.self.timeParse(s.source)()
	namespace := unique.Make(secret.Namespace).Value()
	obj := &object{source: s.source, namespace: namespace, name: secret.Name}
	for _, key := range s.keys {
		data, ok := secret.Data[key.name]
		if !ok {
			continue
		}
		obj.keys = append(obj.keys, keyValue{key: key.name, value: s.parser.parse(data, key.kind)})
	}
	s.logger.V(logging.Debug).Info("Parsed Secret", "namespace", namespace, "name", secret.Name,
		"resourceVersion", secret.ResourceVersion, "keys", len(obj.keys))
	return &secretSummary{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: namespace, Name: secret.Name, UID: secret.UID, ResourceVersion: secret.ResourceVersion,
		},
		object: obj,
	}
}

func (s *secretSource) apply(item any) {
	summary, ok := item.(*secretSummary)
	if !ok {
		s.logger.Error(fmt.Errorf("unexpected object %T in the informer", item), "Skipped object")
		return
	}
	s.state.set(summary.object)
	s.self.touch(s.source)
}

func (s *secretSource) delete(item any) {
	if tombstone, ok := item.(cache.DeletedFinalStateUnknown); ok {
		item = tombstone.Obj
	}
	summary, ok := item.(*secretSummary)
	if !ok {
		s.logger.Error(fmt.Errorf("unexpected object %T in the informer", item), "Skipped deleted object")
		return
	}
	s.state.remove(objectKey{source: s.source, namespace: summary.Namespace, name: summary.Name})
	s.self.touch(s.source)
	s.logger.V(logging.Debug).Info("Removed Secret", "namespace", summary.Namespace, "name", summary.Name)
}

// watchRestarted counts and logs a watch started again after the previous
// one ended: a timeout, a broken connection or an API server restart. The
// informer resumes from the last resourceVersion it saw, or lists again
// when that is too old, so no change is lost or applied twice. client-go
// turns a refused connection into an empty watch, so while the API
// server is unreachable every retry counts.
func (s *secretSource) watchRestarted(namespace, resourceVersion string) {
	s.self.restarts.WithLabelValues(s.source).Inc()
	s.logger.Info("Restarting watch of Secrets", "namespace", namespace, "resourceVersion", resourceVersion)
}

// requestFailed logs a failed list or watch request, which the informer
// retries with backoff.
func (s *secretSource) requestFailed(verb, namespace string, err error) {
	if err == nil || errors.Is(err, context.Canceled) {
		return
	}
	s.logger.Error(err, "Failed to "+verb+" Secrets, retrying", "namespace", namespace)
}

// watchError logs why the informer's list and watch loop stopped before
// the informer restarts it.
func (s *secretSource) watchError(ctx context.Context, r *cache.Reflector, err error) {
	s.logger.Error(err, "Watch of Secrets ended, restarting it")
	cache.DefaultWatchErrorHandler(ctx, r, err)
}

// run runs the informers until ctx ends and marks the source synced once
// every handler has seen the initial list.
func (s *secretSource) run(ctx context.Context) {
	for _, informer := range s.informers {
		go informer.RunWithContext(ctx)
	}
	s.logger.Info("Watching Secrets", "fieldSelector", s.fieldSelector, "informers", len(s.informers))
	synced := make([]cache.InformerSynced, len(s.registrations))
	for i, registration := range s.registrations {
		synced[i] = registration.HasSynced
	}
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return
	}
	s.self.markSynced(s.source)
	s.logger.Info("Synced Secrets", "objects", s.state.count(s.source))
	<-ctx.Done()
}

func (s *secretSource) hasSynced() bool {
	for _, registration := range s.registrations {
		if !registration.HasSynced() {
			return false
		}
	}
	return true
}
