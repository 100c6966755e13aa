package validate

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshcert/meshcert/internal/testcerts"
)

// secretStore is a SecretGetter over a fixed set of Secrets.
type secretStore map[string]*corev1.Secret

func (s secretStore) get(namespace, name string) (*corev1.Secret, error) {
	return s[namespace+"/"+name], nil
}

func newSecret(namespace, name string, data map[string][]byte) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}, Data: data}
}

func tlsData(cert *testcerts.Cert) map[string][]byte {
	return map[string][]byte{KeyTLSCert: cert.CertPEM, KeyTLSKey: cert.KeyPEM}
}

func server(name string, port uint32, mode string, hosts []string, credentials ...string) IstioServer {
	s := IstioServer{Name: name, Port: IstioPort{Number: port, Protocol: "HTTPS", Name: name}, Hosts: hosts,
		TLS: &IstioServerTLS{Mode: mode}}
	if len(credentials) == 1 {
		s.TLS.CredentialName = credentials[0]
	} else {
		s.TLS.CredentialNames = credentials
	}
	return s
}

func istioGateway(servers ...IstioServer) *IstioGateway {
	return &IstioGateway{Namespace: "apps", Name: "ingress", Spec: IstioGatewaySpec{
		Selector: map[string]string{"istio": "ingressgateway"}, Servers: servers}}
}

// istioFixture holds the certificates the Istio tests share.
type istioFixture struct {
	leaf, other, expired *testcerts.Cert
	chain                *testcerts.Chain
}

func newIstioFixture(t *testing.T) istioFixture {
	t.Helper()
	return istioFixture{
		leaf: testcerts.New(t, testcerts.Options{KeyKind: testcerts.ECDSAP256,
			DNSNames: []string{"example.com", "*.example.com"}}),
		other: testcerts.New(t, testcerts.Options{KeyKind: testcerts.ECDSAP256, KeyIndex: 1}),
		expired: testcerts.New(t, testcerts.Options{KeyKind: testcerts.ECDSAP256, NotBefore: testNow.Add(-48 * time.Hour),
			NotAfter: testNow.Add(-24 * time.Hour)}),
		chain: testcerts.NewChain(t, 2, testcerts.Options{KeyKind: testcerts.ECDSAP256, KeyIndex: 2}),
	}
}

