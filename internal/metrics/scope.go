package metrics

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unique"

	"google.golang.org/protobuf/encoding/protowire"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

const (
	// listPageSize bounds the Secrets one list response carries.
	listPageSize = 500
	// readOneByOne is the fewest changed Secrets a scope reads with one
	// request each before it reads them all with one paged list. A scope
	// of more than readOneByOne*oneByOneShare Secrets reads up to one in
	// oneByOneShare of them one by one, so that a burst of changes in a
	// large scope does not read every Secret again.
	readOneByOne  = 20
	oneByOneShare = 20
	// maxReadBackoff bounds the wait between failed reads.
	maxReadBackoff = 30 * time.Second
)

var secretsResource = corev1.SchemeGroupVersion.WithResource("secrets")

// version identifies one state of one Secret.
type version struct {
	uid             types.UID
	resourceVersion string
}

// secretScope follows the Secrets of one source in one namespace, or in
// all. Its informer watches metadata only. A new resourceVersion marks the
// Secret pending, and read then fetches its data, parses it into the State
// and wipes it.
type secretScope struct {
	source    *secretSource
	namespace string
	informer  cache.SharedIndexInformer
	handler   cache.ResourceEventHandlerRegistration
	newData   func() (rest.Interface, error)
	// pageSize is the size of the last response read, to size the next
	// buffer; only the reader goroutine uses it.
	pageSize int

	// mu orders changes of the State: a read stores a Secret only while
	// the informer still holds it, and a deletion removes it under the
	// same lock, so a read that races a deletion never brings it back.
	mu      sync.Mutex
	parsed  map[cache.ObjectName]version
	pending map[cache.ObjectName]struct{}
	wake    chan struct{}
	synced  atomic.Bool
}

func newSecretScope(s *secretSource, clients secretClients, namespace string, resync time.Duration) (*secretScope, error) {
	scope := &secretScope{
		source: s, namespace: namespace, newData: clients.newData,
		parsed: map[cache.ObjectName]version{}, pending: map[cache.ObjectName]struct{}{},
		wake: make(chan struct{}, 1),
	}
	secrets := clients.metadata.Resource(secretsResource).Namespace(namespace)
	var started atomic.Bool
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, options metav1.ListOptions) (runtime.Object, error) {
			scope.selectors(&options)
			list, err := secrets.List(ctx, pagedList(options))
			s.requestFailed("list", namespace, err)
			return list, err
		},
		WatchFuncWithContext: func(ctx context.Context, options metav1.ListOptions) (watch.Interface, error) {
			scope.selectors(&options)
			if started.Swap(true) {
				s.watchRestarted(namespace, options.ResourceVersion)
			}
			w, err := secrets.Watch(ctx, options)
			s.requestFailed("watch", namespace, err)
			return w, err
		},
	}
	scope.informer = cache.NewSharedIndexInformerWithOptions(lw, &metav1.PartialObjectMetadata{}, cache.SharedIndexInformerOptions{
		ResyncPeriod:      resync,
		ObjectDescription: s.source + " Secrets",
	})
	if err := scope.informer.SetTransform(slimMetadata); err != nil {
		return nil, fmt.Errorf("set transform of the %s informer: %w", s.source, err)
	}
	if err := scope.informer.SetWatchErrorHandlerWithContext(s.watchError); err != nil {
		return nil, fmt.Errorf("set watch error handler of the %s informer: %w", s.source, err)
	}
	handler, err := scope.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    scope.changed,
		UpdateFunc: func(_, obj any) { scope.changed(obj) },
		DeleteFunc: scope.deleted,
	})
	if err != nil {
		return nil, fmt.Errorf("add handler to the %s informer: %w", s.source, err)
	}
	scope.handler = handler
	return scope, nil
}

func (sc *secretScope) selectors(options *metav1.ListOptions) {
	options.FieldSelector = sc.source.fieldSelector
	options.LabelSelector = sc.source.labelSelector
}

// pagedList makes the initial list paged. The reflector requests
// resourceVersion "0", which older API servers serve whole from their
// watch cache, ignoring the limit its pager sets. An unset
// resourceVersion honours the limit. The limit itself is left to the
// pager: when a continue token expires, the pager lists again without a
// limit and takes the response as the whole list, so a limit set here
// would keep only the first page. On API servers with streaming lists
// (WatchList), the initial state arrives through the watch instead and
// this is not called.
func pagedList(options metav1.ListOptions) metav1.ListOptions {
	if options.ResourceVersion == "0" && options.Continue == "" {
		options.ResourceVersion = ""
	}
	return options
}

// slimMetadata keeps only a Secret's identity and resourceVersion in the
// informer's cache. Labels and annotations go: the annotation
// kubectl.kubernetes.io/last-applied-configuration may hold the data.
func slimMetadata(in any) (any, error) {
	meta, ok := in.(*metav1.PartialObjectMetadata)
	if !ok {
		return in, nil
	}
	return &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
		Namespace: unique.Make(meta.Namespace).Value(), Name: meta.Name,
		UID: meta.UID, ResourceVersion: meta.ResourceVersion,
	}}, nil
}

