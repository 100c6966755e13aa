package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/meshcert/meshcert/internal/testcerts"
	"github.com/meshcert/meshcert/internal/validate"
)

// memoryReader is an in-memory stand-in for the manager's informer cache
// and for a cache of Secrets: Pods by the label index, Istio Gateways,
// and Secrets by key. It copies what it returns, as the cache does.
type memoryReader struct {
	pods     []metav1.PartialObjectMetadata
	gateways []unstructured.Unstructured
	secrets  map[client.ObjectKey]*corev1.Secret
}

func (r *memoryReader) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	secret, ok := obj.(*corev1.Secret)
	if !ok {
		return fmt.Errorf("memoryReader cannot get a %T", obj)
	}
	stored, found := r.secrets[key]
	if !found {
		return apierrors.NewNotFound(corev1.Resource("secrets"), key.Name)
	}
	stored.DeepCopyInto(secret)
	return nil
}

func (r *memoryReader) List(_ context.Context, list client.ObjectList, opts ...client.ListOption) error {
	switch list := list.(type) {
	case *metav1.PartialObjectMetadataList:
		listOptions := (&client.ListOptions{}).ApplyOptions(opts)
		pair, _ := listOptions.FieldSelector.RequiresExactMatch(podLabelIndex)
		for i := range r.pods {
			if slices.Contains(podLabels(&r.pods[i]), pair) {
				list.Items = append(list.Items, *r.pods[i].DeepCopy())
			}
		}
	case *unstructured.UnstructuredList:
		for i := range r.gateways {
			list.Items = append(list.Items, *r.gateways[i].DeepCopy())
		}
	default:
		return fmt.Errorf("memoryReader cannot list a %T", list)
	}
	return nil
}

// benchmarkGateway returns a Gateway with servers TLS servers, each with
// its own Secret (a leaf and an intermediate), and a reader holding them.
func benchmarkGateway(b *testing.B, servers int) ([]byte, *memoryReader) {
	reader := &memoryReader{secrets: map[client.ObjectKey]*corev1.Secret{}}
	pod := metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: "istio-system", Name: "ingress",
		Labels: map[string]string{"istio": "ingressgateway", "app": "istio-ingressgateway"}}}
	reader.pods = append(reader.pods, pod)

	var specServers []any
	for i := range servers {
		host := fmt.Sprintf("shop-%d.example.com", i)
		kind := testcerts.ECDSAP256
		if i%2 == 1 {
			kind = testcerts.RSA2048
		}
		chain := testcerts.NewChain(b, 3, testcerts.Options{KeyKind: kind, KeyIndex: i, DNSNames: []string{host},
			NotAfter: time.Now().Add(60 * 24 * time.Hour)})
		name := fmt.Sprintf("shop-%d", i)
		reader.secrets[client.ObjectKey{Namespace: "istio-system", Name: name}] = &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: "istio-system", Name: name},
			Type:       corev1.SecretTypeTLS,
			Data:       map[string][]byte{corev1.TLSCertKey: chain.CertPEM(), corev1.TLSPrivateKeyKey: chain.Leaf.KeyPEM},
		}
		specServers = append(specServers, map[string]any{
			"port":  map[string]any{"number": 443, "name": fmt.Sprintf("https-%d", i), "protocol": "HTTPS"},
			"hosts": []any{host},
			"tls":   map[string]any{"mode": "SIMPLE", "credentialName": name},
		})
	}
	raw, err := json.Marshal(map[string]any{
		"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
		"metadata": map[string]any{"name": "shops", "namespace": "apps"},
		"spec":     map[string]any{"selector": map[string]any{"istio": "ingressgateway"}, "servers": specServers},
	})
	if err != nil {
		b.Fatalf("encode Gateway: %v", err)
	}
	return raw, reader
}

// BenchmarkIstioGatewayReview reviews a Gateway with 10 TLS servers whose
// Secrets are in memory and whose material the parse cache holds. It
// reports the 99th percentile of one review in wall time (p99-ns) and in
// CPU time of the process (p99-cpu-ns), which counts the concurrent
// Secret reads and garbage collection too: on a shared machine the
// wall-time tail is mostly time the process spent waiting for a core.
func BenchmarkIstioGatewayReview(b *testing.B) {
	raw, reader := benchmarkGateway(b, 10)
	validator := &IstioGatewayValidator{
		Policy:  validate.DefaultPolicy(),
		Lookups: &Lookups{Cache: reader, API: reader, FallbackNamespaces: DefaultGatewayNamespaces},
	}
	req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		Operation: admissionv1.Create, Namespace: "apps", Name: "shops",
		Object: kruntime.RawExtension{Raw: raw},
	}}
	ctx := context.Background()
	if response := validator.Handle(ctx, req); !response.Allowed || len(response.Warnings) > 0 {
		b.Fatalf("review of a valid Gateway: allowed %v, warnings %q, result %+v",
			response.Allowed, response.Warnings, response.Result)
	}

	var wall, cpu []time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		start, startCPU := time.Now(), processCPUTime(b)
		validator.Handle(ctx, req)
		cpu = append(cpu, processCPUTime(b)-startCPU)
		wall = append(wall, time.Since(start))
	}
	b.StopTimer()
	b.ReportMetric(float64(percentile99(wall).Nanoseconds()), "p99-ns")
	b.ReportMetric(float64(percentile99(cpu).Nanoseconds()), "p99-cpu-ns")
}

func processCPUTime(b *testing.B) time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts); err != nil {
		b.Fatalf("read process CPU clock: %v", err)
	}
	return time.Duration(ts.Nano())
}

func percentile99(durations []time.Duration) time.Duration {
	slices.Sort(durations)
	return durations[len(durations)*99/100]
}
