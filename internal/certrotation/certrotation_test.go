package certrotation_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshcert/meshcert/internal/certrotation"
	"github.com/meshcert/meshcert/internal/certrotation/rotationtest"
	"github.com/meshcert/meshcert/internal/testenv"
)

const namespace = "meshcert-system"

func TestRotationInjectsCABundle(t *testing.T) {
	cluster := testenv.Start(t, testenv.Options{})
	ctx := testenv.Context(t)
	c := cluster.Client

	opts := testOptions(t)
	createObjects(t, c, opts)

	rotationtest.Run(ctx, t, cluster.Config, opts)

	var secret corev1.Secret
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: opts.SecretName}, &secret); err != nil {
		t.Fatalf("get Secret: %v", err)
	}
	caPEM := secret.Data["ca.crt"]
	if len(caPEM) == 0 {
		t.Fatal("Secret has no ca.crt")
	}

	var validating admissionregistrationv1.ValidatingWebhookConfiguration
	if err := c.Get(ctx, client.ObjectKey{Name: opts.ValidatingWebhook}, &validating); err != nil {
		t.Fatalf("get validating configuration: %v", err)
	}
	for _, wh := range validating.Webhooks {
		if !bytes.Equal(wh.ClientConfig.CABundle, caPEM) {
			t.Errorf("validating webhook %s caBundle is not the Secret's ca.crt", wh.Name)
		}
	}
	var mutating admissionregistrationv1.MutatingWebhookConfiguration
	if err := c.Get(ctx, client.ObjectKey{Name: opts.MutatingWebhook}, &mutating); err != nil {
		t.Fatalf("get mutating configuration: %v", err)
	}
	for _, wh := range mutating.Webhooks {
		if !bytes.Equal(wh.ClientConfig.CABundle, caPEM) {
			t.Errorf("mutating webhook %s caBundle is not the Secret's ca.crt", wh.Name)
		}
	}

	certPEM := readFile(t, filepath.Join(opts.CertDir, "tls.crt"))
	keyPEM := readFile(t, filepath.Join(opts.CertDir, "tls.key"))
	if !bytes.Equal(certPEM, secret.Data["tls.crt"]) {
		t.Error("tls.crt in the cert dir differs from the Secret's")
	}
	verifyServingPair(t, certPEM, keyPEM, caPEM, opts.ServiceName+"."+namespace+".svc")
}

func TestDisabledIsReady(t *testing.T) {
	ready, err := certrotation.Add(nil, certrotation.Options{Enabled: false})
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	select {
	case <-ready:
	default:
		t.Error("ready is open although rotation is disabled")
	}
}

func testOptions(t *testing.T) certrotation.Options {
	return certrotation.Options{
		Enabled:           true,
		Namespace:         namespace,
		CertDir:           filepath.Join(t.TempDir(), "certs"),
		SecretName:        "webhook-cert",
		ServiceName:       "webhook",
		ValidatingWebhook: "meshcert-validating",
		MutatingWebhook:   "meshcert-mutating",
		CAValidity:        48 * time.Hour,
		CertValidity:      24 * time.Hour,
		RenewBefore:       time.Hour,
	}
}

func createObjects(t *testing.T, c client.Client, opts certrotation.Options) {
	t.Helper()
	ctx := testenv.Context(t)
	service := &admissionregistrationv1.ServiceReference{
		Namespace: namespace, Name: opts.ServiceName, Path: ptr.To("/validate-secret"),
	}
	rules := []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
		Rule: admissionregistrationv1.Rule{
			APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"secrets"},
		},
	}}
	none := admissionregistrationv1.SideEffectClassNone
	objects := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: opts.SecretName}},
		&admissionregistrationv1.ValidatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: opts.ValidatingWebhook},
			Webhooks: []admissionregistrationv1.ValidatingWebhook{{
				Name: "secrets.meshcert.io", ClientConfig: admissionregistrationv1.WebhookClientConfig{Service: service},
				Rules: rules, SideEffects: &none, AdmissionReviewVersions: []string{"v1"},
			}},
		},
		&admissionregistrationv1.MutatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: opts.MutatingWebhook},
			Webhooks: []admissionregistrationv1.MutatingWebhook{{
				Name: "secrets.meshcert.io", ClientConfig: admissionregistrationv1.WebhookClientConfig{Service: service},
				Rules: rules, SideEffects: &none, AdmissionReviewVersions: []string{"v1"},
			}},
		},
	}
	for _, obj := range objects {
		if err := c.Create(ctx, obj); err != nil {
			t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
		}
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read certificate file: %v", err)
	}
	return data
}

func verifyServingPair(t *testing.T, certPEM, keyPEM, caPEM []byte, dnsName string) {
	t.Helper()
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatalf("tls.crt and tls.key do not form a key pair: %v", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatal("ca.crt contains no certificate")
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatalf("parse serving certificate: %v", err)
	}
	_, err = leaf.Verify(x509.VerifyOptions{
		DNSName: dnsName, Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		t.Errorf("serving certificate does not verify for %s: %v", dnsName, err)
	}
}
