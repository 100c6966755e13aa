package mirror

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshcert/meshcert/internal/wellknown"
)

// Keys of other tools that meshcert does not copy, because a copy that
// carried them would look to that tool like an object it manages.
const (
	helmManagedByLabel = "app.kubernetes.io/managed-by"
	helmManagedByValue = "Helm"
	argoInstanceLabel  = "app.kubernetes.io/instance"
	fluxDomainSuffix   = ".toolkit.fluxcd.io"
)

var toolKeyPrefixes = []string{"meta.helm.sh/", "helm.sh/", "argocd.argoproj.io/"}

// markerKeys are meshcert's own keys that never pass from a source to a
// copy: the copy gets its own markers, and a copy is never a source.
var markerKeys = map[string]bool{
	wellknown.MirrorLabel:               true,
	wellknown.ManagedByLabel:            true,
	wellknown.SourceClusterLabel:        true,
	wellknown.SourceNamespaceAnnotation: true,
	wellknown.SourceNameAnnotation:      true,
	wellknown.SourceUIDAnnotation:       true,
	wellknown.ContentHashAnnotation:     true,
	wellknown.DeletionPolicyAnnotation:  true,
}

// buildCopy returns the Secret that a peer holds for source: its type,
// data, labels and annotations less the keys of tools that track the
// source, plus meshcert's markers and the content hash.
func buildCopy(source *corev1.Secret, clusterID string) *corev1.Secret {
	argo := trackedByArgo(source)
	labels := make(map[string]string, len(source.Labels)+2)
	for key, value := range source.Labels {
		if copiedKey(key) && !droppedLabel(key, value, argo) {
			labels[key] = value
		}
	}
	labels[wellknown.ManagedByLabel] = wellknown.ManagedByMirror
	labels[wellknown.SourceClusterLabel] = clusterID

	annotations := make(map[string]string, len(source.Annotations)+4)
	for key, value := range source.Annotations {
		if copiedKey(key) {
			annotations[key] = value
		}
	}
	annotations[wellknown.SourceNamespaceAnnotation] = source.Namespace
	annotations[wellknown.SourceNameAnnotation] = source.Name
	annotations[wellknown.SourceUIDAnnotation] = string(source.UID)

	copied := &corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{
			Namespace:   source.Namespace,
			Name:        source.Name,
			Labels:      labels,
			Annotations: annotations,
		},
		Type:      source.Type,
		Data:      maps.Clone(source.Data),
		Immutable: source.Immutable,
	}
	annotations[wellknown.ContentHashAnnotation] = contentHash(copied)
	return copied
}

// copiedKey reports whether a label or annotation key passes to a copy.
func copiedKey(key string) bool {
	if markerKeys[key] || key == wellknown.LastAppliedAnnotation {
		return false
	}
	for _, prefix := range toolKeyPrefixes {
		if strings.HasPrefix(key, prefix) {
			return false
		}
	}
	domain, _, found := strings.Cut(key, "/")
	return !found || !strings.HasSuffix(domain, fluxDomainSuffix)
}

func droppedLabel(key, value string, argo bool) bool {
	switch key {
	case helmManagedByLabel:
		return value == helmManagedByValue
	case argoInstanceLabel:
		return argo
	}
	return false
}

// trackedByArgo reports whether Argo CD tracks the Secret: it carries an
// Argo CD key, or an Argo CD field manager owns its instance label.
func trackedByArgo(secret *corev1.Secret) bool {
	for _, keys := range []map[string]string{secret.Labels, secret.Annotations} {
		for key := range keys {
			if strings.HasPrefix(key, "argocd.argoproj.io/") {
				return true
			}
		}
	}
	owned := []byte(`"f:` + argoInstanceLabel + `"`)
	for _, entry := range secret.ManagedFields {
		if strings.Contains(entry.Manager, "argocd") && entry.FieldsV1 != nil &&
			bytes.Contains(entry.FieldsV1.Raw, owned) {
			return true
		}
	}
	return false
}

// contentHash returns the SHA-256 of everything a copy carries except the
// hash itself, so an unchanged source hashes to the value on its copy.
func contentHash(secret *corev1.Secret) string {
	annotations := maps.Clone(secret.Annotations)
	delete(annotations, wellknown.ContentHashAnnotation)
	content := struct {
		Type        corev1.SecretType `json:"type"`
		Data        map[string][]byte `json:"data"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
		Immutable   *bool             `json:"immutable,omitempty"`
	}{secret.Type, secret.Data, secret.Labels, annotations, secret.Immutable}
	// json.Marshal sorts map keys, so the encoding is canonical.
	encoded, err := json.Marshal(content)
	if err != nil {
		panic("encode secret content: " + err.Error())
	}
	sum := sha256.Sum256(encoded)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// upToDate reports whether the copy on a peer matches desired: same hash
// and the same type and data, which catches an edit made on the peer.
func upToDate(existing, desired *corev1.Secret) bool {
	if existing.Annotations[wellknown.ContentHashAnnotation] != desired.Annotations[wellknown.ContentHashAnnotation] {
		return false
	}
	if existing.Type != desired.Type || len(existing.Data) != len(desired.Data) {
		return false
	}
	for key, value := range desired.Data {
		if got, ok := existing.Data[key]; !ok || !bytes.Equal(got, value) {
			return false
		}
	}
	return true
}

// isCopy reports whether a Secret is a copy written by a mirror controller.
func isCopy(secret *corev1.Secret) bool {
	return secret.Labels[wellknown.ManagedByLabel] == wellknown.ManagedByMirror
}

// isSource reports whether a Secret should be copied to the peers.
func isSource(secret *corev1.Secret) bool {
	return secret != nil && secret.DeletionTimestamp.IsZero() &&
		secret.Labels[wellknown.MirrorLabel] == wellknown.True && !isCopy(secret)
}

// copyOf reports whether existing is clusterID's copy of the Secret named
// by its own namespace and name.
func copyOf(existing *corev1.Secret, clusterID string) bool {
	return isCopy(existing) &&
		existing.Labels[wellknown.SourceClusterLabel] == clusterID &&
		existing.Annotations[wellknown.SourceNamespaceAnnotation] == existing.Namespace &&
		existing.Annotations[wellknown.SourceNameAnnotation] == existing.Name
}

// orphanPolicy reports whether the source's deletion policy keeps its
// copies when it is deleted or unlabelled.
func orphanPolicy(source *corev1.Secret) bool {
	return source != nil && source.Annotations[wellknown.DeletionPolicyAnnotation] == wellknown.DeletionPolicyOrphan
}
