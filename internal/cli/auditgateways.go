package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/meshcert/meshcert/internal/validate"
)

// defaultGatewayNamespaces is the default of the webhook's flag of the
// same name: where an Istio Gateway's credentials are checked when its
// selector matches no pod.
var defaultGatewayNamespaces = []string{"istio-system"}

var referenceGrants = schema.GroupVersionResource{Group: gatewayAPIGroup, Version: "v1beta1", Resource: "referencegrants"}

// gatewayAuditor checks Gateways with the webhook's Gateway rules, reading
// what the checks need straight from the API server.
type gatewayAuditor struct {
	client             *clusterClient
	ctx                context.Context
	policy             validate.Policy
	now                time.Time
	fallbackNamespaces []string
	warn               io.Writer
	// workloads caches the pods a selector matches, by selector.
	workloads map[string]*podWorkload
}

// podWorkload is the set of pods an Istio Gateway selector matches.
type podWorkload struct {
	selector   map[string]string
	namespaces []string
	podLabels  []labels.Set
}

// gatewayObjectFindings is one Gateway and its findings.
type gatewayObjectFindings struct {
	kind, namespace, name string
	findings              validate.Findings
}

// auditGateways checks every Istio and Gateway API Gateway of namespace
// ("" for all).
func (a *gatewayAuditor) auditGateways(namespace string) ([]gatewayObjectFindings, error) {
	istio, err := a.client.gatewayObjects(a.ctx, istioGateways, namespace, a.warn)
	if err != nil {
		return nil, err
	}
	results, err := a.auditIstio(istio)
	if err != nil {
		return nil, err
	}
	gateways, err := a.client.gatewayObjects(a.ctx, gatewayAPIGateways, namespace, a.warn)
	if err != nil {
		return nil, err
	}
	for i := range gateways {
		result, err := a.auditGatewayAPI(&gateways[i])
		if err != nil {
			return nil, err
		}
		results = append(results, result)
	}
	return results, nil
}

func (a *gatewayAuditor) auditIstio(objects []unstructured.Unstructured) ([]gatewayObjectFindings, error) {
	gateways := make([]*validate.IstioGateway, 0, len(objects))
	for i := range objects {
		raw, err := json.Marshal(objects[i].Object)
		if err != nil {
			return nil, fmt.Errorf("encode Istio Gateway %s/%s: %w", objects[i].GetNamespace(), objects[i].GetName(), err)
		}
		gateway, err := validate.DecodeIstioGateway(raw)
		if err != nil {
			return nil, fmt.Errorf("Istio Gateway %s/%s is invalid: %w", objects[i].GetNamespace(), objects[i].GetName(), err)
		}
		gateways = append(gateways, gateway)
	}
	results := make([]gatewayObjectFindings, 0, len(gateways))
	for _, gateway := range gateways {
		findings, err := a.checkIstio(gateway, gateways)
		if err != nil {
			return nil, err
		}
		results = append(results, gatewayObjectFindings{kind: "Gateway.networking.istio.io", namespace: gateway.Namespace,
			name: gateway.Name, findings: findings})
	}
	return results, nil
}

func (a *gatewayAuditor) checkIstio(gateway *validate.IstioGateway, all []*validate.IstioGateway) (validate.Findings, error) {
	workload, err := a.workload(gateway.Spec.Selector)
	if err != nil {
		return nil, err
	}
	var peers []*validate.IstioGateway
	for _, other := range all {
		if other != gateway && workload.shares(other.Spec.Selector) {
			peers = append(peers, other)
		}
	}
	env := validate.IstioEnv{
		PodNamespaces:      workload.namespaces,
		FallbackNamespaces: a.fallbackNamespaces,
		GetSecret:          a.getSecret,
		Peers:              peers,
	}
	result, err := validate.CheckIstioGateway(gateway, env, a.policy, a.now)
	if err != nil {
		return nil, fmt.Errorf("check Istio Gateway %s/%s: %w", gateway.Namespace, gateway.Name, err)
	}
	return result.Findings, nil
}

