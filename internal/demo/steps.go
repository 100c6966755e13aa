package demo

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshcert/meshcert/internal/wellknown"
)

const (
	goodSecret  = "web-cert"
	shortSecret = "web-cert-short"
	webHost     = "web.example.com"
)

// certificates are the demo's certificates, issued in the first step.
type certificates struct {
	root, intermediate, good, short, renewed, other *issued
}

func (s *system) steps() []step {
	certs := &certificates{}
	return []step{
		{"Create a root CA and, signed by it, server certificates valid 365 days and 1 day", s.issueCertificates(certs)},
		{"Create the 365-day certificate as Secret istio-system/" + goodSecret, s.createGoodSecret(certs)},
		{"Try a Secret whose key does not match, and one whose chain is out of order", s.createBrokenSecrets(certs)},
		{"Create the 1-day certificate as Secret istio-system/" + shortSecret, s.createShortSecret(certs)},
		{"Create Istio Gateways: one that uses " + goodSecret + ", one in MUTUAL mode without a CA", s.createGateways()},
		{"Mirror " + goodSecret + " to cluster-2, update it, delete it", s.mirrorSecret(certs)},
		{"Scrape the exporter and evaluate the alert rules", s.scrapeAndAlert()},
		{"Show the certificate page: meshcert list --all-namespaces", s.listCertificates()},
	}
}

func (s *system) issueCertificates(c *certificates) func(context.Context) ([]string, error) {
	return func(context.Context) ([]string, error) {
		var err error
		year := 365 * 24 * time.Hour
		if c.root, err = issue(certRequest{commonName: "meshcert demo root CA", validFor: 5 * year, isCA: true}); err != nil {
			return nil, err
		}
		intermediate := certRequest{commonName: "meshcert demo intermediate CA", validFor: 2 * year, isCA: true, issuer: c.root}
		if c.intermediate, err = issue(intermediate); err != nil {
			return nil, err
		}
		requests := []struct {
			target **issued
			req    certRequest
		}{
			{&c.good, certRequest{commonName: webHost, dnsNames: []string{webHost}, validFor: year, issuer: c.intermediate}},
			{&c.short, certRequest{commonName: "short.example.com", dnsNames: []string{"short.example.com"},
				validFor: 24 * time.Hour, issuer: c.intermediate}},
			{&c.renewed, certRequest{commonName: webHost, dnsNames: []string{webHost}, validFor: year, issuer: c.intermediate}},
			{&c.other, certRequest{commonName: webHost, dnsNames: []string{webHost}, validFor: year, issuer: c.intermediate}},
		}
		for _, r := range requests {
			if *r.target, err = issue(r.req); err != nil {
				return nil, err
			}
		}
		return []string{
			"root CA:      CN=" + c.root.cert.Subject.CommonName,
			"intermediate: CN=" + c.intermediate.cert.Subject.CommonName,
			fmt.Sprintf("server:       CN=%s, expires %s", webHost, c.good.cert.NotAfter.Format(time.DateOnly)),
			fmt.Sprintf("short-lived:  CN=short.example.com, expires %s", c.short.cert.NotAfter.Format(time.RFC3339)),
		}, nil
	}
}

func tlsSecret(name string, chain, key []byte) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: istioNamespace},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: chain, corev1.TLSPrivateKeyKey: key},
	}
}

func chainPEM(leaf, intermediate *issued) []byte {
	return append(append([]byte{}, leaf.certPEM...), intermediate.certPEM...)
}

func (s *system) createGoodSecret(c *certificates) func(context.Context) ([]string, error) {
	return func(ctx context.Context) ([]string, error) {
		secret := tlsSecret(goodSecret, chainPEM(c.good, c.intermediate), c.good.keyPEM)
		if err := s.source().client.Create(ctx, secret); err != nil {
			return nil, fmt.Errorf("create %s: %w", goodSecret, err)
		}
		lines := []string{"accepted"}
		var annotations []string
		for key, value := range secret.Annotations {
			if strings.HasPrefix(key, wellknown.Prefix) {
				annotations = append(annotations, key+": "+value)
			}
		}
		if secret.Annotations[wellknown.NotAfterAnnotation] == "" {
			return lines, fmt.Errorf("annotation %s missing: the mutating webhook did not annotate the Secret",
				wellknown.NotAfterAnnotation)
		}
		return append(lines, sortedLines("annotated with", annotations)...), nil
	}
}

