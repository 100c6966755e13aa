package webhook

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/meshcert/meshcert/internal/logging"
	"github.com/meshcert/meshcert/internal/validate"
)

// SecretUsers checks updates and deletions of Secrets against the
// Gateways that use them, found through the cache's Secret indexes.
type SecretUsers struct {
	Policy  validate.Policy
	Lookups *Lookups
	Decoder admission.Decoder
	// Now returns the time certificates are judged at; nil means time.Now.
	Now func() time.Time
}

// Check returns the findings of an UPDATE that changes a used Secret's
// material or of a DELETE of a used Secret; other requests have none.
func (u *SecretUsers) Check(ctx context.Context, req admission.Request) (validate.Findings, error) {
	switch req.Operation {
	case admissionv1.Update:
		return u.checkUpdate(ctx, req)
	case admissionv1.Delete:
		return u.checkDelete(ctx, req)
	default:
		return nil, nil
	}
}

func (u *SecretUsers) checkUpdate(ctx context.Context, req admission.Request) (validate.Findings, error) {
	secret, oldSecret := &corev1.Secret{}, &corev1.Secret{}
	if err := u.Decoder.Decode(req, secret); err != nil {
		return nil, fmt.Errorf("decode Secret %s/%s: %w", req.Namespace, req.Name, err)
	}
	if err := u.Decoder.DecodeRaw(req.OldObject, oldSecret); err != nil {
		return nil, fmt.Errorf("decode old Secret %s/%s: %w", req.Namespace, req.Name, err)
	}
	if !validate.MaterialChanged(oldSecret, secret) {
		return nil, nil
	}
	uses, err := u.uses(ctx, secret.Namespace, secret.Name)
	if err != nil {
		return nil, err
	}
	return validate.CheckSecretUpdate(secret, uses, u.Policy, now(u.Now)), nil
}

func (u *SecretUsers) checkDelete(ctx context.Context, req admission.Request) (validate.Findings, error) {
	secret := &corev1.Secret{}
	if len(req.OldObject.Raw) > 0 {
		if err := u.Decoder.DecodeRaw(req.OldObject, secret); err != nil {
			return nil, fmt.Errorf("decode deleted Secret %s/%s: %w", req.Namespace, req.Name, err)
		}
	}
	secret.Namespace, secret.Name = req.Namespace, req.Name
	uses, err := u.uses(ctx, secret.Namespace, secret.Name)
	if err != nil || len(uses) == 0 {
		return nil, err
	}
	terminating, err := u.Lookups.namespaceTerminating(ctx, secret.Namespace)
	if err != nil {
		return nil, err
	}
	return validate.CheckSecretDelete(secret, uses, terminating, u.Policy), nil
}

// uses returns the servers and listeners that read the Secret
// namespace/name.
func (u *SecretUsers) uses(ctx context.Context, namespace, name string) ([]validate.SecretUse, error) {
	istio, err := u.istioUses(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	gatewayAPI, err := u.gatewayAPIUses(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	return append(istio, gatewayAPI...), nil
}

func (u *SecretUsers) istioUses(ctx context.Context, namespace, name string) ([]validate.SecretUse, error) {
	if u.Lookups.NoIstio {
		return nil, nil
	}
	var uses []validate.SecretUse
	// A Gateway may name the Secret both ways; it is checked once.
	seen := map[string]bool{}
	for _, key := range []string{validate.SecretIndexKey("", name), validate.SecretIndexKey(namespace, name)} {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(IstioGatewayGVK.GroupVersion().WithKind("GatewayList"))
		if err := u.Lookups.Cache.List(ctx, list, client.MatchingFields{secretRefIndex: key}); err != nil {
			return nil, fmt.Errorf("list Istio Gateways using Secret %s/%s: %w", namespace, name, err)
		}
		for i := range list.Items {
			id := list.Items[i].GetNamespace() + "/" + list.Items[i].GetName()
			if seen[id] {
				continue
			}
			seen[id] = true
			gwUses, err := u.istioGatewayUses(ctx, &list.Items[i], namespace, name)
			if err != nil {
				return nil, err
			}
			uses = append(uses, gwUses...)
		}
	}
	return uses, nil
}

func (u *SecretUsers) istioGatewayUses(ctx context.Context, object *unstructured.Unstructured, namespace, name string) ([]validate.SecretUse, error) {
	gw, err := istioGatewayFromObject(object)
	if err != nil {
		// A Gateway the API server accepted but that does not convert
		// cannot be served by Istio either.
		logr.FromContextOrDiscard(ctx).V(logging.Debug).Info("Skipped unreadable Istio Gateway",
			"namespace", object.GetNamespace(), "name", object.GetName(), "err", err)
		return nil, nil
	}
	w, err := u.Lookups.selectWorkload(ctx, gw.Spec.Selector)
	if err != nil {
		return nil, err
	}
	return validate.IstioSecretUses(gw, namespace, name, u.Lookups.credentialNamespaces(w), u.Lookups.secretExists(ctx))
}

func (u *SecretUsers) gatewayAPIUses(ctx context.Context, namespace, name string) ([]validate.SecretUse, error) {
	if u.Lookups.NoGatewayAPI {
		return nil, nil
	}
	list := &gatewayv1.GatewayList{}
	if err := u.Lookups.Cache.List(ctx, list, client.MatchingFields{secretRefIndex: validate.SecretIndexKey(namespace, name)}); err != nil {
		return nil, fmt.Errorf("list Gateways using Secret %s/%s: %w", namespace, name, err)
	}
	var uses []validate.SecretUse
	for i := range list.Items {
		gw := &list.Items[i]
		if gw.Namespace != namespace {
			granted, err := u.Lookups.referenceGranted(ctx, gw.Namespace)(namespace, name)
			if err != nil {
				return nil, err
			}
			if !granted {
				continue
			}
		}
		uses = append(uses, validate.GatewayAPISecretUses(gw, namespace, name)...)
	}
	return uses, nil
}

// withUsers adds the findings of users to a Secret review: a denial of a
// write that breaks the Gateways using the Secret, or a warning about the
// deletion of one. A review that already failed is returned as it is.
func withUsers(ctx context.Context, users *SecretUsers, req admission.Request,
	response admission.Response, findings validate.Findings) (admission.Response, validate.Findings) {
	if users == nil || (req.Operation != admissionv1.Update && req.Operation != admissionv1.Delete) {
		return response, findings
	}
	if response.Result != nil && response.Result.Code >= http.StatusBadRequest && response.Result.Code != http.StatusForbidden {
		return response, findings
	}
	more, err := users.Check(ctx, req)
	if err != nil {
		// The Secret's own checks stand; only the Gateway check is skipped.
		logr.FromContextOrDiscard(ctx).Error(err, "Failed to look up the Gateways using a Secret",
			"namespace", req.Namespace, "name", req.Name, "operation", req.Operation)
		warning := truncate("Gateways using it not checked by meshcert, a lookup failed: "+err.Error(), MaxWarningLength)
		response.Warnings = append(response.Warnings, warning)
		if response.Allowed {
			// Counted as an error, like a Gateway review whose lookup
			// failed: the write passed without the check.
			if response.Result == nil {
				response.Result = &metav1.Status{}
			}
			response.Result.Message = uncheckedReason
		}
		return response, findings
	}
	if len(more) == 0 {
		return response, findings
	}
	all := append(findings, more...)
	return ResponseFor(all), all
}
