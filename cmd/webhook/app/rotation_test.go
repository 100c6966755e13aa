package app_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/go-logr/logr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshcert/meshcert/cmd/webhook/app"
	"github.com/meshcert/meshcert/internal/certrotation"
	"github.com/meshcert/meshcert/internal/testenv"
	"github.com/meshcert/meshcert/internal/validate"
)

// TestServerWaitsForRotatedCertificate runs the binary's manager with
// certificate rotation on and an empty certificate directory: the server
// must start once the rotator has written its certificate, and serve a
// certificate that the CA bundle injected into the webhook configuration
// verifies for the Service's DNS name.
func TestServerWaitsForRotatedCertificate(t *testing.T) {
	cluster := testenv.Start(t, testenv.Options{})
	ctx := testenv.Context(t)
	const namespace, service, webhookName = "meshcert-system", "meshcert-webhook", "meshcert-validating"
	createRotationObjects(t, ctx, cluster.Client, namespace, webhookName)

	port := freePort(t)
	opts := app.Options{
		CertDir:                t.TempDir(),
		WebhookHost:            "127.0.0.1",
		WebhookPort:            port,
		MetricsBindAddress:     "0",
		HealthProbeBindAddress: "0",
		Namespace:              namespace,
		Policy:                 validate.DefaultPolicy(),
		CertRotation: certrotation.Options{
			Enabled:           true,
			SecretName:        "meshcert-webhook-cert",
			ServiceName:       service,
			ValidatingWebhook: webhookName,
			CAValidity:        24 * time.Hour,
			CertValidity:      12 * time.Hour,
			RenewBefore:       time.Hour,
		},
	}
	mgr, err := app.NewManager(cluster.Config, opts, logr.Discard())
	if err != nil {
		t.Fatalf("create manager: %v", err)
	}
	startManager(t, mgr)

	caBundle := waitForCABundle(t, ctx, cluster.Client, webhookName)
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caBundle) {
		t.Fatal("injected caBundle holds no certificate")
	}
	waitForTLS(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))

	conn, err := tls.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), &tls.Config{
		RootCAs:    roots,
		ServerName: service + "." + namespace + ".svc",
	})
	if err != nil {
		t.Fatalf("served certificate does not verify against the injected CA bundle: %v", err)
	}
	conn.Close()
}

func createRotationObjects(t *testing.T, ctx context.Context, c client.Client, namespace, webhookName string) {
	t.Helper()
	url := "https://127.0.0.1:1/validate-secret"
	sideEffects := admissionregistrationv1.SideEffectClassNone
	objects := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "meshcert-webhook-cert", Namespace: namespace}},
		&admissionregistrationv1.ValidatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: webhookName},
			Webhooks: []admissionregistrationv1.ValidatingWebhook{{
				Name:                    "validate-secret.meshcert.io",
				ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: &url},
				SideEffects:             &sideEffects,
				AdmissionReviewVersions: []string{"v1"},
				// No rules: the API server never calls this webhook.
			}},
		},
	}
	for _, object := range objects {
		if err := c.Create(ctx, object); err != nil {
			t.Fatalf("create %T %s: %v", object, object.GetName(), err)
		}
	}
}

func waitForCABundle(t *testing.T, ctx context.Context, c client.Client, name string) []byte {
	t.Helper()
	var bundle []byte
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true,
		func(ctx context.Context) (bool, error) {
			var config admissionregistrationv1.ValidatingWebhookConfiguration
			if err := c.Get(ctx, client.ObjectKey{Name: name}, &config); err != nil {
				return false, err
			}
			bundle = config.Webhooks[0].ClientConfig.CABundle
			return len(bundle) > 0, nil
		})
	if err != nil {
		t.Fatalf("CA bundle never injected into %s: %v", name, err)
	}
	return bundle
}

func freePort(t *testing.T) int {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer listener.Close()
	return listener.Addr().(*net.TCPAddr).Port
}