func TestCheckIstioGateway(t *testing.T) {
	fx := newIstioFixture(t)
	hosts := []string{"apps/example.com"}
	withCA := tlsData(fx.leaf)
	withCA[KeyTLSCA] = fx.chain.CAPEM()
	store := secretStore{
		"istio-system/web":          newSecret("istio-system", "web", tlsData(fx.leaf)),
		"istio-system/mtls":         newSecret("istio-system", "mtls", withCA),
		"istio-system/split":        newSecret("istio-system", "split", tlsData(fx.leaf)),
		"istio-system/both":         newSecret("istio-system", "both", withCA),
		"istio-system/both-cacert":  newSecret("istio-system", "both-cacert", map[string][]byte{KeyGenericCA: fx.chain.CAPEM()}),
		"istio-system/split-cacert": newSecret("istio-system", "split-cacert", map[string][]byte{KeyGenericCA: fx.chain.CAPEM()}),
		"istio-system/empty-cacert": newSecret("istio-system", "empty-cacert", map[string][]byte{"other": []byte("x")}),
		"istio-system/empty":        newSecret("istio-system", "empty", withCA),
		"istio-system/client-ca":    newSecret("istio-system", "client-ca", map[string][]byte{KeyTLSCA: fx.chain.CAPEM()}),
		"istio-system/old":          newSecret("istio-system", "old", tlsData(fx.expired)),
		"istio-system/mismatch":     newSecret("istio-system", "mismatch", map[string][]byte{KeyTLSCert: fx.leaf.CertPEM, KeyTLSKey: fx.other.KeyPEM}),
		"istio-system/bad-ca":       newSecret("istio-system", "bad-ca", map[string][]byte{KeyTLSCert: fx.leaf.CertPEM, KeyTLSKey: fx.leaf.KeyPEM, KeyTLSCA: []byte("nope")}),
		"istio-system/no-san":       newSecret("istio-system", "no-san", tlsData(fx.other)),
		"other/web":                 newSecret("other", "web", tlsData(fx.leaf)),
	}
	tests := []struct {
		name    string
		servers []IstioServer
		pods    []string
		want    []RuleID
		detail  string
	}{
		{name: "simple valid", servers: []IstioServer{server("https", 443, ModeSimple, hosts, "web")}, detail: "serves Secret istio-system/web"},
		{name: "kubernetes scheme", servers: []IstioServer{server("https", 443, ModeSimple, hosts, "kubernetes://web")}},
		{name: "same namespace explicit", servers: []IstioServer{server("https", 443, ModeSimple, hosts, "kubernetes://istio-system/web")}},
		{name: "cross namespace", servers: []IstioServer{server("https", 443, ModeSimple, hosts, "kubernetes://other/web")},
			want: []RuleID{RuleCrossNamespaceCredential}},
		{name: "cross namespace gateway scheme", servers: []IstioServer{server("https", 443, ModeSimple, hosts, "kubernetes-gateway://other/web")},
			want: []RuleID{RuleCrossNamespaceCredential}},
		{name: "invalid name", servers: []IstioServer{server("https", 443, ModeSimple, hosts, "kubernetes-gateway://web")},
			want: []RuleID{RuleInvalidCredentialName}},
		{name: "sds", servers: []IstioServer{server("https", 443, ModeSimple, hosts, "sds://vault")}, want: []RuleID{RuleUncheckedCredential}},
		{name: "builtin", servers: []IstioServer{server("https", 443, ModeSimple, hosts, "builtin://")}, want: []RuleID{RuleUncheckedCredential}},
		{name: "not found", servers: []IstioServer{server("https", 443, ModeSimple, hosts, "later")}, want: []RuleID{RuleCredentialNotFound}},
		{name: "pods elsewhere", pods: []string{"other"}, servers: []IstioServer{server("https", 443, ModeSimple, hosts, "web")},
			detail: "serves Secret other/web"},
		{name: "no pods", pods: []string{}, servers: []IstioServer{server("https", 443, ModeSimple, hosts, "web")},
			want: []RuleID{RuleNoGatewayPods}},
		{name: "expired", servers: []IstioServer{server("https", 443, ModeSimple, hosts, "old")}, want: []RuleID{RuleUnusableCredential}},
		{name: "key mismatch", servers: []IstioServer{server("https", 443, ModeSimple, hosts, "mismatch")},
			want: []RuleID{RuleUnusableCredential}},
		{name: "bad CA ignored by simple", servers: []IstioServer{server("https", 443, ModeSimple, hosts, "bad-ca")}},
		{name: "bad CA breaks mutual", servers: []IstioServer{server("https", 443, ModeMutual, hosts, "bad-ca")},
			want: []RuleID{RuleUnusableCredential}},
		{name: "mutual CA inside", servers: []IstioServer{server("https", 443, ModeMutual, hosts, "mtls")},
			detail: "CA of Secret istio-system/mtls (from the credential Secret"},
		{name: "mutual CA secret", servers: []IstioServer{server("https", 443, ModeOptionalMutual, hosts, "split")},
			detail: "CA of Secret istio-system/split-cacert"},
		{name: "mutual CA shadowed", servers: []IstioServer{server("https", 443, ModeMutual, hosts, "both")},
			want: []RuleID{RuleShadowedClientCA}, detail: "CA of Secret istio-system/both-cacert"},
		{name: "mutual named CA shadowed", servers: []IstioServer{withCACredential(server("https", 443, ModeMutual, hosts, "mtls"), "client-ca")},
			want: []RuleID{RuleShadowedClientCA}},
		{name: "mutual CA secret empty", servers: []IstioServer{server("https", 443, ModeMutual, hosts, "empty")},
			want: []RuleID{RuleMissingClientCA, RuleShadowedClientCA}},
		{name: "mutual named CA", servers: []IstioServer{withCACredential(server("https", 443, ModeMutual, hosts, "web"), "client-ca")},
			detail: "(from caCertCredentialName)"},
		{name: "mutual named CA missing", servers: []IstioServer{withCACredential(server("https", 443, ModeMutual, hosts, "web"), "nope")},
			want: []RuleID{RuleCredentialNotFound}},
		{name: "mutual without CA", servers: []IstioServer{server("https", 443, ModeMutual, hosts, "web")},
			want: []RuleID{RuleMissingClientCA}},
		{name: "host not covered", servers: []IstioServer{server("https", 443, ModeSimple, []string{"*", "a.b.example.com", "example.com"}, "web")},
			want: []RuleID{RuleHostNotCovered}},
		{name: "no san", servers: []IstioServer{server("https", 443, ModeSimple, []string{"*"}, "no-san")}},
		{name: "istio mutual", servers: []IstioServer{server("https", 443, ModeIstioMutual, hosts, "web")},
			want: []RuleID{RuleIstioMutualCredential}},
		{name: "passthrough", servers: []IstioServer{server("tls", 443, ModePassthrough, hosts, "web")}, want: []RuleID{RuleIgnoredCredential}},
		{name: "unset mode", servers: []IstioServer{server("tls", 443, "", hosts, "web")}, want: []RuleID{RuleIgnoredCredential}},
		{name: "auto passthrough", servers: []IstioServer{server("tls", 443, ModeAutoPassthrough, hosts, "web")},
			want: []RuleID{RuleIgnoredCredential}},
		{name: "two credentials", servers: []IstioServer{server("https", 443, ModeSimple, hosts, "web", "mtls")}},
		{name: "three credentials", servers: []IstioServer{server("https", 443, ModeSimple, hosts, "web", "mtls", "old")},
			want: []RuleID{RuleInvalidCredentialName}},
		{name: "same credential same port", servers: []IstioServer{
			server("a", 443, ModeSimple, []string{"a.example.com"}, "web"),
			server("b", 443, ModeSimple, []string{"b.example.com"}, "web")},
			want: []RuleID{RuleServerConflict}},
		{name: "same credential other port", servers: []IstioServer{
			server("a", 443, ModeSimple, []string{"a.example.com"}, "web"),
			server("b", 8443, ModeSimple, []string{"b.example.com"}, "web")}},
		{name: "overlapping hosts", servers: []IstioServer{
			server("a", 443, ModeSimple, []string{"*.example.com"}, "web"),
			server("b", 443, ModeSimple, []string{"a.example.com"}, "mtls")},
			want: []RuleID{RuleServerConflict}},
		{name: "distinct hosts", servers: []IstioServer{
			server("a", 443, ModeSimple, []string{"a.example.com"}, "web"),
			server("b", 443, ModeSimple, []string{"b.example.com"}, "mtls")}},
		{name: "plain http", servers: []IstioServer{{Name: "http", Port: IstioPort{Number: 80}, Hosts: hosts}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pods := tt.pods
			if pods == nil {
				pods = []string{"istio-system"}
			}
			env := IstioEnv{PodNamespaces: pods, FallbackNamespaces: []string{"istio-system"}, GetSecret: store.get}
			result, err := CheckIstioGateway(istioGateway(tt.servers...), env, Policy{}, testNow)
			if err != nil {
				t.Fatalf("check: %v", err)
			}
			assertRules(t, result.Findings, tt.want)
			if tt.detail != "" && !slices.ContainsFunc(result.Details, func(d string) bool { return strings.Contains(d, tt.detail) }) {
				t.Errorf("details %q lack %q", result.Details, tt.detail)
			}
		})
	}
}

