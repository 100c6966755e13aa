package validate

import (
	"strings"
	"testing"
)

func TestCheckSecretUpdate(t *testing.T) {
	fx := newIstioFixture(t)
	served := []SecretUse{{Gateway: "Gateway apps/gw", Server: `server "https" (port 443)`, Served: true}}
	mutual := []SecretUse{{Gateway: "Gateway apps/gw", Server: `server "https" (port 443)`, Served: true, VerifiesClients: true}}
	caOnly := []SecretUse{{Gateway: "Gateway apps/gw", Server: `server "https" (port 443)`, VerifiesClients: true}}
	withCA := tlsData(fx.leaf)
	withCA[KeyTLSCA] = fx.chain.CAPEM()

	tests := []struct {
		name   string
		data   map[string][]byte
		uses   []SecretUse
		denied string
	}{
		{name: "valid", data: tlsData(fx.leaf), uses: served},
		{name: "unused", data: tlsData(fx.expired)},
		{name: "expired", data: tlsData(fx.expired), uses: served, denied: "expired"},
		{name: "mismatch", data: map[string][]byte{KeyTLSCert: fx.leaf.CertPEM, KeyTLSKey: fx.other.KeyPEM}, uses: served,
			denied: "key-mismatch"},
		{name: "garbage", data: map[string][]byte{KeyTLSCert: []byte("x"), KeyTLSKey: fx.leaf.KeyPEM}, uses: served, denied: "not-pem"},
		{name: "CA removed", data: tlsData(fx.leaf), uses: mutual, denied: "ca-removed"},
		{name: "CA kept", data: withCA, uses: mutual},
		{name: "CA secret emptied", data: map[string][]byte{"note": []byte("x")}, uses: caOnly, denied: "ca-removed"},
		{name: "CA secret kept", data: map[string][]byte{KeyGenericCA: fx.chain.CAPEM()}, uses: caOnly},
		{name: "served secret lost cert", data: map[string][]byte{KeyTLSCA: fx.chain.CAPEM()}, uses: served,
			denied: "missing-certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			findings := CheckSecretUpdate(newSecret("istio-system", "web", tt.data), tt.uses, Policy{}, testNow)
			if tt.denied == "" {
				if len(findings) != 0 {
					t.Errorf("findings %v, want none", findings)
				}
				return
			}
			if len(findings) != 1 || findings[0].Rule != RuleSecretInUse || findings[0].Action != Deny {
				t.Fatalf("findings %v, want one secret-in-use denial", findings)
			}
			if !strings.Contains(findings[0].Message, tt.denied) || !strings.Contains(findings[0].Message, "Gateway apps/gw") {
				t.Errorf("message %q lacks %q or the Gateway", findings[0].Message, tt.denied)
			}
		})
	}
}

func TestCheckSecretDelete(t *testing.T) {
	uses := []SecretUse{{Gateway: "Gateway apps/gw", Server: `server "https" (port 443)`, Served: true}}
	secret := newSecret("istio-system", "web", nil)
	deny := Policy{Actions: map[RuleID]Action{RuleDeleteInUse: Deny}}
	tests := []struct {
		name        string
		uses        []SecretUse
		terminating bool
		policy      Policy
		want        Action
	}{
		{name: "in use", uses: uses, want: Warn},
		{name: "in use denied", uses: uses, policy: deny, want: Deny},
		{name: "terminating", uses: uses, terminating: true, policy: deny},
		{name: "unused", policy: deny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			findings := CheckSecretDelete(secret, tt.uses, tt.terminating, tt.policy)
			if tt.want == "" {
				if len(findings) != 0 {
					t.Errorf("findings %v, want none", findings)
				}
				return
			}
			if len(findings) != 1 || findings[0].Action != tt.want || !strings.Contains(findings[0].Message, "Gateway apps/gw") {
				t.Errorf("findings %v, want one %s naming the Gateway", findings, tt.want)
			}
		})
	}
}

func TestIstioSecretUses(t *testing.T) {
	gw := istioGateway(
		server("simple", 443, ModeSimple, nil, "web"),
		server("mutual", 8443, ModeMutual, nil, "kubernetes://mtls"),
		withCACredential(server("named", 9443, ModeMutual, nil, "web"), "client-ca"),
		server("pass", 10443, ModePassthrough, nil, "web"),
	)
	noCASecret := func(string, string) (bool, error) { return false, nil }
	caSecret := func(string, string) (bool, error) { return true, nil }
	tests := []struct {
		name      string
		secret    string
		namespace string
		exists    func(string, string) (bool, error)
		want      []SecretUse
	}{
		{name: "served twice", secret: "web", namespace: "istio-system", exists: noCASecret, want: []SecretUse{
			{Server: `server "simple" (port 443)`, Served: true}, {Server: `server "named" (port 9443)`, Served: true}}},
		{name: "other namespace", secret: "web", namespace: "apps", exists: noCASecret},
		{name: "CA inside", secret: "mtls", namespace: "istio-system", exists: noCASecret, want: []SecretUse{
			{Server: `server "mutual" (port 8443)`, Served: true, VerifiesClients: true}}},
		{name: "CA secret exists", secret: "mtls", namespace: "istio-system", exists: caSecret, want: []SecretUse{
			{Server: `server "mutual" (port 8443)`, Served: true}}},
		{name: "CA secret", secret: "mtls-cacert", namespace: "istio-system", exists: caSecret, want: []SecretUse{
			{Server: `server "mutual" (port 8443)`, VerifiesClients: true}}},
		{name: "named CA", secret: "client-ca", namespace: "istio-system", exists: caSecret, want: []SecretUse{
			{Server: `server "named" (port 9443)`, VerifiesClients: true}}},
		{name: "unused", secret: "web-cacert", namespace: "istio-system", exists: caSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			uses, err := IstioSecretUses(gw, tt.namespace, tt.secret, []string{"istio-system"}, tt.exists)
			if err != nil {
				t.Fatalf("uses: %v", err)
			}
			for i := range tt.want {
				tt.want[i].Gateway = "Gateway apps/ingress"
			}
			if len(uses) != len(tt.want) {
				t.Fatalf("uses %+v, want %+v", uses, tt.want)
			}
			for i := range uses {
				if uses[i] != tt.want[i] {
					t.Errorf("use %d = %+v, want %+v", i, uses[i], tt.want[i])
				}
			}
		})
	}
	keys := IstioSecretRefs(gw)
	want := []string{"*/client-ca", "*/mtls", "*/mtls-cacert", "*/web"}
	if strings.Join(keys, " ") != strings.Join(want, " ") {
		t.Errorf("index keys %v, want %v", keys, want)
	}
}
