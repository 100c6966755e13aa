package mirror

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshcert/meshcert/internal/wellknown"
)

// removeStaleKeys deletes the labels, annotations and data keys that the
// copy's create wrote and the source no longer has. Create records its
// fields under an Update entry of meshcert's field manager. Server-side
// apply removes only the fields of its own Apply entry, so it would leave
// these keys behind.
func (p *peer) removeStaleKeys(ctx context.Context, conn *connection, existing, desired *corev1.Secret) error {
	patch := stalePatch(existing, desired)
	if patch == nil {
		return nil
	}
	encoded, err := json.Marshal(patch)
	if err != nil {
		return fmt.Errorf("encode stale key patch: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, p.m.opts.PeerTimeout)
	defer cancel()
	err = conn.client.Patch(ctx, existing.DeepCopy(), client.RawPatch(types.MergePatchType, encoded), client.FieldOwner(wellknown.MirrorFieldManager))
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("remove stale keys from copy %s: %w", client.ObjectKeyFromObject(existing), err)
	}
	return nil
}

// stalePatch returns a JSON merge patch that removes the keys owned by
// meshcert's Update entry and absent from desired, or nil when there are
// none. The patch carries the copy's UID as a precondition.
func stalePatch(existing, desired *corev1.Secret) map[string]any {
	owned := ownedByCreate(existing.ManagedFields)
	labels := staleIn(owned["f:metadata"]["f:labels"], existing.Labels, desired.Labels)
	annotations := staleIn(owned["f:metadata"]["f:annotations"], existing.Annotations, desired.Annotations)
	data := staleData(owned[""]["f:data"], existing.Data, desired.Data)
	if len(labels)+len(annotations)+len(data) == 0 {
		return nil
	}
	return map[string]any{
		"metadata": map[string]any{"uid": existing.UID, "labels": labels, "annotations": annotations},
		"data":     data,
	}
}

// ownedByCreate returns the key sets of meshcert's Update entries, indexed
// by parent field ("f:metadata" or "" for the top level) and field name.
func ownedByCreate(entries []metav1.ManagedFieldsEntry) map[string]map[string]map[string]any {
	owned := map[string]map[string]map[string]any{"f:metadata": {}, "": {}}
	for _, entry := range entries {
		if entry.Manager != wellknown.MirrorFieldManager || entry.Operation != metav1.ManagedFieldsOperationUpdate || entry.FieldsV1 == nil {
			continue
		}
		var fields struct {
			Metadata struct {
				Labels      map[string]any `json:"f:labels"`
				Annotations map[string]any `json:"f:annotations"`
			} `json:"f:metadata"`
			Data map[string]any `json:"f:data"`
		}
		if json.Unmarshal(entry.FieldsV1.Raw, &fields) != nil {
			continue
		}
		owned["f:metadata"]["f:labels"] = merge(owned["f:metadata"]["f:labels"], fields.Metadata.Labels)
		owned["f:metadata"]["f:annotations"] = merge(owned["f:metadata"]["f:annotations"], fields.Metadata.Annotations)
		owned[""]["f:data"] = merge(owned[""]["f:data"], fields.Data)
	}
	return owned
}

func merge(into, from map[string]any) map[string]any {
	if into == nil {
		into = map[string]any{}
	}
	for key, value := range from {
		into[key] = value
	}
	return into
}

func staleIn(owned map[string]any, existing, desired map[string]string) map[string]any {
	stale := map[string]any{}
	for key := range existing {
		if _, wanted := desired[key]; !wanted && owned["f:"+key] != nil {
			stale[key] = nil
		}
	}
	return stale
}

func staleData(owned map[string]any, existing, desired map[string][]byte) map[string]any {
	stale := map[string]any{}
	for key := range existing {
		if _, wanted := desired[key]; !wanted && owned["f:"+key] != nil {
			stale[key] = nil
		}
	}
	return stale
}
