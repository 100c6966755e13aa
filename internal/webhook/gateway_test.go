package webhook

import (
	"context"
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
