package metrics

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"
	"unique"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
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

// SecretOptions select the Secrets to watch.
type SecretOptions struct {
	NamespaceInclude []string
	NamespaceExclude []string
	LabelSelector    string
	// ResyncPeriod replays the cache to the handlers; 0 disables it.
	ResyncPeriod time.Duration
}

// secretSource keeps the State in step with the Secrets of one kind. It
// watches their metadata only, one informer per included namespace or one
// for all, and reads the data of a Secret when its resourceVersion
// changes, through a client whose connections close after each response
// (see newDataClient). So the long-lived watch connection never carries
// a private key, and once a read is done no buffer of this process still
// holds one.
type secretSource struct {
	source        string
	keys          []dataKey
	fieldSelector string
	labelSelector string
	scopes        []*secretScope
	parser        *parser
	state         *State
	self          *selfMetrics
	logger        logr.Logger
}

// secretClients are the clients of the Secret sources: metadata for the
// watches, and newData, which builds a client for each read of data.
type secretClients struct {
	metadata metadata.Interface
	newData  func() (rest.Interface, error)
}

func newSecretSource(clients secretClients, source string, opts SecretOptions, deps sourceDeps) (*secretSource, error) {
	s := &secretSource{
		source: source, keys: tlsKeys, labelSelector: opts.LabelSelector,
		parser: deps.parser, state: deps.state, self: deps.self,
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
		scope, err := newSecretScope(s, clients, namespace, opts.ResyncPeriod)
		if err != nil {
			return nil, err
		}
		s.scopes = append(s.scopes, scope)
	}
	return s, nil
}

// summarize parses the certificate values of secret.
func (s *secretSource) summarize(secret *corev1.Secret) *object {
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
	return obj
}

func (s *secretSource) apply(obj *object) {
	s.state.set(obj)
	s.self.touch(s.source)
}

func (s *secretSource) remove(name cache.ObjectName) {
	s.state.remove(objectKey{source: s.source, namespace: name.Namespace, name: name.Name})
	s.self.touch(s.source)
	s.logger.V(logging.Debug).Info("Removed Secret", "namespace", name.Namespace, "name", name.Name)
}

// wipeData zeroes the Secret's data in place, so that the decoded copy
// of its key bytes is gone before the object becomes garbage.
func wipeData(secret *corev1.Secret) {
	for key, value := range secret.Data {
		clear(value)
		delete(secret.Data, key)
	}
	for key := range secret.StringData {
		delete(secret.StringData, key)
	}
}

// run runs every scope until ctx ends and marks the source synced once
// each has read the Secrets of its initial list.
func (s *secretSource) run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, scope := range s.scopes {
		wg.Go(func() { scope.run(ctx) })
	}
	s.logger.Info("Watching Secrets", "fieldSelector", s.fieldSelector, "labelSelector", s.labelSelector,
		"informers", len(s.scopes))
	if wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(context.Context) (bool, error) {
		return s.hasSynced(), nil
	}) == nil {
		s.self.markSynced(s.source)
		s.logger.Info("Synced Secrets", "objects", s.state.count(s.source))
	}
	wg.Wait()
}

func (s *secretSource) hasSynced() bool {
	for _, scope := range s.scopes {
		if !scope.synced.Load() {
			return false
		}
	}
	return true
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
