package webhook

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/meshcert/meshcert/internal/logging"
	"github.com/meshcert/meshcert/internal/validate"
)

// Webhook names of the Gateway webhooks, the values of the webhook label.
const (
	ValidateIstioGatewayName = "validate-istio-gateway"
	ValidateGatewayAPIName   = "validate-gateway-api"
)

// IstioGatewayValidator is the validating webhook of networking.istio.io
// Gateways (v1, v1beta1 and v1alpha3): it checks each TLS server's
// credentials where the gateway pods will read them.
type IstioGatewayValidator struct {
	Policy  validate.Policy
	Lookups *Lookups
	// Now returns the time certificates are judged at; nil means time.Now.
	Now func() time.Time
}

// Handle implements admission.Handler.
func (v *IstioGatewayValidator) Handle(ctx context.Context, req admission.Request) admission.Response {
	start := time.Now()
	response, findings := v.review(ctx, req)
	RecordFindings(ValidateIstioGatewayName, findings)
	RecordRequest(ValidateIstioGatewayName, req.Operation, responseResult(response), time.Since(start))
	return response
}

func (v *IstioGatewayValidator) review(ctx context.Context, req admission.Request) (admission.Response, validate.Findings) {
	log := logr.FromContextOrDiscard(ctx)
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return admission.Allowed(""), nil
	}
	gw, err := validate.DecodeIstioGateway(req.Object.Raw)
	if err != nil {
		log.Error(err, "Failed to decode admission request", "uid", req.UID, "namespace", req.Namespace, "name", req.Name)
		return admission.Errored(http.StatusBadRequest, err), nil
	}
	if gw.Namespace == "" {
		gw.Namespace = req.Namespace
	}
	if req.Operation == admissionv1.Update && istioSpecUnchanged(req, gw) {
		return admission.Allowed("Gateway servers and selector unchanged"), nil
	}
	result, err := v.check(ctx, gw)
	if err != nil {
		log.Error(err, "Failed to look up Gateway credentials", "namespace", gw.Namespace, "name", gw.Name)
		return uncheckedResponse(err), nil
	}
	log.V(logging.Trace).Info("Checked Istio Gateway", "namespace", gw.Namespace, "name", gw.Name,
		"operation", req.Operation, "denials", len(result.Findings.Denials()), "warnings", len(result.Findings.Warnings()))
	return withDetails(ResponseFor(result.Findings), result.Details), result.Findings
}

// istioSpecUnchanged reports whether an update leaves every field the
// checks read as it was, so that a Gateway whose Secret has since broken
// can still be labelled or annotated.
func istioSpecUnchanged(req admission.Request, gw *validate.IstioGateway) bool {
	old, err := validate.DecodeIstioGateway(req.OldObject.Raw)
	return err == nil && reflect.DeepEqual(old.Spec, gw.Spec)
}

// check resolves the gateway workload and checks gw against it.
func (v *IstioGatewayValidator) check(ctx context.Context, gw *validate.IstioGateway) (validate.IstioResult, error) {
	w, err := v.Lookups.selectWorkload(ctx, gw.Spec.Selector)
	if err != nil {
		return validate.IstioResult{}, err
	}
	peers, err := v.Lookups.istioPeers(ctx, gw, w)
	if err != nil {
		return validate.IstioResult{}, err
	}
	keys := istioSecretKeys(gw, v.Lookups.credentialNamespaces(w))
	env := validate.IstioEnv{
		PodNamespaces:      w.namespaces,
		FallbackNamespaces: v.Lookups.FallbackNamespaces,
		GetSecret:          v.Lookups.prefetchedGetter(ctx, keys),
		Peers:              peers,
	}
	return validate.CheckIstioGateway(gw, env, v.Policy, now(v.Now))
}

// withDetails puts the details of an allowed review in its message,
// which API clients and audit logs see and kubectl does not print.
func withDetails(response admission.Response, details []string) admission.Response {
	if !response.Allowed || len(details) == 0 || response.Result == nil {
		return response
	}
	response.Result.Message = strings.Join(details, "; ")
	return response
}

// GatewayAPIValidator is the validating webhook of Gateway API Gateways
// (gateway.networking.k8s.io/v1): it checks the Secrets each listener's
// certificateRefs name.
type GatewayAPIValidator struct {
	Policy  validate.Policy
	Lookups *Lookups
	Decoder admission.Decoder
	// Now returns the time certificates are judged at; nil means time.Now.
	Now func() time.Time
}

// Handle implements admission.Handler.
func (v *GatewayAPIValidator) Handle(ctx context.Context, req admission.Request) admission.Response {
	start := time.Now()
	response, findings := v.review(ctx, req)
	RecordFindings(ValidateGatewayAPIName, findings)
	RecordRequest(ValidateGatewayAPIName, req.Operation, responseResult(response), time.Since(start))
	return response
}

func (v *GatewayAPIValidator) review(ctx context.Context, req admission.Request) (admission.Response, validate.Findings) {
	log := logr.FromContextOrDiscard(ctx)
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return admission.Allowed(""), nil
	}
	gw := &gatewayv1.Gateway{}
	if err := v.Decoder.Decode(req, gw); err != nil {
		err = fmt.Errorf("decode Gateway %s/%s: %w", req.Namespace, req.Name, err)
		log.Error(err, "Failed to decode admission request", "uid", req.UID, "namespace", req.Namespace, "name", req.Name)
		return admission.Errored(http.StatusBadRequest, err), nil
	}
	if gw.Namespace == "" {
		gw.Namespace = req.Namespace
	}
	if req.Operation == admissionv1.Update && v.listenersUnchanged(req, gw) {
		return admission.Allowed("Gateway listeners unchanged"), nil
	}
	env := validate.GatewayAPIEnv{
		GetSecret:              v.Lookups.prefetchedGetter(ctx, gatewayAPISecretKeys(gw)),
		SecretReferenceGranted: v.Lookups.referenceGranted(ctx, gw.Namespace),
	}
	findings, err := validate.CheckGatewayAPIGateway(gw, env, v.Policy, now(v.Now))
	if err != nil {
		log.Error(err, "Failed to look up Gateway credentials", "namespace", gw.Namespace, "name", gw.Name)
		return uncheckedResponse(err), nil
	}
	log.V(logging.Trace).Info("Checked Gateway", "namespace", gw.Namespace, "name", gw.Name,
		"operation", req.Operation, "denials", len(findings.Denials()), "warnings", len(findings.Warnings()))
	return ResponseFor(findings), findings
}

// listenersUnchanged reports whether an update leaves the listeners as
// they were, so that a Gateway whose Secret has since broken can still be
// labelled, annotated or given new addresses.
func (v *GatewayAPIValidator) listenersUnchanged(req admission.Request, gw *gatewayv1.Gateway) bool {
	old := &gatewayv1.Gateway{}
	if err := v.Decoder.DecodeRaw(req.OldObject, old); err != nil {
		return false
	}
	return apiequality.Semantic.DeepEqual(old.Spec.Listeners, gw.Spec.Listeners)
}

// uncheckedReason marks the responses of reviews whose lookups failed.
const uncheckedReason = "meshcert-lookup-failed"

// uncheckedResponse allows a write whose checks could not run because a
// lookup failed, with a warning that says so. Like failurePolicy Ignore
// for an unreachable webhook, it lets the write through rather than
// block Gateways and certificate renewals on an API server hiccup.
func uncheckedResponse(err error) admission.Response {
	response := admission.Allowed(uncheckedReason)
	return response.WithWarnings(truncate("not checked by meshcert, a lookup failed: "+err.Error(), MaxWarningLength))
}
