package metrics

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// newUnstartedScope returns a scope of the test exporter's TLS source
// whose informer never runs; the test fills its cache by hand.
func newUnstartedScope(t *testing.T, te *testExporter) *secretScope {
	t.Helper()
	clients, err := newSecretClients(&rest.Config{Host: "https://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	scope, err := newSecretScope(te.sources[sourceSecret], clients, metav1.NamespaceAll, 0)
	if err != nil {
		t.Fatal(err)
	}
	return scope
}

func watchedMetadata(t *testing.T, scope *secretScope, secret *corev1.Secret) {
	t.Helper()
	slim, err := slimMetadata(&metav1.PartialObjectMetadata{ObjectMeta: secret.ObjectMeta})
	if err != nil {
		t.Fatal(err)
	}
	if err := scope.informer.GetIndexer().Add(slim); err != nil {
		t.Fatal(err)
	}
}

func TestStoreParsesEachVersionOnce(t *testing.T) {
	te := newTestExporter(t)
	scope := newUnstartedScope(t, te)
	c := goldenCases(t)[0]
	watchedMetadata(t, scope, fakeSecret(c))

	scope.store(fakeSecret(c))
	first := te.state.snapshot()
	scope.store(fakeSecret(c))
	if again := te.state.snapshot(); len(again) != 1 || again[0] != first[0] {
		t.Error("a Secret with an unchanged resourceVersion was parsed again")
	}

	changed := fakeSecret(c)
	changed.ResourceVersion = "2"
	scope.store(changed)
	if next := te.state.snapshot(); len(next) != 1 || next[0] == first[0] {
		t.Error("a Secret with a new resourceVersion was not parsed again")
	}
}

func TestStoreWipesSecretData(t *testing.T) {
	te := newTestExporter(t)
	scope := newUnstartedScope(t, te)
	secret := fakeSecret(goldenCases(t)[0])
	watchedMetadata(t, scope, secret)
	key := secret.Data[corev1.TLSPrivateKeyKey]

	scope.store(secret)
	if len(secret.Data) != 0 {
		t.Errorf("Secret data has %d keys after the store, want 0", len(secret.Data))
	}
	for i, b := range key {
		if b != 0 {
			t.Fatalf("key byte %d not zeroed", i)
		}
	}
	objects := te.state.snapshot()
	if len(objects) != 1 || len(objects[0].keys) != 2 {
		t.Errorf("State holds %d objects, want 1 with 2 keys (tls.crt, ca.crt)", len(objects))
	}
}

// A read that returns a Secret after the informer dropped it, or saw it
// replaced under the same name, must not bring the old one back.
func TestStoreSkipsSecretsTheInformerLacks(t *testing.T) {
	te := newTestExporter(t)
	scope := newUnstartedScope(t, te)
	c := goldenCases(t)[0]

	scope.store(fakeSecret(c))
	if n := len(te.state.snapshot()); n != 0 {
		t.Errorf("a Secret the informer never saw was stored: State holds %d objects", n)
	}

	replaced := fakeSecret(c)
	replaced.UID = "uid-of-the-new-secret"
	watchedMetadata(t, scope, replaced)
	scope.store(fakeSecret(c))
	if n := len(te.state.snapshot()); n != 0 {
		t.Errorf("a Secret with the UID of its deleted predecessor was stored: State holds %d objects", n)
	}
}

func TestChangedMarksOnlyNewVersionsPending(t *testing.T) {
	te := newTestExporter(t)
	scope := newUnstartedScope(t, te)
	secret := fakeSecret(goldenCases(t)[0])
	watchedMetadata(t, scope, secret)
	meta := &metav1.PartialObjectMetadata{ObjectMeta: secret.ObjectMeta}

	scope.store(secret)
	scope.changed(meta)
	if pending := scope.takePending(); len(pending) != 0 {
		t.Errorf("a replayed Secret at the parsed resourceVersion is pending: %v", pending)
	}
	meta.ResourceVersion = "2"
	scope.changed(meta)
	if pending := scope.takePending(); len(pending) != 1 || pending[0] != cache.MetaObjectToName(meta) {
		t.Errorf("pending after a change = %v, want the changed Secret", pending)
	}
}

func TestSlimMetadataKeepsIdentityOnly(t *testing.T) {
	in := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
		Namespace: "gateways", Name: "edge", UID: "uid-edge", ResourceVersion: "7",
		Labels:        map[string]string{"app": "edge"},
		Annotations:   map[string]string{"kubectl.kubernetes.io/last-applied-configuration": `{"data":{"tls.key":"..."}}`},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
	}}
	out, err := slimMetadata(in)
	if err != nil {
		t.Fatal(err)
	}
	slim := out.(*metav1.PartialObjectMetadata)
	want := metav1.ObjectMeta{Namespace: "gateways", Name: "edge", UID: "uid-edge", ResourceVersion: "7"}
	if slim.Namespace != want.Namespace || slim.Name != want.Name || slim.UID != want.UID ||
		slim.ResourceVersion != want.ResourceVersion || slim.Labels != nil || slim.Annotations != nil || slim.ManagedFields != nil {
		t.Errorf("slimMetadata kept %+v, want only %+v", slim.ObjectMeta, want)
	}
}

