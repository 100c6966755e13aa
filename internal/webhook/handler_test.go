package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/meshcert/meshcert/internal/testcerts"
	"github.com/meshcert/meshcert/internal/validate"
	"github.com/meshcert/meshcert/internal/wellknown"
)

var decoder = admission.NewDecoder(clientgoscheme.Scheme)

func secretJSON(tb testing.TB, secret *corev1.Secret) []byte {
	tb.Helper()
	raw, err := json.Marshal(secret)
	if err != nil {
		tb.Fatalf("marshal Secret: %v", err)
	}
	return raw
}

func request(operation admissionv1.Operation, object, oldObject []byte) admission.Request {
	return admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID:       "test",
		Operation: operation,
		Namespace: "ns",
		Name:      "web",
		Object:    runtime.RawExtension{Raw: object},
		OldObject: runtime.RawExtension{Raw: oldObject},
	}}
}

func tlsSecret(certPEM, keyPEM []byte) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM},
	}
}

func TestSecretValidatorUpdates(t *testing.T) {
	expired := testcerts.New(t, testcerts.Options{KeyKind: testcerts.ECDSAP256,
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	old := tlsSecret(expired.CertPEM, expired.KeyPEM)
	relabelled := old.DeepCopy()
	relabelled.Labels = map[string]string{"team": "edge"}
	rekeyed := old.DeepCopy()
	rekeyed.Data[corev1.TLSCertKey] = expired.X509.Raw

	validator := &SecretValidator{Policy: validate.DefaultPolicy(), Decoder: decoder}
	tests := []struct {
		name        string
		request     admission.Request
		wantAllowed bool
	}{
		{"create expired", request(admissionv1.Create, secretJSON(t, old), nil), false},
		{"relabel expired", request(admissionv1.Update, secretJSON(t, relabelled), secretJSON(t, old)), true},
		{"break material", request(admissionv1.Update, secretJSON(t, rekeyed), secretJSON(t, old)), false},
		{"delete", request(admissionv1.Delete, nil, secretJSON(t, old)), true},
		{"undecodable", request(admissionv1.Create, []byte("{"), nil), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			response := validator.Handle(context.Background(), tt.request)
			if response.Allowed != tt.wantAllowed {
				t.Errorf("allowed = %t, want %t (%v)", response.Allowed, tt.wantAllowed, response.Result)
			}
		})
	}
}

func TestSecretAnnotatorSkips(t *testing.T) {
	leaf := testcerts.New(t, testcerts.Options{KeyKind: testcerts.ECDSAP256})
	other := testcerts.New(t, testcerts.Options{KeyKind: testcerts.ECDSAP256, KeyIndex: 1})
	managed := tlsSecret(leaf.CertPEM, leaf.KeyPEM)
	managed.Annotations = map[string]string{wellknown.CertManagerCertificateAnnotation: "web"}

	tests := []struct {
		name        string
		secret      *corev1.Secret
		annotator   SecretAnnotator
		wantPatched bool
	}{
		{"valid", tlsSecret(leaf.CertPEM, leaf.KeyPEM), SecretAnnotator{}, true},
		{"broken", tlsSecret(leaf.CertPEM, other.KeyPEM), SecretAnnotator{}, false},
		{"cert-manager", managed, SecretAnnotator{}, false},
		{"cert-manager opted in", managed, SecretAnnotator{AnnotateCertManager: true}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			annotator := tt.annotator
			annotator.Decoder = decoder
			response := annotator.Handle(context.Background(), request(admissionv1.Create, secretJSON(t, tt.secret), nil))
			if !response.Allowed {
				t.Fatalf("mutation denied: %v", response.Result)
			}
			if got := len(response.Patches) > 0; got != tt.wantPatched {
				t.Errorf("patched = %t, want %t (%v)", got, tt.wantPatched, response.Patches)
			}
		})
	}
}

// FuzzSecretHandlers sends arbitrary Secret data and arbitrary raw
// objects through both handlers: no panic, a response every time, and no
// patch outside the annotations.
func FuzzSecretHandlers(f *testing.F) {
	chain := testcerts.NewChain(f, 3, testcerts.Options{KeyKind: testcerts.ECDSAP256})
	f.Add(chain.CertPEM(), chain.Leaf.KeyPEM, []byte(`{"kind":"Secret"}`))
	f.Add([]byte(strings.Repeat(string(chain.Leaf.CertPEM), 300)), chain.Leaf.KeyPEM, []byte(`[`))
	f.Add(chain.Leaf.X509.Raw, []byte{}, []byte(`{"type":"kubernetes.io/tls","data":{"tls.crt":"AAAA"}}`))

	validator := &SecretValidator{Decoder: decoder}
	annotator := &SecretAnnotator{Decoder: decoder}
	f.Fuzz(func(t *testing.T, certPEM, keyPEM, raw []byte) {
		for _, object := range [][]byte{secretJSON(t, tlsSecret(certPEM, keyPEM)), raw} {
			req := request(admissionv1.Create, object, nil)
			validator.Handle(context.Background(), req)
			response := annotator.Handle(context.Background(), req)
			for _, operation := range response.Patches {
				if !strings.HasPrefix(operation.Path, "/metadata/annotations") {
					t.Fatalf("patch touches %s", operation.Path)
				}
			}
		}
	})
}

// listFailingReader fails every List, as a cache that cannot be read.
type listFailingReader struct{ *memoryReader }

func (listFailingReader) List(context.Context, client.ObjectList, ...client.ListOption) error {
	return errors.New("cache not synced")
}

// A Secret deletion whose Gateway lookup fails is allowed with a warning
// and counted as an error, as a Gateway review with a failed lookup is.
func TestSecretValidatorLookupFailureCountsAsError(t *testing.T) {
	chain := testcerts.NewChain(t, 2, testcerts.Options{KeyKind: testcerts.ECDSAP256})
	reader := listFailingReader{&memoryReader{}}
	validator := &SecretValidator{Policy: validate.DefaultPolicy(), Decoder: decoder, Users: &SecretUsers{
		Policy: validate.DefaultPolicy(), Decoder: decoder,
		Lookups: &Lookups{Cache: reader, API: reader, FallbackNamespaces: DefaultGatewayNamespaces},
	}}
	secret := secretJSON(t, tlsSecret(chain.CertPEM(), chain.Leaf.KeyPEM))

	response := validator.Handle(context.Background(), request(admissionv1.Delete, nil, secret))
	if !response.Allowed {
		t.Fatalf("deletion denied: %+v", response.Result)
	}
	if !containsWarning(response.Warnings, "Gateways using it not checked by meshcert, a lookup failed") {
		t.Errorf("warnings %q lack the failed lookup", response.Warnings)
	}
	if got := responseResult(response); got != ResultError {
		t.Errorf("result label %q, want %q", got, ResultError)
	}
}