func (s *system) createBrokenSecrets(c *certificates) func(context.Context) ([]string, error) {
	return func(ctx context.Context) ([]string, error) {
		cases := []struct {
			name   string
			secret *corev1.Secret
		}{
			{"key that does not match", tlsSecret("web-cert-mismatch", chainPEM(c.good, c.intermediate), c.other.keyPEM)},
			{"chain out of order", tlsSecret("web-cert-misordered", chainPEM(c.intermediate, c.good), c.good.keyPEM)},
		}
		var lines []string
		for _, tc := range cases {
			err := s.source().client.Create(ctx, tc.secret)
			if err == nil {
				return lines, fmt.Errorf("Secret with a %s was accepted; want a denial", tc.name)
			}
			if !apierrors.IsForbidden(err) && !apierrors.IsInvalid(err) && !apierrors.IsBadRequest(err) {
				return lines, fmt.Errorf("create Secret with a %s: %w", tc.name, err)
			}
			lines = append(lines, fmt.Sprintf("%s: rejected: %v", tc.name, err))
		}
		return lines, nil
	}
}

func (s *system) createShortSecret(c *certificates) func(context.Context) ([]string, error) {
	return func(ctx context.Context) ([]string, error) {
		s.warnings.take()
		secret := tlsSecret(shortSecret, chainPEM(c.short, c.intermediate), c.short.keyPEM)
		if err := s.source().client.Create(ctx, secret); err != nil {
			return nil, fmt.Errorf("create %s: %w", shortSecret, err)
		}
		warnings := s.warnings.take()
		lines := []string{"accepted"}
		for _, warning := range warnings {
			lines = append(lines, "warning: "+warning)
		}
		if len(warnings) == 0 {
			return lines, fmt.Errorf("no expiry warning returned for a certificate that expires in a day")
		}
		return lines, nil
	}
}

func istioGateway(name, mode string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "networking.istio.io/v1",
		"kind":       "Gateway",
		"metadata":   map[string]any{"name": name, "namespace": istioNamespace},
		"spec": map[string]any{
			"selector": map[string]any{"istio": "ingressgateway"},
			"servers": []any{map[string]any{
				"port":  map[string]any{"number": int64(443), "name": "https", "protocol": "HTTPS"},
				"hosts": []any{webHost},
				"tls":   map[string]any{"mode": mode, "credentialName": goodSecret},
			}},
		},
	}}
}

func (s *system) createGateways() func(context.Context) ([]string, error) {
	return func(ctx context.Context) ([]string, error) {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{
				Name: "istio-ingressgateway", Namespace: istioNamespace,
				Labels: map[string]string{"istio": "ingressgateway"},
			},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "istio-proxy", Image: "istio/proxyv2"}}},
		}
		if err := s.source().client.Create(ctx, pod); err != nil {
			return nil, fmt.Errorf("create gateway pod: %w", err)
		}

		s.warnings.take()
		if err := s.source().client.Create(ctx, istioGateway("web", "SIMPLE")); err != nil {
			return nil, fmt.Errorf("create Gateway web (SIMPLE): %w", err)
		}
		lines := []string{"Gateway web (SIMPLE, credentialName " + goodSecret + "): accepted"}
		for _, warning := range s.warnings.take() {
			lines = append(lines, "  warning: "+warning)
		}

		err := s.source().client.Create(ctx, istioGateway("web-mtls", "MUTUAL"))
		if err == nil {
			return lines, fmt.Errorf("Gateway web-mtls in MUTUAL mode without a CA was accepted; want a denial")
		}
		if !apierrors.IsForbidden(err) && !apierrors.IsInvalid(err) {
			return lines, fmt.Errorf("create Gateway web-mtls: %w", err)
		}
		return append(lines, "Gateway web-mtls (MUTUAL, no CA): rejected: "+err.Error()), nil
	}
}

