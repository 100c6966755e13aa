package webhook

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/meshcert/meshcert/internal/testcerts"
	"github.com/meshcert/meshcert/internal/validate"
)

// TestIstioGatewayResponseDetails checks that an allowed review says in
// its message where each credential and client CA is read from.
func TestIstioGatewayResponseDetails(t *testing.T) {
	chain := testcerts.NewChain(t, 2, testcerts.Options{KeyKind: testcerts.ECDSAP256})
	reader := &memoryReader{secrets: map[client.ObjectKey]*corev1.Secret{
		{Namespace: "istio-system", Name: "mtls"}: {Type: corev1.SecretTypeTLS, Data: map[string][]byte{
			corev1.TLSCertKey: chain.CertPEM(), corev1.TLSPrivateKeyKey: chain.Leaf.KeyPEM, validate.KeyTLSCA: chain.CAPEM()}},
	}}
	validator := &IstioGatewayValidator{
		Policy:  validate.DefaultPolicy(),
		Lookups: &Lookups{Cache: reader, API: reader, FallbackNamespaces: DefaultGatewayNamespaces},
	}
	raw := []byte(`{"metadata":{"name":"gw","namespace":"apps"},"spec":{"selector":{"istio":"ingressgateway"},
		"servers":[{"port":{"number":443,"name":"https","protocol":"HTTPS"},"hosts":["example.com"],
		"tls":{"mode":"MUTUAL","credentialName":"mtls"}}]}}`)
	req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		Operation: admissionv1.Create, Namespace: "apps", Name: "gw", Object: kruntime.RawExtension{Raw: raw}}}

	response := validator.Handle(context.Background(), req)
	if !response.Allowed {
		t.Fatalf("review denied: %+v", response.Result)
	}
	for _, want := range []string{
		`server "https" (port 443) serves Secret istio-system/mtls`,
		"verifies clients with the CA of Secret istio-system/mtls (from the credential Secret, as no Secret mtls-cacert exists)",
	} {
		if !strings.Contains(response.Result.Message, want) {
			t.Errorf("message %q lacks %q", response.Result.Message, want)
		}
	}
	if !containsWarning(response.Warnings, "no pod matches selector istio=ingressgateway") {
		t.Errorf("warnings %q lack the no-gateway-pods warning", response.Warnings)
	}
}

func containsWarning(warnings []string, want string) bool {
	for _, warning := range warnings {
		if strings.Contains(warning, want) {
			return true
		}
	}
	return false
}

// failingReader fails every Get, as an API server that cannot be reached.
type failingReader struct{ *memoryReader }

func (failingReader) Get(context.Context, client.ObjectKey, client.Object, ...client.GetOption) error {
	return errors.New("connection refused")
}

func TestIstioGatewayLookupFailureAllows(t *testing.T) {
	reader := &memoryReader{}
	validator := &IstioGatewayValidator{
		Policy:  validate.DefaultPolicy(),
		Lookups: &Lookups{Cache: reader, API: failingReader{reader}, FallbackNamespaces: DefaultGatewayNamespaces},
	}
	raw := []byte(`{"metadata":{"name":"gw","namespace":"apps"},"spec":{"selector":{"istio":"ingressgateway"},
		"servers":[{"port":{"number":443,"name":"https","protocol":"HTTPS"},"hosts":["example.com"],
		"tls":{"mode":"SIMPLE","credentialName":"web"}}]}}`)
	req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		Operation: admissionv1.Create, Namespace: "apps", Name: "gw", Object: kruntime.RawExtension{Raw: raw}}}

	response := validator.Handle(context.Background(), req)
	if !response.Allowed {
		t.Fatalf("review denied: %+v", response.Result)
	}
	if !containsWarning(response.Warnings, "not checked by meshcert, a lookup failed: get Secret istio-system/web") {
		t.Errorf("warnings %q lack the failed lookup", response.Warnings)
	}
	if got := responseResult(response); got != ResultError {
		t.Errorf("result label %q, want %q", got, ResultError)
	}
}

func TestIstioSecretKeys(t *testing.T) {
	gw := &validate.IstioGateway{Namespace: "apps", Name: "gw", Spec: validate.IstioGatewaySpec{Servers: []validate.IstioServer{
		{Port: validate.IstioPort{Number: 443}, TLS: &validate.IstioServerTLS{Mode: validate.ModeMutual, CredentialName: "web"}},
		{Port: validate.IstioPort{Number: 8443}, TLS: &validate.IstioServerTLS{Mode: validate.ModeSimple,
			CredentialName: "kubernetes://certs/shared"}},
	}}}
	var got []string
	for _, key := range istioSecretKeys(gw, []string{"istio-system", "edge"}) {
		got = append(got, key.String())
	}
	slices.Sort(got)
	want := []string{"certs/shared", "edge/web", "edge/web-cacert", "istio-system/web", "istio-system/web-cacert"}
	if !slices.Equal(got, want) {
		t.Errorf("keys %v, want %v", got, want)
	}
}

func TestPrefetchedGetter(t *testing.T) {
	web := &corev1.Secret{Data: map[string][]byte{"tls.crt": []byte("x")}}
	reader := &memoryReader{secrets: map[client.ObjectKey]*corev1.Secret{
		{Namespace: "istio-system", Name: "web"}:   web,
		{Namespace: "istio-system", Name: "other"}: web,
	}}
	lookups := &Lookups{API: reader}
	get := lookups.prefetchedGetter(context.Background(), []client.ObjectKey{
		{Namespace: "istio-system", Name: "web"}, {Namespace: "istio-system", Name: "missing"}})
	tests := []struct {
		name  string
		found bool
	}{{"web", true}, {"missing", false}, {"other", true}}
	for _, tt := range tests {
		secret, err := get("istio-system", tt.name)
		if err != nil {
			t.Fatalf("get %s: %v", tt.name, err)
		}
		if found := secret != nil; found != tt.found {
			t.Errorf("get %s: found %v, want %v", tt.name, found, tt.found)
		}
	}
}
