package validate

import (
	"crypto/x509"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/meshcert/meshcert/internal/testcerts"
)

// Long names of the kind production clusters use, for the warnings to hold.
const (
	longNamespace = "payments-production"
	longSecret    = "payments-api-gateway-tls-2026"
	longGateway   = "payments-ingress-gateway"
	longServer    = "https-payments-api-v2"
	longHost      = "checkout.payments.eu-west-1.example.com"
	longCN        = "Payments Production Issuing CA 2026 eu-west-1"
)

// TestWarningsFitOneLine formats every warning the rules produce for
// realistically long names as the webhook does, "KEY: MESSAGE [rule]"
// with the short message, and checks that the line fits
// MaxWarningLength, so that the webhook never cuts a warning's fix.
func TestWarningsFitOneLine(t *testing.T) {
	var findings Findings
	findings = append(findings, secretWarnings(t)...)
	findings = append(findings, istioWarnings(t)...)
	findings = append(findings, gatewayAPIWarnings(t)...)
	findings = append(findings, deleteWarnings()...)

	seen := map[RuleID]bool{}
	for _, f := range findings {
		if f.Action != Warn {
			continue
		}
		seen[f.Rule] = true
		line := fmt.Sprintf("%s [%s]", f.WarningMessage(), f.Rule)
		if f.Key != "" {
			line = f.Key + ": " + line
		}
		if n := len([]rune(line)); n > MaxWarningLength {
			t.Errorf("%s warning has %d characters, more than %d:\n%s", f.Rule, n, MaxWarningLength, line)
		}
	}
	for _, rule := range AllRules() {
		if rule.DefaultAction == Warn && !seen[rule.ID] {
			t.Errorf("no case produces a %s warning", rule.ID)
		}
	}
}

func secretWarnings(t *testing.T) Findings {
	day := 24 * time.Hour
	root := testcerts.New(t, testcerts.Options{CommonName: longCN + " Root", IsCA: true, KeyKind: testcerts.RSA2048,
		KeyIndex: 300, NotBefore: testNow.Add(-day), NotAfter: testNow.Add(5 * day)})
	mid := testcerts.New(t, testcerts.Options{CommonName: longCN, IsCA: true, KeyKind: testcerts.RSA2048,
		KeyIndex: 301, Issuer: root, NotBefore: testNow.Add(-day), NotAfter: testNow.Add(5 * day)})
	leaf := testcerts.New(t, testcerts.Options{CommonName: longHost, IsCA: true, KeyKind: testcerts.ECDSAP256,
		KeyIndex: 302, Issuer: mid, NotBefore: testNow.Add(-day), NotAfter: testNow.Add(10 * day),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, SignatureAlgorithm: x509.SHA1WithRSA})
	other := testcerts.New(t, testcerts.Options{CommonName: longHost, KeyKind: testcerts.ECDSAP256, KeyIndex: 303,
		DNSNames: []string{longHost}})

	chain := join(leaf.CertPEM, mid.CertPEM, mid.CertPEM, root.CertPEM)
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: longNamespace, Name: longSecret},
		Type:       corev1.SecretTypeTLS,
		Data: map[string][]byte{
			KeyTLSCert: chain, KeyTLSKey: leaf.KeyPEM, KeyTLSCA: nil,
			KeyGenericCert: other.CertPEM, KeyGenericKey: other.KeyPEM,
		},
	}
	_, findings := CheckSecret(secret, Policy{}, testNow)
	secret.Data = map[string][]byte{KeyTLSCert: chain, KeyTLSKey: leaf.KeyPEM, KeyTLSCA: root.CertPEM}
	_, more := CheckSecret(secret, Policy{}, testNow)
	findings = append(findings, more...)
	alone := testcerts.New(t, testcerts.Options{CommonName: longHost, KeyKind: testcerts.ECDSAP256, KeyIndex: 305,
		DNSNames: []string{longHost}, Issuer: mid})
	secret.Data = map[string][]byte{KeyTLSCert: alone.CertPEM, KeyTLSKey: alone.KeyPEM}
	_, incomplete := CheckSecret(secret, Policy{}, testNow)
	return append(findings, incomplete...)
}