func TestListsAllOnlyForLargeShares(t *testing.T) {
	cases := []struct {
		changed, known int
		want           bool
	}{
		{changed: 1, known: 0, want: false},
		{changed: readOneByOne, known: 0, want: false},
		{changed: readOneByOne + 1, known: 0, want: true},
		{changed: 10_000, known: 0, want: true},
		{changed: 200, known: 6_100, want: false},
		{changed: 305, known: 6_100, want: false},
		{changed: 306, known: 6_100, want: true},
	}
	for _, c := range cases {
		if got := listsAll(c.changed, c.known); got != c.want {
			t.Errorf("listsAll(%d changed, %d known) = %t, want %t", c.changed, c.known, got, c.want)
		}
	}
}

func TestRequeueSkipsDeletedSecrets(t *testing.T) {
	te := newTestExporter(t)
	scope := newUnstartedScope(t, te)
	watchedSecret := fakeSecret(goldenCases(t)[0])
	watchedMetadata(t, scope, watchedSecret)
	deleted := cache.ObjectName{Namespace: "gateways", Name: "deleted"}

	scope.requeue([]cache.ObjectName{cache.MetaObjectToName(watchedSecret), deleted})
	pending := scope.takePending()
	if len(pending) != 1 || pending[0] != cache.MetaObjectToName(watchedSecret) {
		t.Errorf("pending after a failed read = %v, want only the Secret the informer holds", pending)
	}
}

// A continue token that expires on the second page makes the reflector's
// pager list again without a limit and take the response as the whole
// list. Every Secret must still reach the informer's store.
func TestPagedListSurvivesExpiredContinue(t *testing.T) {
	const total = 1200
	expired := false
	lw := &cache.ListWatch{
		ListWithContextFunc: func(_ context.Context, options metav1.ListOptions) (runtime.Object, error) {
			options = pagedList(options)
			start := 0
			if options.Continue != "" {
				if !expired {
					expired = true
					return nil, apierrors.NewResourceExpired("continue token expired")
				}
				start, _ = strconv.Atoi(options.Continue)
			}
			end := total
			if options.Limit > 0 {
				end = min(start+int(options.Limit), total)
			}
			list := &metav1.PartialObjectMetadataList{ListMeta: metav1.ListMeta{ResourceVersion: "10"}}
			for i := start; i < end; i++ {
				list.Items = append(list.Items, metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
					Namespace: "gateways", Name: fmt.Sprint("secret-", i), UID: "uid", ResourceVersion: "1"}})
			}
			if end < total {
				list.Continue = strconv.Itoa(end)
			}
			return list, nil
		},
		WatchFuncWithContext: func(_ context.Context, options metav1.ListOptions) (watch.Interface, error) {
			if options.SendInitialEvents != nil {
				return nil, errors.New("streaming lists not served")
			}
			return watch.NewFake(), nil
		},
	}
	store := cache.NewStore(cache.MetaNamespaceKeyFunc)
	reflector := cache.NewReflector(lw, &metav1.PartialObjectMetadata{}, store, 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go reflector.RunWithContext(ctx)
	eventually(t, "the reflector listed", func() bool { return reflector.LastSyncResourceVersion() != "" })
	if n := len(store.List()); n != total {
		t.Errorf("the reflector stored %d of %d Secrets", n, total)
	}
	if !expired {
		t.Error("the continue token never expired, so the test checked nothing")
	}
}