// workload returns the pods, in every namespace, that selector matches.
// An empty selector matches no pod, as in the webhook. Pods the user may
// not list count as none, with a warning.
func (a *gatewayAuditor) workload(selector map[string]string) (*podWorkload, error) {
	key := labels.SelectorFromSet(selector).String()
	if w, ok := a.workloads[key]; ok {
		return w, nil
	}
	w := &podWorkload{selector: selector}
	a.workloads[key] = w
	if len(selector) == 0 {
		return w, nil
	}

	err := a.listPods(key, w)
	if apierrors.IsForbidden(err) {
		fmt.Fprintf(a.warn, "Warning: cannot list Pods labelled %s (forbidden), so credentials are checked in %v\n",
			key, a.fallbackNamespaces)
		return w, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list Pods labelled %s: %w", key, err)
	}
	return w, nil
}

// listPods fills w with the namespaces and labels of the pods that match
// the label selector and are not being deleted.
func (a *gatewayAuditor) listPods(selector string, w *podWorkload) error {
	namespaces := map[string]bool{}
	err := a.client.listPages(a.ctx, func(options metav1.ListOptions) (string, error) {
		options.LabelSelector = selector
		pods, err := a.client.core.CoreV1().Pods("").List(a.ctx, options)
		if err != nil {
			return "", err
		}
		for _, pod := range pods.Items {
			if pod.DeletionTimestamp == nil {
				namespaces[pod.Namespace] = true
				w.podLabels = append(w.podLabels, pod.Labels)
			}
		}
		return pods.Continue, nil
	})
	for namespace := range namespaces {
		w.namespaces = append(w.namespaces, namespace)
	}
	sort.Strings(w.namespaces)
	return err
}

// shares reports whether selector picks a pod of w or, when w has no pod,
// whether it equals w's selector.
func (w *podWorkload) shares(selector map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	if len(w.podLabels) == 0 {
		return labels.Equals(selector, w.selector)
	}
	match := labels.SelectorFromSet(selector)
	for _, podLabels := range w.podLabels {
		if match.Matches(podLabels) {
			return true
		}
	}
	return false
}

// getSecret reads a Secret from the API server; a missing one is nil.
func (a *gatewayAuditor) getSecret(namespace, name string) (*corev1.Secret, error) {
	secret, err := a.client.core.CoreV1().Secrets(namespace).Get(a.ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get Secret %s/%s: %w", namespace, name, err)
	}
	return secret, nil
}

func (a *gatewayAuditor) auditGatewayAPI(object *unstructured.Unstructured) (gatewayObjectFindings, error) {
	var gateway gatewayv1.Gateway
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(object.Object, &gateway); err != nil {
		return gatewayObjectFindings{}, fmt.Errorf("decode Gateway %s/%s: %w", object.GetNamespace(), object.GetName(), err)
	}
	env := validate.GatewayAPIEnv{
		GetSecret:              a.getSecret,
		SecretReferenceGranted: a.referenceGranted(gateway.Namespace),
	}
	findings, err := validate.CheckGatewayAPIGateway(&gateway, env, a.policy, a.now)
	if err != nil {
		return gatewayObjectFindings{}, fmt.Errorf("check Gateway %s/%s: %w", gateway.Namespace, gateway.Name, err)
	}
	return gatewayObjectFindings{kind: "Gateway.gateway.networking.k8s.io", namespace: gateway.Namespace,
		name: gateway.Name, findings: findings}, nil
}

// referenceGranted returns whether a ReferenceGrant in the Secret's
// namespace lets Gateways of fromNamespace use the Secret.
func (a *gatewayAuditor) referenceGranted(fromNamespace string) func(namespace, name string) (bool, error) {
	return func(namespace, name string) (bool, error) {
		grants, err := a.client.listObjects(a.ctx, referenceGrants, namespace)
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("list ReferenceGrants in %s: %w", namespace, err)
		}
		for i := range grants {
			var grant gatewayv1beta1.ReferenceGrant
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(grants[i].Object, &grant); err != nil {
				return false, fmt.Errorf("decode ReferenceGrant %s/%s: %w", namespace, grants[i].GetName(), err)
			}
			if validate.GrantsSecret(&grant.Spec, fromNamespace, name) {
				return true, nil
			}
		}
		return false, nil
	}
}