// changed marks a Secret pending unless its data was already read at
// this resourceVersion: a resync or relist replays unchanged Secrets.
func (sc *secretScope) changed(obj any) {
	meta, ok := sc.metadataOf(obj)
	if !ok {
		return
	}
	name := cache.MetaObjectToName(meta)
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.parsed[name] == (version{meta.UID, meta.ResourceVersion}) {
		return
	}
	sc.pending[name] = struct{}{}
	sc.signal()
}

func (sc *secretScope) deleted(obj any) {
	meta, ok := sc.metadataOf(obj)
	if !ok {
		return
	}
	name := cache.MetaObjectToName(meta)
	sc.mu.Lock()
	defer sc.mu.Unlock()
	delete(sc.parsed, name)
	delete(sc.pending, name)
	sc.source.remove(name)
}

// metadataOf returns the metadata an informer event carries, unwrapping
// the tombstone of a deletion the watch missed, and logs any other type.
func (sc *secretScope) metadataOf(obj any) (*metav1.PartialObjectMetadata, bool) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	meta, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		sc.source.logger.Error(fmt.Errorf("unexpected object %T in the informer", obj), "Skipped informer event")
	}
	return meta, ok
}

// watched returns the metadata the informer holds for name, if any.
func (sc *secretScope) watched(name cache.ObjectName) (*metav1.PartialObjectMetadata, bool) {
	item, exists, err := sc.informer.GetIndexer().GetByKey(name.String())
	if err != nil || !exists {
		return nil, false
	}
	meta, ok := item.(*metav1.PartialObjectMetadata)
	return meta, ok
}

func (sc *secretScope) signal() {
	select {
	case sc.wake <- struct{}{}:
	default:
	}
}

// run runs the informer and reads pending Secrets until ctx ends. The
// scope is synced once the informer has delivered its initial list and
// every Secret in it has been read.
func (sc *secretScope) run(ctx context.Context) {
	var informer sync.WaitGroup
	defer informer.Wait()
	informer.Go(func() { sc.informer.RunWithContext(ctx) })
	go func() {
		if cache.WaitForCacheSync(ctx.Done(), sc.handler.HasSynced) {
			sc.signal()
		}
	}()
	var backoff time.Duration
	for {
		wait := sc.wake
		if backoff > 0 {
			wait = nil
		}
		select {
		case <-ctx.Done():
			return
		case <-wait:
		case <-afterBackoff(backoff):
		}
		names := sc.takePending()
		if err := sc.read(ctx, names); err != nil {
			if ctx.Err() != nil {
				return
			}
			sc.requeue(names)
			backoff = min(max(2*backoff, 100*time.Millisecond), maxReadBackoff)
			sc.source.logger.Error(err, "Failed to read Secrets, retrying", "namespace", sc.namespace,
				"secrets", len(names), "backoff", backoff)
			continue
		}
		backoff = 0
		// Secrets that became pending during the read signalled the scope
		// again, and so does the informer once it has synced.
		if sc.drained() {
			sc.synced.Store(true)
		}
	}
}

func (sc *secretScope) takePending() []cache.ObjectName {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	names := slices.Collect(maps.Keys(sc.pending))
	clear(sc.pending)
	return names
}

// requeue marks the named Secrets pending again after a failed read,
// except those the informer no longer holds.
func (sc *secretScope) requeue(names []cache.ObjectName) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	for _, name := range names {
		if _, ok := sc.watched(name); ok {
			sc.pending[name] = struct{}{}
		}
	}
}