func withCACredential(s IstioServer, name string) IstioServer {
	s.TLS.CACertCredentialName = name
	return s
}

// assertRules fails unless findings have exactly the rules of want, in
// any order, and each names the Gateway.
func assertRules(t *testing.T, findings Findings, want []RuleID) {
	t.Helper()
	got := rules(findings)
	slices.Sort(got)
	got = slices.Compact(got)
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Errorf("rules %v, want %v; findings: %v", got, want, findings)
	}
	for _, f := range findings {
		if !strings.HasPrefix(f.Object, "Gateway") {
			t.Errorf("finding %q does not name the Gateway", f)
		}
	}
}

func TestCheckIstioGatewayMessages(t *testing.T) {
	fx := newIstioFixture(t)
	store := secretStore{"istio-system/old": newSecret("istio-system", "old", tlsData(fx.expired))}
	env := IstioEnv{PodNamespaces: []string{"istio-system", "edge"}, GetSecret: store.get}
	gw := istioGateway(server("https", 443, ModeSimple, []string{"example.com"}, "old"))
	result, err := CheckIstioGateway(gw, env, Policy{}, testNow)
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	messages := make([]string, 0, len(result.Findings))
	for _, f := range result.Findings {
		messages = append(messages, f.String())
	}
	joined := strings.Join(messages, "\n")
	for _, want := range []string{
		`Gateway apps/ingress: server "https" (port 443): Secret istio-system/old cannot be served: key tls.crt block 1: the leaf certificate expired`,
		`Secret old not found in edge, where the gateway pods run`,
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("messages lack %q:\n%s", want, joined)
		}
	}
}

