package validate

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func listener(name string, hostname string, refs ...gatewayv1.SecretObjectReference) gatewayv1.Listener {
	l := gatewayv1.Listener{Name: gatewayv1.SectionName(name), Port: 443, Protocol: gatewayv1.HTTPSProtocolType,
		TLS: &gatewayv1.ListenerTLSConfig{CertificateRefs: refs}}
	if hostname != "" {
		h := gatewayv1.Hostname(hostname)
		l.Hostname = &h
	}
	return l
}

func secretRef(namespace, name string) gatewayv1.SecretObjectReference {
	ref := gatewayv1.SecretObjectReference{Name: gatewayv1.ObjectName(name)}
	if namespace != "" {
		ns := gatewayv1.Namespace(namespace)
		ref.Namespace = &ns
	}
	return ref
}

func TestCheckGatewayAPIGateway(t *testing.T) {
	fx := newIstioFixture(t)
	store := secretStore{
		"apps/web":    newSecret("apps", "web", tlsData(fx.leaf)),
		"apps/old":    newSecret("apps", "old", tlsData(fx.expired)),
		"certs/web":   newSecret("certs", "web", tlsData(fx.leaf)),
		"certs/other": newSecret("certs", "other", tlsData(fx.leaf)),
	}
	granted := func(namespace, name string) (bool, error) { return namespace == "certs" && name == "web", nil }
	configMap := secretRef("", "ca")
	kind, group := gatewayv1.Kind("ConfigMap"), gatewayv1.Group("")
	configMap.Kind, configMap.Group = &kind, &group
	passthrough := listener("tls", "", secretRef("", "web"))
	mode := gatewayv1.TLSModePassthrough
	passthrough.TLS.Mode = &mode

	tests := []struct {
		name     string
		listener gatewayv1.Listener
		want     []RuleID
	}{
		{name: "valid", listener: listener("https", "a.example.com", secretRef("", "web"))},
		{name: "expired", listener: listener("https", "", secretRef("", "old")), want: []RuleID{RuleUnusableCredential}},
		{name: "not found", listener: listener("https", "", secretRef("", "later")), want: []RuleID{RuleCredentialNotFound}},
		{name: "granted", listener: listener("https", "", secretRef("certs", "web"))},
		{name: "not granted", listener: listener("https", "", secretRef("certs", "other")), want: []RuleID{RuleMissingReferenceGrant}},
		{name: "not granted missing", listener: listener("https", "", secretRef("certs", "none")), want: []RuleID{RuleMissingReferenceGrant}},
		{name: "other kind", listener: listener("https", "", configMap), want: []RuleID{RuleUnsupportedCertificate}},
		{name: "host not covered", listener: listener("https", "x.example.org", secretRef("", "web")), want: []RuleID{RuleHostNotCovered}},
		{name: "passthrough", listener: passthrough, want: []RuleID{RuleIgnoredCredential}},
		{name: "plain http", listener: gatewayv1.Listener{Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gw := &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "gw"},
				Spec: gatewayv1.GatewaySpec{Listeners: []gatewayv1.Listener{tt.listener}}}
			findings, err := CheckGatewayAPIGateway(gw, GatewayAPIEnv{GetSecret: store.get, SecretReferenceGranted: granted}, Policy{}, testNow)
			if err != nil {
				t.Fatalf("check: %v", err)
			}
			assertRules(t, findings, tt.want)
		})
	}
}

// TestMissingReferenceGrantHidesExistence checks that the message for an
// existing Secret equals the one for a missing Secret.
func TestMissingReferenceGrantHidesExistence(t *testing.T) {
	fx := newIstioFixture(t)
	store := secretStore{"certs/web": newSecret("certs", "web", tlsData(fx.leaf))}
	deny := func(string, string) (bool, error) { return false, nil }
	message := func(name string) string {
		gw := &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "gw"},
			Spec: gatewayv1.GatewaySpec{Listeners: []gatewayv1.Listener{listener("https", "", secretRef("certs", name))}}}
		findings, err := CheckGatewayAPIGateway(gw, GatewayAPIEnv{GetSecret: store.get, SecretReferenceGranted: deny}, Policy{}, testNow)
		if err != nil || len(findings) != 1 {
			t.Fatalf("findings %v, error %v", findings, err)
		}
		return strings.ReplaceAll(findings[0].Message, name, "NAME")
	}
	if existing, missing := message("web"), message("none"); existing != missing {
		t.Errorf("messages differ:\n%s\n%s", existing, missing)
	}
}
