package validate_test

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshcert/meshcert/internal/validate"
)

// A Gateway check looks up the Secret a listener names and reuses the
// verdict and the leaf facts.
func ExampleCheckSecret() {
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "istio-system"},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{"tls.crt": []byte("not a certificate"), "tls.key": nil},
	}
	facts, findings := validate.CheckSecret(secret, validate.DefaultPolicy(), time.Now())
	fmt.Println("layout:", facts.Layout, "leaf parsed:", facts.Leaf != nil)
	for _, denial := range findings.Denials() {
		fmt.Println(denial)
	}
	// Output:
	// layout: tls leaf parsed: false
	// Secret istio-system/web key tls.crt: the value has no PEM block (no -----BEGIN line); store PEM text, starting with -----BEGIN CERTIFICATE----- [not-pem]
	// Secret istio-system/web key tls.key: tls.key is empty but tls.crt is set; add the PEM private key under tls.key [missing-key]
}
