package mirror

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/meshcert/meshcert/internal/wellknown"
)

// maxKubeconfigBytes bounds one kubeconfig. A kubeconfig with inline
// certificates is a few KiB; a Secret holds at most 1 MiB.
const maxKubeconfigBytes = 1 << 20

// peerConfig is one peer cluster as its kubeconfig Secret configures it.
type peerConfig struct {
	name   string
	config *rest.Config
	// hash identifies the kubeconfig, so a rotated one replaces the client.
	hash   string
	secret types.NamespacedName
}

// isPeerSecret reports whether a Secret configures peer clusters, in
// meshcert's layout or in Istio's remote-secret layout.
func isPeerSecret(secret *corev1.Secret) bool {
	return secret.Labels[wellknown.PeerClusterLabel] == wellknown.True ||
		secret.Labels[wellknown.IstioRemoteSecretLabel] == wellknown.IstioRemoteSecretValue
}

// parsePeerSecret returns the peers a Secret configures, one per data key,
// and an error per key that does not hold a usable kubeconfig. Errors name
// the key and never quote the kubeconfig.
func parsePeerSecret(secret *corev1.Secret) ([]peerConfig, []error) {
	ref := types.NamespacedName{Namespace: secret.Namespace, Name: secret.Name}
	names := slices.Sorted(func(yield func(string) bool) {
		for name := range secret.Data {
			if !yield(name) {
				return
			}
		}
	})
	var peers []peerConfig
	var errs []error
	for _, name := range names {
		config, err := restConfigFromKubeconfig(secret.Data[name])
		if err == nil {
			err = validPeerName(name)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("peer %q in Secret %s: %w", name, ref, err))
			continue
		}
		sum := sha256.Sum256(secret.Data[name])
		peers = append(peers, peerConfig{name: name, config: config, hash: hex.EncodeToString(sum[:]), secret: ref})
	}
	return peers, errs
}

// validPeerName accepts names that fit in a label value, because the
// peer's name labels its metrics and log lines.
func validPeerName(name string) error {
	if problems := validation.IsValidLabelValue(name); len(problems) > 0 || name == "" {
		return fmt.Errorf("invalid cluster name: use up to 63 letters, digits, '-', '_' or '.'")
	}
	return nil
}

// restConfigFromKubeconfig builds a client configuration from a kubeconfig
// that is self-contained: inline credentials and CA only. Exec plugins,
// auth providers and file paths are rejected, because anyone who can write a
// Secret in meshcert's namespace could otherwise run commands or read
// files in meshcert's pod.
func restConfigFromKubeconfig(data []byte) (*rest.Config, error) {
	if len(data) == 0 {
		return nil, errors.New("empty kubeconfig")
	}
	if len(data) > maxKubeconfigBytes {
		return nil, fmt.Errorf("kubeconfig of %d bytes is larger than %d", len(data), maxKubeconfigBytes)
	}
	kubeconfig, err := clientcmd.Load(data)
	if err != nil {
		return nil, fmt.Errorf("parse kubeconfig: %w", errors.New(redactedReason(err)))
	}
	if err := checkSelfContained(kubeconfig); err != nil {
		return nil, err
	}
	config, err := clientcmd.NewDefaultClientConfig(*kubeconfig, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("build client configuration from kubeconfig: %w", errors.New(redactedReason(err)))
	}
	return config, nil
}

// redactedReason keeps a parse error short: decoders may quote the input,
// and the input holds credentials.
func redactedReason(err error) string {
	const maxLen = 120
	msg := err.Error()
	if len(msg) > maxLen {
		return "invalid kubeconfig"
	}
	return msg
}

func checkSelfContained(kubeconfig *clientcmdapi.Config) error {
	for name, user := range kubeconfig.AuthInfos {
		switch {
		case user.Exec != nil:
			return fmt.Errorf("user %q uses an exec plugin: only inline credentials are accepted", name)
		case user.AuthProvider != nil:
			return fmt.Errorf("user %q uses an auth provider: only inline credentials are accepted", name)
		case user.TokenFile != "" || user.ClientCertificate != "" || user.ClientKey != "":
			return fmt.Errorf("user %q names a file: inline the token, certificate and key", name)
		case user.Impersonate != "" || len(user.ImpersonateGroups) > 0:
			return fmt.Errorf("user %q impersonates another user: give the kubeconfig its own credentials", name)
		}
	}
	for name, cluster := range kubeconfig.Clusters {
		if cluster.CertificateAuthority != "" {
			return fmt.Errorf("cluster %q names a CA file: inline it as certificate-authority-data", name)
		}
		if cluster.ProxyURL != "" {
			return fmt.Errorf("cluster %q sets a proxy URL: proxies are not supported", name)
		}
	}
	return nil
}
