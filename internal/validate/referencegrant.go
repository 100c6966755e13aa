package validate

import (
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"
)

// GrantsSecret reports whether a ReferenceGrant with spec, in the
// Secret's namespace, lets Gateway API Gateways of fromNamespace refer to
// the core Secret name. A To entry without a name grants every Secret of
// the namespace.
func GrantsSecret(spec *gatewayv1beta1.ReferenceGrantSpec, fromNamespace, name string) bool {
	return grantsFromGateways(spec.From, fromNamespace) && grantsToSecret(spec.To, name)
}

func grantsFromGateways(from []gatewayv1beta1.ReferenceGrantFrom, namespace string) bool {
	for _, f := range from {
		if f.Group == gatewayv1.GroupName && f.Kind == "Gateway" && string(f.Namespace) == namespace {
			return true
		}
	}
	return false
}

func grantsToSecret(to []gatewayv1beta1.ReferenceGrantTo, name string) bool {
	for _, t := range to {
		if t.Group == "" && t.Kind == "Secret" && (t.Name == nil || *t.Name == "" || string(*t.Name) == name) {
			return true
		}
	}
	return false
}