// drained reports that the informer has delivered its initial list and
// nothing is pending.
func (sc *secretScope) drained() bool {
	if !sc.handler.HasSynced() {
		return false
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return len(sc.pending) == 0
}

// read fetches the data of the named Secrets: one request each for a
// few, one paged list of the scope for many, as on start.
func (sc *secretScope) read(ctx context.Context, names []cache.ObjectName) error {
	if len(names) == 0 {
		return nil
	}
	client, err := sc.newData()
	if err != nil {
		return err
	}
	sc.mu.Lock()
	known := len(sc.parsed)
	sc.mu.Unlock()
	if listsAll(len(names), known) {
		return sc.list(ctx, client, sc.namespace, "")
	}
	for _, name := range names {
		if err := sc.list(ctx, client, name.Namespace, "metadata.name="+name.Name); err != nil {
			return err
		}
	}
	return nil
}

// listsAll reports whether read lists every Secret of the scope for
// changed Secrets out of the known ones it has read before.
func listsAll(changed, known int) bool {
	return changed > max(readOneByOne, known/oneByOneShare)
}

// list reads the Secrets of namespace that the source selects, narrowed
// by the field selector extra, page by page. A single Secret is read with
// a list too, so the exporter needs no permission to get Secrets.
func (sc *secretScope) list(ctx context.Context, client rest.Interface, namespace, extra string) error {
	options := metav1.ListOptions{LabelSelector: sc.source.labelSelector, Limit: listPageSize}
	sc.selectors(&options)
	if extra != "" {
		options.FieldSelector += "," + extra
	}
	for {
		next, err := sc.readPage(ctx, client, namespace, options)
		if err != nil {
			return fmt.Errorf("list Secrets in %q: %w", namespace, err)
		}
		if next == "" {
			return nil
		}
		options.Continue = next
	}
}

// readPageTimeout bounds the read of one page of Secrets.
const readPageTimeout = time.Minute

// readPage reads one page of Secrets into the State and returns the
// continue token of the next. It reads the response into a buffer of its
// own and decodes it without copying it again. So it can wipe every copy
// of the data it held: the buffer, the smaller buffers it outgrew, and
// the decoded Secrets, whether decoding succeeded or not.
func (sc *secretScope) readPage(ctx context.Context, client rest.Interface, namespace string, options metav1.ListOptions) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, readPageTimeout)
	defer cancel()
	stream, err := client.Get().Namespace(namespace).Resource("secrets").
		VersionedParams(&options, scheme.ParameterCodec).Stream(ctx)
	if err != nil {
		return "", err
	}
	defer stream.Close()
	body, err := readWiping(stream, sc.pageSize)
	defer clear(body)
	if err != nil {
		return "", fmt.Errorf("read response: %w", err)
	}
	sc.pageSize = len(body)

	var list corev1.SecretList
	defer func() {
		for i := range list.Items {
			wipeData(&list.Items[i])
		}
	}()
	if err := decodeSecretList(body, &list); err != nil {
		return "", err
	}
	for i := range list.Items {
		sc.store(&list.Items[i])
	}
	return list.Continue, nil
}

// readWiping reads r to the end into a buffer of at least sizeHint bytes.
// When the buffer is full, it copies it into one twice the size and
// zeroes the old one, so no partial copy of the response is left behind.
func readWiping(r io.Reader, sizeHint int) ([]byte, error) {
	buf := make([]byte, 0, max(sizeHint+bytes.MinRead, 64<<10))
	for {
		if len(buf) == cap(buf) {
			bigger := make([]byte, len(buf), 2*cap(buf))
			copy(bigger, buf)
			clear(buf)
			buf = bigger
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// protobufMagic starts every protobuf response of the Kubernetes API.
var protobufMagic = []byte("k8s\x00")

// decodeSecretList decodes a list response, protobuf or JSON, into list.
// A protobuf response is an envelope (runtime.Unknown) whose field 2
// holds the encoded list: it is decoded in place, where the API
// machinery's decoder would copy it first.
func decodeSecretList(body []byte, list *corev1.SecretList) error {
	if !bytes.HasPrefix(body, protobufMagic) {
		if err := json.Unmarshal(body, list); err != nil {
			return fmt.Errorf("decode JSON Secret list: %w", err)
		}
		return nil
	}
	envelope := body[len(protobufMagic):]
	for len(envelope) > 0 {
		number, kind, n := protowire.ConsumeTag(envelope)
		if n < 0 {
			return fmt.Errorf("decode protobuf envelope: %w", protowire.ParseError(n))
		}
		envelope = envelope[n:]
		if number == 2 && kind == protowire.BytesType {
			raw, n := protowire.ConsumeBytes(envelope)
			if n < 0 {
				return fmt.Errorf("decode protobuf envelope: %w", protowire.ParseError(n))
			}
			if err := list.Unmarshal(raw); err != nil {
				return fmt.Errorf("decode protobuf Secret list: %w", err)
			}
			return nil
		}
		n = protowire.ConsumeFieldValue(number, kind, envelope)
		if n < 0 {
			return fmt.Errorf("decode protobuf envelope: %w", protowire.ParseError(n))
		}
		envelope = envelope[n:]
	}
	return errors.New("decode protobuf envelope: no object in the response")
}

// store parses secret into the State unless this version was parsed
// before, then wipes its data. A Secret the informer does not hold, or
// holds with another UID, is skipped: it was deleted or replaced after
// the read, and the informer's next event settles it.
func (sc *secretScope) store(secret *corev1.Secret) {
	defer wipeData(secret)
	name := cache.MetaObjectToName(secret)
	read := version{secret.UID, secret.ResourceVersion}
	sc.mu.Lock()
	parsed := sc.parsed[name]
	sc.mu.Unlock()
	if parsed == read {
		return
	}
	obj := sc.source.summarize(secret)

	sc.mu.Lock()
	defer sc.mu.Unlock()
	if meta, ok := sc.watched(name); !ok || meta.UID != secret.UID {
		return
	}
	sc.parsed[name] = read
	sc.source.apply(obj)
}

// afterBackoff fires after backoff, or never when backoff is zero.
func afterBackoff(backoff time.Duration) <-chan time.Time {
	if backoff == 0 {
		return nil
	}
	return time.After(backoff)
}