func TestCheckIstioGatewayPeers(t *testing.T) {
	fx := newIstioFixture(t)
	store := secretStore{"istio-system/web": newSecret("istio-system", "web", tlsData(fx.leaf))}
	peer := istioGateway(server("main", 443, ModeSimple, []string{"example.com"}, "web"))
	peer.Name = "main"
	env := IstioEnv{PodNamespaces: []string{"istio-system"}, GetSecret: store.get, Peers: []*IstioGateway{peer}}
	gw := istioGateway(server("https", 443, ModeSimple, []string{"*.example.com"}, "kubernetes://web"))
	result, err := CheckIstioGateway(gw, env, Policy{}, testNow)
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	assertRules(t, result.Findings, []RuleID{RuleServerConflict})
	if len(result.Findings) == 1 && !strings.Contains(result.Findings[0].Message, "Gateway apps/main server \"main\" (port 443) share credential web") {
		t.Errorf("message %q does not name the peer server", result.Findings[0].Message)
	}
}

func TestCheckIstioGatewayLookupError(t *testing.T) {
	failing := func(string, string) (*corev1.Secret, error) { return nil, errors.New("connection refused") }
	env := IstioEnv{PodNamespaces: []string{"istio-system"}, GetSecret: failing}
	_, err := CheckIstioGateway(istioGateway(server("https", 443, ModeSimple, nil, "web")), env, Policy{}, testNow)
	if err == nil || !strings.Contains(err.Error(), "get Secret istio-system/web") {
		t.Errorf("error %v, want one naming the Secret", err)
	}
}

func TestCheckIstioGatewayIgnoredRule(t *testing.T) {
	env := IstioEnv{PodNamespaces: []string{"istio-system"}, GetSecret: secretStore{}.get}
	policy := Policy{Actions: map[RuleID]Action{RuleCredentialNotFound: Ignore}}
	result, err := CheckIstioGateway(istioGateway(server("https", 443, ModeSimple, nil, "web")), env, policy, testNow)
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	assertRules(t, result.Findings, nil)
}

func TestDecodeIstioGateway(t *testing.T) {
	raw := []byte(`{"apiVersion":"networking.istio.io/v1alpha3","kind":"Gateway",
		"metadata":{"name":"gw","namespace":"apps"},
		"spec":{"selector":{"istio":"ingressgateway"},"servers":[{"port":{"number":443,"name":"https","protocol":"HTTPS"},
		"hosts":["a.example.com"],"tls":{"mode":"MUTUAL","credentialName":"web","caCertCredentialName":"ca"}}]}}`)
	gw, err := DecodeIstioGateway(raw)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if gw.ObjectName() != "Gateway apps/gw" {
		t.Errorf("object name %q", gw.ObjectName())
	}
	tls := gw.Spec.Servers[0].TLS
	if tls.Mode != ModeMutual || tls.CredentialName != "web" || tls.CACertCredentialName != "ca" {
		t.Errorf("tls %+v", tls)
	}
	if gw.Spec.Servers[0].Port.Number != 443 {
		t.Errorf("port %d", gw.Spec.Servers[0].Port.Number)
	}
	if _, err := DecodeIstioGateway([]byte(`{"spec":{"servers":"x"}}`)); err == nil {
		t.Error("decoded servers of the wrong type")
	}
}

func FuzzDecodeIstioGateway(f *testing.F) {
	f.Add([]byte(`{"metadata":{"name":"gw"},"spec":{"servers":[{"port":{"number":443},"tls":{"mode":"SIMPLE","credentialName":"a"}}]}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		gw, err := DecodeIstioGateway(raw)
		if err != nil {
			return
		}
		env := IstioEnv{PodNamespaces: []string{"istio-system"}, GetSecret: secretStore{}.get}
		if _, err := CheckIstioGateway(gw, env, Policy{}, testNow); err != nil {
			t.Fatalf("check: %v", err)
		}
	})
}
