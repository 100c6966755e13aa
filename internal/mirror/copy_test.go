package mirror

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshcert/meshcert/internal/wellknown"
)

func TestCopiedKey(t *testing.T) {
	tests := []struct {
		key  string
		want bool
	}{
		{"team", true},
		{"example.com/owner", true},
		{wellknown.Prefix + "fingerprint-sha256", true},
		{wellknown.MirrorLabel, false},
		{wellknown.ManagedByLabel, false},
		{wellknown.ContentHashAnnotation, false},
		{wellknown.DeletionPolicyAnnotation, false},
		{wellknown.LastAppliedAnnotation, false},
		{"meta.helm.sh/release-name", false},
		{"helm.sh/chart", false},
		{"argocd.argoproj.io/tracking-id", false},
		{"kustomize.toolkit.fluxcd.io/name", false},
		{"helm.toolkit.fluxcd.io/namespace", false},
		{"toolkit.fluxcd.io.example.com/name", true},
	}
	for _, tt := range tests {
		if got := copiedKey(tt.key); got != tt.want {
			t.Errorf("copiedKey(%q) = %v, want %v", tt.key, got, tt.want)
		}
	}
}

func TestBuildCopy(t *testing.T) {
	source := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "edge", Name: "cert", UID: "uid-1",
			Labels: map[string]string{
				wellknown.MirrorLabel:          wellknown.True,
				"app.kubernetes.io/managed-by": "Helm",
				"app.kubernetes.io/instance":   "edge",
			},
			Annotations:     map[string]string{"argocd.argoproj.io/tracking-id": "x"},
			Finalizers:      []string{wellknown.MirrorFinalizer},
			OwnerReferences: []metav1.OwnerReference{{Name: "owner"}},
		},
		Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{"tls.crt": []byte("c")},
	}
	copied := buildCopy(source, "cluster-a")

	if copied.Labels[wellknown.SourceClusterLabel] != "cluster-a" || !isCopy(copied) {
		t.Errorf("markers missing: labels %v", copied.Labels)
	}
	for _, key := range []string{wellknown.MirrorLabel, "app.kubernetes.io/managed-by", "app.kubernetes.io/instance"} {
		if _, ok := copied.Labels[key]; ok {
			t.Errorf("label %s copied", key)
		}
	}
	if copied.Annotations[wellknown.SourceUIDAnnotation] != "uid-1" {
		t.Errorf("source UID annotation = %q", copied.Annotations[wellknown.SourceUIDAnnotation])
	}
	if len(copied.Finalizers) != 0 || len(copied.OwnerReferences) != 0 {
		t.Errorf("finalizers %v or owner references %v copied", copied.Finalizers, copied.OwnerReferences)
	}
	if isSource(copied) {
		t.Error("a copy is a source")
	}
	if !copyOf(copied, "cluster-a") || copyOf(copied, "cluster-b") {
		t.Error("copyOf does not match the writing cluster only")
	}
}

func TestContentHash(t *testing.T) {
	base := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "s", UID: "u", Labels: map[string]string{wellknown.MirrorLabel: wellknown.True}},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{"a": []byte("1"), "b": []byte("2")},
	}
	hash := func(mutate func(*corev1.Secret)) string {
		s := base.DeepCopy()
		mutate(s)
		return buildCopy(s, "c").Annotations[wellknown.ContentHashAnnotation]
	}
	same := hash(func(*corev1.Secret) {})
	tests := []struct {
		name    string
		mutate  func(*corev1.Secret)
		changes bool
	}{
		{"unchanged", func(*corev1.Secret) {}, false},
		{"resource version", func(s *corev1.Secret) { s.ResourceVersion = "9" }, false},
		{"tool annotation", func(s *corev1.Secret) { s.Annotations = map[string]string{wellknown.LastAppliedAnnotation: "{}"} }, false},
		{"data", func(s *corev1.Secret) { s.Data["a"] = []byte("3") }, true},
		{"new key", func(s *corev1.Secret) { s.Data["c"] = nil }, true},
		{"type", func(s *corev1.Secret) { s.Type = corev1.SecretTypeTLS }, true},
		{"label", func(s *corev1.Secret) { s.Labels["team"] = "x" }, true},
		{"source uid", func(s *corev1.Secret) { s.UID = "v" }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if changed := hash(tt.mutate) != same; changed != tt.changes {
				t.Errorf("hash changed = %v, want %v", changed, tt.changes)
			}
		})
	}
}

func TestUpToDate(t *testing.T) {
	source := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "s"},
		Data:       map[string][]byte{"a": []byte("1")},
	}
	desired := buildCopy(source, "c")
	edited := desired.DeepCopy()
	edited.Data["a"] = []byte("edited on the peer")
	if !upToDate(desired.DeepCopy(), desired) {
		t.Error("identical copy is not up to date")
	}
	if upToDate(edited, desired) {
		t.Error("copy edited on the peer is up to date")
	}
}

func TestCheckOwner(t *testing.T) {
	p := &peer{name: "p", m: &Mirror{clusterID: "cluster-b"}}
	tests := []struct {
		name     string
		labels   map[string]string
		conflict bool
	}{
		{"unmanaged", nil, true},
		{"own copy", map[string]string{wellknown.ManagedByLabel: wellknown.ManagedByMirror, wellknown.SourceClusterLabel: "cluster-b"}, false},
		{"lower id wins", map[string]string{wellknown.ManagedByLabel: wellknown.ManagedByMirror, wellknown.SourceClusterLabel: "cluster-a"}, true},
		{"higher id yields", map[string]string{wellknown.ManagedByLabel: wellknown.ManagedByMirror, wellknown.SourceClusterLabel: "cluster-c"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			existing := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "s", Labels: tt.labels}}
			if err := p.checkOwner(existing); (err != nil) != tt.conflict {
				t.Errorf("checkOwner = %v, want conflict %v", err, tt.conflict)
			}
		})
	}
}

func TestStalePatch(t *testing.T) {
	createFields := `{"f:data":{"f:ca.crt":{},"f:tls.crt":{}},"f:metadata":{"f:labels":{"f:team":{},"f:keep":{}}}}`
	existing := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			UID:    "u",
			Labels: map[string]string{"team": "edge", "keep": "x", "added-on-peer": "y"},
			ManagedFields: []metav1.ManagedFieldsEntry{{
				Manager:   wellknown.MirrorFieldManager,
				Operation: metav1.ManagedFieldsOperationUpdate,
				FieldsV1:  &metav1.FieldsV1{Raw: []byte(createFields)},
			}},
		},
		Data: map[string][]byte{"ca.crt": nil, "tls.crt": nil},
	}
	desired := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"keep": "x"}},
		Data:       map[string][]byte{"tls.crt": nil},
	}
	patch := stalePatch(existing, desired)
	if patch == nil {
		t.Fatal("stalePatch = nil, want a patch")
	}
	labels := patch["metadata"].(map[string]any)["labels"].(map[string]any)
	if _, ok := labels["team"]; !ok || len(labels) != 1 {
		t.Errorf("stale labels = %v, want team only", labels)
	}
	if data := patch["data"].(map[string]any); len(data) != 1 {
		t.Errorf("stale data = %v, want ca.crt only", data)
	}

	existing.ManagedFields[0].Operation = metav1.ManagedFieldsOperationApply
	if patch := stalePatch(existing, desired); patch != nil {
		t.Errorf("stalePatch with an Apply entry = %v, want nil", patch)
	}
}
