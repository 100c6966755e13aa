package metrics

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/cache"
)

func TestTransformReusesUnchangedSecret(t *testing.T) {
	te := newTestExporter(t)
	source := te.sources[sourceSecret]
	store := cache.NewStore(cache.MetaNamespaceKeyFunc)
	transform := source.transform(store)
	c := goldenCases(t)[0]

	first := transformSecret(t, transform, fakeSecret(c))
	if err := store.Add(first); err != nil {
		t.Fatal(err)
	}
	if again := transformSecret(t, transform, fakeSecret(c)); again != first {
		t.Error("a Secret with an unchanged resourceVersion was parsed again")
	}

	changed := fakeSecret(c)
	changed.ResourceVersion = "2"
	if next := transformSecret(t, transform, changed); next == first {
		t.Error("a Secret with a new resourceVersion was not parsed again")
	}
}

func TestTransformDropsSecretData(t *testing.T) {
	te := newTestExporter(t)
	transform := te.sources[sourceSecret].transform(cache.NewStore(cache.MetaNamespaceKeyFunc))
	secret := fakeSecret(goldenCases(t)[0])
	key := secret.Data[corev1.TLSPrivateKeyKey]

	summary := transformSecret(t, transform, secret)
	if len(secret.Data) != 0 {
		t.Errorf("Secret data has %d keys after the transform, want 0", len(secret.Data))
	}
	for i, b := range key {
		if b != 0 {
			t.Fatalf("key byte %d not zeroed", i)
		}
	}
	if got := len(summary.object.keys); got != 2 {
		t.Errorf("summary keys = %d, want 2 (tls.crt, ca.crt)", got)
	}
}

func transformSecret(t *testing.T, transform cache.TransformFunc, secret *corev1.Secret) *secretSummary {
	t.Helper()
	out, err := transform(secret)
	if err != nil {
		t.Fatalf("transform: %v", err)
	}
	summary, ok := out.(*secretSummary)
	if !ok {
		t.Fatalf("transform returned %T, want *secretSummary", out)
	}
	return summary
}
