package validate

import (
	"bytes"

	corev1 "k8s.io/api/core/v1"

	"github.com/meshcert/meshcert/internal/wellknown"
)

// Data keys of certificate Secrets. Istio reads both the kubernetes.io/tls
// keys and its own generic keys, in a Secret of any type.
const (
	KeyTLSCert     = corev1.TLSCertKey       // "tls.crt"
	KeyTLSKey      = corev1.TLSPrivateKeyKey // "tls.key"
	KeyTLSCA       = "ca.crt"
	KeyTLSCRL      = "ca.crl"
	KeyGenericCert = "cert"
	KeyGenericKey  = "key"
	KeyGenericCA   = "cacert"
	KeyGenericCRL  = "crl"
)

// CASecretSuffix names the Secret from which Istio reads the mutual-TLS CA
// of credential NAME when NAME itself has none: NAME-cacert.
const CASecretSuffix = "-cacert"

// Layout is the set of data keys a Secret's certificate lives under.
type Layout string

// Layouts, in the order Istio prefers them.
const (
	// LayoutNone is a Secret with no certificate material.
	LayoutNone Layout = ""
	// LayoutGeneric is Istio's cert, key and optional cacert.
	LayoutGeneric Layout = "generic"
	// LayoutTLS is kubernetes.io/tls: tls.crt, tls.key, optional ca.crt.
	LayoutTLS Layout = "tls"
	// LayoutCA is a Secret with a CA only (ca.crt or cacert), such as
	// the NAME-cacert Secret of a mutual-TLS credential.
	LayoutCA Layout = "ca"
)

// layoutKeys returns the certificate and key data keys of a layout.
func layoutKeys(layout Layout) (certKey, keyKey string) {
	if layout == LayoutGeneric {
		return KeyGenericCert, KeyGenericKey
	}
	return KeyTLSCert, KeyTLSKey
}

// DetectLayout returns the layout Istio serves from the Secret. Like
// Istio, it prefers cert/key when both hold a value, then tls.crt/tls.key.
// A half-written layout (a key without its certificate) is returned as
// that layout, so that the missing half is reported.
func DetectLayout(secret *corev1.Secret) Layout {
	data := secret.Data
	switch {
	case hasValue(data, KeyGenericCert) && hasValue(data, KeyGenericKey):
		return LayoutGeneric
	case hasValue(data, KeyTLSCert) && hasValue(data, KeyTLSKey):
		return LayoutTLS
	case hasKey(data, KeyGenericCert) || hasKey(data, KeyGenericKey):
		return LayoutGeneric
	case hasKey(data, KeyTLSCert) || hasKey(data, KeyTLSKey) || secret.Type == corev1.SecretTypeTLS:
		return LayoutTLS
	case hasKey(data, KeyGenericCA) || hasKey(data, KeyTLSCA):
		return LayoutCA
	case secret.Labels[wellknown.ValidationLabel] == wellknown.Enabled:
		return LayoutTLS
	default:
		return LayoutNone
	}
}

// excludedTypes are Secret types that never hold serving certificates,
// even when they have a ca.crt key (service-account tokens do).
var excludedTypes = map[corev1.SecretType]bool{
	corev1.SecretTypeServiceAccountToken: true,
	corev1.SecretTypeDockercfg:           true,
	corev1.SecretTypeDockerConfigJson:    true,
	corev1.SecretTypeBootstrapToken:      true,
	"helm.sh/release.v1":                 true,
}

// IsCertificateSecret reports whether the Secret is one meshcert checks:
// of type kubernetes.io/tls, or holding Istio's generic keys or a CA in a
// Secret of any type, or labelled meshcert.io/validation=enabled. It is
// never one of the excluded types or one labelled
// meshcert.io/validation=disabled. An Opaque Secret with tls.key alone is
// not checked, because cert-manager stages the next private key that way.
// The webhook configurations' matchConditions express the same test in
// CEL.
func IsCertificateSecret(secret *corev1.Secret) bool {
	if excludedTypes[secret.Type] {
		return false
	}
	switch secret.Labels[wellknown.ValidationLabel] {
	case wellknown.Disabled:
		return false
	case wellknown.Enabled:
		return true
	}
	if secret.Type == corev1.SecretTypeTLS {
		return true
	}
	for _, key := range []string{KeyGenericCert, KeyGenericKey, KeyGenericCA, KeyTLSCA} {
		if hasKey(secret.Data, key) {
			return true
		}
	}
	return false
}

// MaterialChanged reports whether an update changes what a gateway would
// serve: the type or any data value. Metadata-only updates return false.
func MaterialChanged(oldSecret, newSecret *corev1.Secret) bool {
	if oldSecret.Type != newSecret.Type || len(oldSecret.Data) != len(newSecret.Data) {
		return true
	}
	for key, value := range newSecret.Data {
		oldValue, ok := oldSecret.Data[key]
		if !ok || !bytes.Equal(oldValue, value) {
			return true
		}
	}
	return false
}

func hasKey(data map[string][]byte, key string) bool {
	_, ok := data[key]
	return ok
}

// hasValue matches Istio's test: the key exists with a non-empty value.
func hasValue(data map[string][]byte, key string) bool {
	return len(data[key]) > 0
}