func (s *system) mirrorSecret(c *certificates) func(context.Context) ([]string, error) {
	return func(ctx context.Context) ([]string, error) {
		source, peer := s.source().client, s.peer().client
		key := client.ObjectKey{Namespace: istioNamespace, Name: goodSecret}
		var lines []string

		var secret corev1.Secret
		if err := source.Get(ctx, key, &secret); err != nil {
			return nil, fmt.Errorf("get %s: %w", goodSecret, err)
		}
		patch := client.MergeFrom(secret.DeepCopy())
		metav1.SetMetaDataLabel(&secret.ObjectMeta, wellknown.MirrorLabel, wellknown.True)
		if err := source.Patch(ctx, &secret, patch); err != nil {
			return nil, fmt.Errorf("label %s for mirroring: %w", goodSecret, err)
		}
		copied, elapsed, err := waitForCopy(ctx, peer, key, secret.Data[corev1.TLSCertKey])
		if err != nil {
			return lines, err
		}
		lines = append(lines, fmt.Sprintf("labelled %s=true: copy in cluster-2 after %s, from cluster %s",
			wellknown.MirrorLabel, elapsed, copied.Labels[wellknown.SourceClusterLabel]))

		patch = client.MergeFrom(secret.DeepCopy())
		secret.Data = map[string][]byte{
			corev1.TLSCertKey:       chainPEM(c.renewed, c.intermediate),
			corev1.TLSPrivateKeyKey: c.renewed.keyPEM,
		}
		if err := source.Patch(ctx, &secret, patch); err != nil {
			return lines, fmt.Errorf("renew %s: %w", goodSecret, err)
		}
		if _, elapsed, err = waitForCopy(ctx, peer, key, secret.Data[corev1.TLSCertKey]); err != nil {
			return lines, err
		}
		lines = append(lines, fmt.Sprintf("renewed the source: copy followed after %s", elapsed))

		s.warnings.take()
		if err := source.Delete(ctx, &secret); err != nil {
			return lines, fmt.Errorf("delete %s: %w", goodSecret, err)
		}
		for _, warning := range s.warnings.take() {
			lines = append(lines, "deleting the source warned: "+warning)
		}
		elapsed, err = waitForDeletion(ctx, peer, key)
		if err != nil {
			return lines, err
		}
		// The source goes once the mirror has removed its finalizer.
		if _, err := waitForDeletion(ctx, source, key); err != nil {
			return lines, fmt.Errorf("source stayed after its copies were deleted: %w", err)
		}
		return append(lines, fmt.Sprintf("deleted the source: copy removed after %s", elapsed)), nil
	}
}

// waitForCopy polls the peer until the Secret at key holds tls.crt.
func waitForCopy(ctx context.Context, c client.Client, key client.ObjectKey, cert []byte) (*corev1.Secret, time.Duration, error) {
	start := time.Now()
	var copied corev1.Secret
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true,
		func(ctx context.Context) (bool, error) {
			if err := c.Get(ctx, key, &copied); err != nil {
				return false, client.IgnoreNotFound(err)
			}
			return bytes.Equal(copied.Data[corev1.TLSCertKey], cert), nil
		})
	if err != nil {
		return nil, 0, fmt.Errorf("copy of %s in cluster-2 did not reach the source's content: %w", key, err)
	}
	return &copied, time.Since(start).Round(time.Millisecond), nil
}

func waitForDeletion(ctx context.Context, c client.Client, key client.ObjectKey) (time.Duration, error) {
	start := time.Now()
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true,
		func(ctx context.Context) (bool, error) {
			err := c.Get(ctx, key, &corev1.Secret{})
			if apierrors.IsNotFound(err) {
				return true, nil
			}
			return false, err
		})
	if err != nil {
		return 0, fmt.Errorf("Secret %s was not deleted: %w", key, err)
	}
	return time.Since(start).Round(time.Millisecond), nil
}

func sortedLines(title string, items []string) []string {
	slices.Sort(items)
	lines := []string{title + ":"}
	for _, item := range items {
		lines = append(lines, "  "+item)
	}
	return lines
}