func istioWarnings(t *testing.T) Findings {
	fx := newIstioFixture(t)
	ns := "istio-system"
	withCA := tlsData(fx.leaf)
	withCA[KeyTLSCA] = fx.chain.CAPEM()
	store := secretStore{
		ns + "/" + longSecret:               newSecret(ns, longSecret, withCA),
		ns + "/" + longSecret + "-cacert":   newSecret(ns, longSecret+"-cacert", map[string][]byte{KeyGenericCA: fx.chain.CAPEM()}),
		ns + "/" + longSecret + "-no-san":   newSecret(ns, longSecret+"-no-san", tlsData(fx.other)),
		ns + "/" + longSecret + "-expiring": newSecret(ns, longSecret+"-expiring", tlsData(expiringLeaf(t))),
	}

	hosts := []string{"*/" + longHost, "*/api." + longHost, "*/admin." + longHost}
	servers := []IstioServer{
		server(longServer, 443, ModeSimple, hosts, "sds://"+longSecret),
		server(longServer+"-missing", 443, ModeSimple, hosts, longSecret+"-next"),
		withCACredential(server(longServer+"-mtls", 8443, ModeMutual, hosts, longSecret), longSecret+"-client-ca"),
		withCACredential(server(longServer+"-mtls-ca", 9443, ModeMutual, hosts, longSecret), "sds://"+longSecret),
		server(longServer+"-mutual", 10443, ModeMutual, hosts, longSecret),
		server(longServer+"-pass", 11443, ModePassthrough, hosts, longSecret),
		server(longServer+"-expiring", 12443, ModeSimple, hosts, longSecret+"-expiring"),
		server(longServer+"-a", 13443, ModeSimple, []string{"*/" + longHost}, longSecret+"-no-san"),
		server(longServer+"-b", 13443, ModeSimple, []string{"*/api." + longHost}, longSecret+"-no-san"),
		server(longServer+"-c", 14443, ModeSimple, []string{"*/*.payments.eu-west-1.example.com"}, longSecret),
		server(longServer+"-d", 14443, ModeSimple, []string{"*/" + longHost}, longSecret+"-expiring"),
	}

	gw := istioGateway(servers...)
	gw.Namespace, gw.Name = longNamespace, longGateway
	var findings Findings
	for _, pods := range [][]string{{ns}, {}} {
		env := IstioEnv{PodNamespaces: pods, FallbackNamespaces: []string{ns, "istio-ingress"}, GetSecret: store.get}
		result, err := CheckIstioGateway(gw, env, Policy{}, testNow)
		if err != nil {
			t.Fatalf("check: %v", err)
		}
		findings = append(findings, result.Findings...)
	}
	return findings
}

func expiringLeaf(t *testing.T) *testcerts.Cert {
	return testcerts.New(t, testcerts.Options{KeyKind: testcerts.ECDSAP256, KeyIndex: 304, DNSNames: []string{longHost},
		NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(5 * 24 * time.Hour)})
}

func gatewayAPIWarnings(t *testing.T) Findings {
	fx := newIstioFixture(t)
	store := secretStore{longNamespace + "/" + longSecret: newSecret(longNamespace, longSecret, tlsData(fx.leaf))}
	denied := func(string, string) (bool, error) { return false, nil }
	configMap := secretRef("", longSecret)
	kind, group := gatewayv1.Kind("ConfigMap"), gatewayv1.Group("")
	configMap.Kind, configMap.Group = &kind, &group
	passthrough := listener(longServer+"-pass", "", secretRef("", longSecret))
	mode := gatewayv1.TLSModePassthrough
	passthrough.TLS.Mode = &mode
	listeners := []gatewayv1.Listener{
		listener(longServer, longHost, secretRef("", longSecret)),
		listener(longServer+"-next", "", secretRef("", longSecret+"-next")),
		listener(longServer+"-shared", "", secretRef("istio-system", longSecret)),
		listener(longServer+"-cm", "", configMap),
		passthrough,
	}
	gw := &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: longNamespace, Name: longGateway},
		Spec: gatewayv1.GatewaySpec{Listeners: listeners}}
	findings, err := CheckGatewayAPIGateway(gw, GatewayAPIEnv{GetSecret: store.get, SecretReferenceGranted: denied}, Policy{}, testNow)
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	return findings
}

func deleteWarnings() Findings {
	secret := newSecret(longNamespace, longSecret, nil)
	use := func(gateway string) SecretUse {
		return SecretUse{Gateway: "Gateway " + longNamespace + "/" + gateway, Server: `server "` + longServer + `" (port 443)`, Served: true}
	}
	one := CheckSecretDelete(secret, []SecretUse{use(longGateway)}, false, Policy{})
	many := CheckSecretDelete(secret, []SecretUse{use(longGateway), use(longGateway + "-canary"), use(longGateway + "-eu")}, false, Policy{})
	return append(one, many...)
}

func TestShareRoom(t *testing.T) {
	tests := []struct {
		name    string
		lengths map[int]int
		room    int
		want    map[int]int
	}{
		{name: "all fit", lengths: map[int]int{0: 10, 2: 20}, room: 40, want: map[int]int{0: 10, 2: 20}},
		{name: "longest cut", lengths: map[int]int{0: 10, 1: 50}, room: 40, want: map[int]int{0: 10, 1: 30}},
		{name: "both cut", lengths: map[int]int{0: 30, 1: 50}, room: 40, want: map[int]int{0: 20, 1: 20}},
		{name: "no room", lengths: map[int]int{0: 30}, room: -5, want: map[int]int{0: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := shareRoom(tt.lengths, tt.room)
			for i, want := range tt.want {
				if got[i] != want {
					t.Errorf("limit of argument %d = %d, want %d", i, got[i], want)
				}
			}
		})
	}
}

func TestDeleteInUseCountsOthers(t *testing.T) {
	findings := deleteWarnings()
	if len(findings) != 2 {
		t.Fatalf("findings %v, want two", findings)
	}
	for i, want := range []string{
		"move Gateway payments-production/payments-ingress-gateway to another Secret first, or it stops serving TLS",
		"move Gateway payments-production/payments-ingress-gateway and 2 others to another Secret first, or they stop serving TLS",
	} {
		if findings[i].Message != want {
			t.Errorf("message %d = %q, want %q", i, findings[i].Message, want)
		}
	}
}
