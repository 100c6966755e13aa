package validate

import (
	"testing"

	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"
)

func TestGrantsSecret(t *testing.T) {
	gatewaysOf := func(namespace string) gatewayv1beta1.ReferenceGrantFrom {
		return gatewayv1beta1.ReferenceGrantFrom{Group: gatewayv1.GroupName, Kind: "Gateway",
			Namespace: gatewayv1.Namespace(namespace)}
	}
	routesOf := gatewayv1beta1.ReferenceGrantFrom{Group: gatewayv1.GroupName, Kind: "HTTPRoute", Namespace: "apps"}
	otherGroup := gatewayv1beta1.ReferenceGrantFrom{Group: "networking.istio.io", Kind: "Gateway", Namespace: "apps"}
	secret := func(name *string) gatewayv1beta1.ReferenceGrantTo {
		to := gatewayv1beta1.ReferenceGrantTo{Group: "", Kind: "Secret"}
		if name != nil {
			to.Name = ptr.To(gatewayv1.ObjectName(*name))
		}
		return to
	}
	configMaps := gatewayv1beta1.ReferenceGrantTo{Group: "", Kind: "ConfigMap"}
	otherGroupSecrets := gatewayv1beta1.ReferenceGrantTo{Group: "example.com", Kind: "Secret"}

	tests := []struct {
		name string
		from []gatewayv1beta1.ReferenceGrantFrom
		to   []gatewayv1beta1.ReferenceGrantTo
		want bool
	}{
		{"named secret", []gatewayv1beta1.ReferenceGrantFrom{gatewaysOf("apps")}, []gatewayv1beta1.ReferenceGrantTo{secret(ptr.To("web"))}, true},
		{"every secret", []gatewayv1beta1.ReferenceGrantFrom{gatewaysOf("apps")}, []gatewayv1beta1.ReferenceGrantTo{secret(nil)}, true},
		{"empty name", []gatewayv1beta1.ReferenceGrantFrom{gatewaysOf("apps")}, []gatewayv1beta1.ReferenceGrantTo{secret(ptr.To(""))}, true},
		{"second entries match", []gatewayv1beta1.ReferenceGrantFrom{routesOf, gatewaysOf("apps")},
			[]gatewayv1beta1.ReferenceGrantTo{configMaps, secret(ptr.To("web"))}, true},
		{"other secret", []gatewayv1beta1.ReferenceGrantFrom{gatewaysOf("apps")}, []gatewayv1beta1.ReferenceGrantTo{secret(ptr.To("db"))}, false},
		{"other namespace", []gatewayv1beta1.ReferenceGrantFrom{gatewaysOf("shop")}, []gatewayv1beta1.ReferenceGrantTo{secret(nil)}, false},
		{"routes only", []gatewayv1beta1.ReferenceGrantFrom{routesOf}, []gatewayv1beta1.ReferenceGrantTo{secret(nil)}, false},
		{"istio gateways", []gatewayv1beta1.ReferenceGrantFrom{otherGroup}, []gatewayv1beta1.ReferenceGrantTo{secret(nil)}, false},
		{"config maps only", []gatewayv1beta1.ReferenceGrantFrom{gatewaysOf("apps")}, []gatewayv1beta1.ReferenceGrantTo{configMaps}, false},
		{"secrets of other group", []gatewayv1beta1.ReferenceGrantFrom{gatewaysOf("apps")},
			[]gatewayv1beta1.ReferenceGrantTo{otherGroupSecrets}, false},
		{"no to", []gatewayv1beta1.ReferenceGrantFrom{gatewaysOf("apps")}, nil, false},
		{"no from", nil, []gatewayv1beta1.ReferenceGrantTo{secret(nil)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := &gatewayv1beta1.ReferenceGrantSpec{From: tt.from, To: tt.to}
			if got := GrantsSecret(spec, "apps", "web"); got != tt.want {
				t.Errorf("GrantsSecret = %t, want %t", got, tt.want)
			}
		})
	}
}
