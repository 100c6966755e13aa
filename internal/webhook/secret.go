package webhook

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/meshcert/meshcert/internal/logging"
	"github.com/meshcert/meshcert/internal/validate"
)

// SecretValidator is the validating webhook of certificate Secrets: it
// denies a create or an update whose material would break a gateway, and
// warns about material that works but needs attention.
type SecretValidator struct {
	Policy  validate.Policy
	Decoder admission.Decoder
	// Now returns the time certificates are judged at; nil means time.Now.
	Now func() time.Time
	// Users, when set, also checks updates and deletions against the
	// Gateways that use the Secret.
	Users *SecretUsers
}

// Handle implements admission.Handler.
func (v *SecretValidator) Handle(ctx context.Context, req admission.Request) admission.Response {
	start := time.Now()
	response, findings := v.review(ctx, req)
	response, findings = withUsers(ctx, v.Users, req, response, findings)
	RecordFindings(ValidateSecretName, findings)
	RecordRequest(ValidateSecretName, req.Operation, responseResult(response), time.Since(start))
	return response
}

func (v *SecretValidator) review(ctx context.Context, req admission.Request) (admission.Response, validate.Findings) {
	log := logr.FromContextOrDiscard(ctx)
	secret, oldSecret, err := decodeSecrets(v.Decoder, req)
	if err != nil {
		log.Error(err, "Failed to decode admission request", "uid", req.UID, "namespace", req.Namespace, "name", req.Name)
		return admission.Errored(http.StatusBadRequest, err), nil
	}
	if secret == nil || !validate.IsCertificateSecret(secret) {
		return admission.Allowed("not a certificate Secret"), nil
	}
	if oldSecret != nil && !validate.MaterialChanged(oldSecret, secret) {
		return admission.Allowed("certificate material unchanged"), nil
	}

	_, findings := validate.CheckSecret(secret, v.Policy, now(v.Now))
	response := ResponseFor(findings)
	log.V(logging.Trace).Info("Checked Secret", "namespace", secret.Namespace, "name", secret.Name,
		"operation", req.Operation, "dryRun", req.DryRun != nil && *req.DryRun,
		"denials", len(findings.Denials()), "warnings", len(findings.Warnings()))
	return response, findings
}

// decodeSecrets decodes the object of a CREATE or UPDATE request and, for
// an UPDATE, the old object. It returns nil for other operations.
func decodeSecrets(decoder admission.Decoder, req admission.Request) (secret, oldSecret *corev1.Secret, err error) {
	switch req.Operation {
	case admissionv1.Create, admissionv1.Update:
	default:
		return nil, nil, nil
	}
	secret = &corev1.Secret{}
	if err := decoder.Decode(req, secret); err != nil {
		return nil, nil, fmt.Errorf("decode Secret %s/%s: %w", req.Namespace, req.Name, err)
	}
	if req.Operation != admissionv1.Update {
		return secret, nil, nil
	}
	oldSecret = &corev1.Secret{}
	if err := decoder.DecodeRaw(req.OldObject, oldSecret); err != nil {
		return nil, nil, fmt.Errorf("decode old Secret %s/%s: %w", req.Namespace, req.Name, err)
	}
	return secret, oldSecret, nil
}

// responseResult classifies a response for the result label. A review
// whose lookups failed (uncheckedResponse) counts as an error, although
// the write was allowed.
func responseResult(response admission.Response) string {
	var code int32
	if response.Result != nil {
		if response.Result.Message == uncheckedReason {
			return ResultError
		}
		code = response.Result.Code
	}
	return resultOf(response.Allowed, response.Warnings, code)
}

func now(clock func() time.Time) time.Time {
	if clock == nil {
		return time.Now()
	}
	return clock()
}
