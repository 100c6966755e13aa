package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/meshcert/meshcert/internal/validate"
)

// API groups of the two Gateway kinds.
const (
	istioGroup      = "networking.istio.io"
	gatewayAPIGroup = "gateway.networking.k8s.io"
)

var (
	istioGateways      = schema.GroupVersionResource{Group: istioGroup, Version: "v1", Resource: "gateways"}
	gatewayAPIGateways = schema.GroupVersionResource{Group: gatewayAPIGroup, Version: "v1", Resource: "gateways"}
)

// Roles of a Secret in a Gateway.
const (
	usageCertificate = "certificate"
	// usageCA is the NAME-cacert Secret from which Istio reads the CA of a
	// mutual-TLS server whose credential NAME has no CA of its own.
	usageCA = "ca"
)

// usage is one Gateway server or listener that serves a Secret.
type usage struct {
	// Group is networking.istio.io or gateway.networking.k8s.io.
	Group     string `json:"group"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Server is the Istio server (its name, its port name or "port N")
	// or the Gateway API listener.
	Server string   `json:"server"`
	Port   int64    `json:"port,omitempty"`
	Hosts  []string `json:"hosts,omitempty"`
	Role   string   `json:"role"`
}

// shortName names the Gateway as "istio:NAME" or "gateway:NAME",
// prefixing the namespace when it differs from the Secret's.
func (u usage) shortName(secretNamespace string, withServer bool) string {
	prefix := "gateway:"
	if u.Group == istioGroup {
		prefix = "istio:"
	}
	name := u.Name
	if u.Namespace != secretNamespace {
		name = u.Namespace + "/" + name
	}
	if withServer {
		name += "/" + u.Server
	}
	return prefix + name
}

// usageIndex maps a Secret to the Gateways that use it.
type usageIndex map[types.NamespacedName][]usage

func (idx usageIndex) add(namespace, name string, u usage) {
	key := types.NamespacedName{Namespace: namespace, Name: name}
	idx[key] = append(idx[key], u)
}

// of returns the usages of a Secret in a stable order.
func (idx usageIndex) of(namespace, name string) []usage {
	usages := slices.Clone(idx[types.NamespacedName{Namespace: namespace, Name: name}])
	slices.SortFunc(usages, func(a, b usage) int {
		return strings.Compare(a.sortKey(), b.sortKey())
	})
	return usages
}

func (u usage) sortKey() string {
	return strings.Join([]string{u.Group, u.Namespace, u.Name, u.Server, u.Role}, "\x00")
}

// gatewayUsage lists the Istio and Gateway API Gateways of namespace (""
// for all) and indexes the Secrets they name. Istio resolves
// credentialName in the namespace of the gateway's workload; this index
// assumes the Gateway object lives there too, as it usually does. A kind
// whose CRD is not installed or that may not be listed is left out, with
// a warning on warn for the latter.
func (c *clusterClient) gatewayUsage(ctx context.Context, namespace string, warn io.Writer) (usageIndex, error) {
	index := usageIndex{}
	istio, err := c.gatewayObjects(ctx, istioGateways, namespace, warn)
	if err != nil {
		return nil, err
	}
	for i := range istio {
		if err := indexIstioGateway(index, &istio[i]); err != nil {
			return nil, err
		}
	}
	gateways, err := c.gatewayObjects(ctx, gatewayAPIGateways, namespace, warn)
	if err != nil {
		return nil, err
	}
	for i := range gateways {
		if err := indexGatewayAPIGateway(index, &gateways[i]); err != nil {
			return nil, err
		}
	}
	return index, nil
}

// secretUsage indexes the Gateways that may use a Secret of namespace.
// Gateway API listeners may name a Secret of another namespace, so every
// namespace is searched when the user may list them all, and only
// namespace otherwise.
func (c *clusterClient) secretUsage(ctx context.Context, namespace string, warn io.Writer) (usageIndex, error) {
	usages, err := c.gatewayUsage(ctx, "", io.Discard)
	if err == nil && len(usages) > 0 {
		return usages, nil
	}
	return c.gatewayUsage(ctx, namespace, warn)
}

func (c *clusterClient) gatewayObjects(ctx context.Context, resource schema.GroupVersionResource,
	namespace string, warn io.Writer) ([]unstructured.Unstructured, error) {
	objects, err := c.listObjects(ctx, resource, namespace)
	switch {
	case err == nil:
		return objects, nil
	case apierrors.IsNotFound(err):
		return nil, nil
	case apierrors.IsForbidden(err):
		fmt.Fprintf(warn, "Warning: cannot list %s Gateways%s (forbidden), so USED BY leaves them out\n",
			resource.Group, inNamespace(namespace))
		return nil, nil
	default:
		return nil, fmt.Errorf("list %s Gateways%s: %w", resource.Group, inNamespace(namespace), err)
	}
}

// istioGatewaySpec holds the fields of an Istio Gateway that name Secrets.
type istioGatewaySpec struct {
	Servers []struct {
		Name string `json:"name"`
		Port struct {
			Number int64  `json:"number"`
			Name   string `json:"name"`
		} `json:"port"`
		Hosts []string `json:"hosts"`
		TLS   *struct {
			Mode            string   `json:"mode"`
			CredentialName  string   `json:"credentialName"`
			CredentialNames []string `json:"credentialNames"`
		} `json:"tls"`
	} `json:"servers"`
}

func indexIstioGateway(index usageIndex, gateway *unstructured.Unstructured) error {
	var spec istioGatewaySpec
	if err := decodeField(gateway.Object["spec"], &spec); err != nil {
		return fmt.Errorf("decode Istio Gateway %s/%s: %w", gateway.GetNamespace(), gateway.GetName(), err)
	}
	for _, server := range spec.Servers {
		if server.TLS == nil {
			continue
		}
		u := usage{
			Group: istioGroup, Kind: "Gateway", Namespace: gateway.GetNamespace(), Name: gateway.GetName(),
			Server: istioServerName(server.Name, server.Port.Name, server.Port.Number),
			Port:   server.Port.Number, Hosts: server.Hosts, Role: usageCertificate,
		}
		mutual := server.TLS.Mode == "MUTUAL" || server.TLS.Mode == "OPTIONAL_MUTUAL"
		for _, credential := range credentialNames(server.TLS.CredentialName, server.TLS.CredentialNames) {
			index.add(u.Namespace, credential, u)
			if mutual {
				ca := u
				ca.Role = usageCA
				index.add(u.Namespace, credential+validate.CASecretSuffix, ca)
			}
		}
	}
	return nil
}

func credentialNames(single string, several []string) []string {
	names := slices.Clone(several)
	if single != "" {
		names = append(names, single)
	}
	return names
}

func istioServerName(name, portName string, port int64) string {
	switch {
	case name != "":
		return name
	case portName != "":
		return portName
	default:
		return fmt.Sprintf("port %d", port)
	}
}

func decodeField(field any, into any) error {
	if field == nil {
		return nil
	}
	data, err := json.Marshal(field)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, into)
}

func indexGatewayAPIGateway(index usageIndex, object *unstructured.Unstructured) error {
	var gateway gatewayv1.Gateway
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(object.Object, &gateway); err != nil {
		return fmt.Errorf("decode Gateway %s/%s: %w", object.GetNamespace(), object.GetName(), err)
	}
	for _, listener := range gateway.Spec.Listeners {
		if listener.TLS == nil {
			continue
		}
		u := usage{
			Group: gatewayAPIGroup, Kind: "Gateway", Namespace: gateway.Namespace, Name: gateway.Name,
			Server: string(listener.Name), Port: int64(listener.Port), Role: usageCertificate,
		}
		if listener.Hostname != nil {
			u.Hosts = []string{string(*listener.Hostname)}
		}
		for _, ref := range listener.TLS.CertificateRefs {
			if !isSecretRef(ref) {
				continue
			}
			namespace := gateway.Namespace
			if ref.Namespace != nil {
				namespace = string(*ref.Namespace)
			}
			index.add(namespace, string(ref.Name), u)
		}
	}
	return nil
}

// isSecretRef reports whether a certificateRef names a core Secret, the
// default group and kind.
func isSecretRef(ref gatewayv1.SecretObjectReference) bool {
	group := ""
	if ref.Group != nil {
		group = string(*ref.Group)
	}
	kind := "Secret"
	if ref.Kind != nil {
		kind = string(*ref.Kind)
	}
	return (group == "" || strings.EqualFold(group, "core")) && kind == "Secret"
}
