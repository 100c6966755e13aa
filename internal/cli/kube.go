package cli

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/meshcert/meshcert/internal/validate"
)

// clusterClient reads Secrets and Gateways, a page of chunk objects at a
// time so that large clusters are read in bounded requests.
type clusterClient struct {
	core    kubernetes.Interface
	dynamic dynamic.Interface
	chunk   int64
}

func (s *settings) clusterClient() (*clusterClient, error) {
	if s.chunkSize <= 0 {
		return nil, fmt.Errorf("invalid --chunk-size %d: must be positive", s.chunkSize)
	}
	config, err := s.config.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig: %w", err)
	}
	core, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("create Kubernetes client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("create Kubernetes client: %w", err)
	}
	return &clusterClient{core: core, dynamic: dyn, chunk: s.chunkSize}, nil
}

// namespace returns the namespace of -n or of the kubeconfig context, and
// whether -n set it.
func (s *settings) namespace() (string, bool, error) {
	namespace, explicit, err := s.config.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return "", false, fmt.Errorf("read the namespace from the kubeconfig: %w", err)
	}
	return namespace, explicit, nil
}

// listPages calls list with Limit and Continue until the last page.
func (c *clusterClient) listPages(ctx context.Context, list func(metav1.ListOptions) (string, error)) error {
	options := metav1.ListOptions{Limit: c.chunk}
	for {
		next, err := list(options)
		if err != nil {
			return err
		}
		if next == "" {
			return nil
		}
		options.Continue = next
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// certificateSecrets returns the certificate Secrets of namespace ("" for
// all), as the webhook selects them.
func (c *clusterClient) certificateSecrets(ctx context.Context, namespace string) ([]corev1.Secret, error) {
	var secrets []corev1.Secret
	err := c.listPages(ctx, func(options metav1.ListOptions) (string, error) {
		page, err := c.core.CoreV1().Secrets(namespace).List(ctx, options)
		if err != nil {
			return "", fmt.Errorf("list Secrets%s: %w", inNamespace(namespace), err)
		}
		for i := range page.Items {
			if validate.IsCertificateSecret(&page.Items[i]) {
				secrets = append(secrets, page.Items[i])
			}
		}
		return page.Continue, nil
	})
	return secrets, err
}

func (c *clusterClient) secret(ctx context.Context, namespace, name string) (*corev1.Secret, error) {
	secret, err := c.core.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("get Secret %s/%s: %w", namespace, name, err)
	}
	return secret, nil
}

// listObjects lists every object of resource in namespace ("" for all).
func (c *clusterClient) listObjects(ctx context.Context, resource schema.GroupVersionResource,
	namespace string) ([]unstructured.Unstructured, error) {
	var objects []unstructured.Unstructured
	err := c.listPages(ctx, func(options metav1.ListOptions) (string, error) {
		page, err := c.dynamic.Resource(resource).Namespace(namespace).List(ctx, options)
		if err != nil {
			return "", err
		}
		objects = append(objects, page.Items...)
		return page.GetContinue(), nil
	})
	return objects, err
}

func inNamespace(namespace string) string {
	if namespace == "" {
		return " in all namespaces"
	}
	return " in namespace " + namespace
}
