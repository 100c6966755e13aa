package validate

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Istio ServerTLSSettings modes (networking.istio.io, the same in v1,
// v1beta1 and v1alpha3). An unset mode is PASSTHROUGH, the enum's zero.
const (
	ModePassthrough     = "PASSTHROUGH"
	ModeSimple          = "SIMPLE"
	ModeMutual          = "MUTUAL"
	ModeAutoPassthrough = "AUTO_PASSTHROUGH"
	ModeIstioMutual     = "ISTIO_MUTUAL"
	ModeOptionalMutual  = "OPTIONAL_MUTUAL"
)

// maxCredentialsPerServer is the limit Istio's CRD sets on credentialNames:
// one RSA and one ECDSA certificate.
const maxCredentialsPerServer = 2

// IstioGateway is the part of a networking.istio.io Gateway the checks
// read. The schema is the same in v1, v1beta1 and v1alpha3.
type IstioGateway struct {
	Namespace string
	Name      string
	Spec      IstioGatewaySpec
}

// IstioGatewaySpec is the spec of an Istio Gateway.
type IstioGatewaySpec struct {
	Selector map[string]string `json:"selector,omitempty"`
	Servers  []IstioServer     `json:"servers,omitempty"`
}

// IstioServer is one server of an Istio Gateway.
type IstioServer struct {
	Name  string          `json:"name,omitempty"`
	Port  IstioPort       `json:"port"`
	Bind  string          `json:"bind,omitempty"`
	Hosts []string        `json:"hosts,omitempty"`
	TLS   *IstioServerTLS `json:"tls,omitempty"`
}

// IstioPort is the port a server listens on.
type IstioPort struct {
	Number   uint32 `json:"number,omitempty"`
	Protocol string `json:"protocol,omitempty"`
	Name     string `json:"name,omitempty"`
}

// IstioServerTLS holds the TLS settings the checks read.
type IstioServerTLS struct {
	Mode                 string   `json:"mode,omitempty"`
	CredentialName       string   `json:"credentialName,omitempty"`
	CredentialNames      []string `json:"credentialNames,omitempty"`
	CACertCredentialName string   `json:"caCertCredentialName,omitempty"`
}

// DecodeIstioGateway decodes the JSON of a Gateway object of any of the
// three networking.istio.io versions. Fields the checks do not read are
// ignored.
func DecodeIstioGateway(raw []byte) (*IstioGateway, error) {
	var object struct {
		Metadata struct {
			Name         string `json:"name"`
			GenerateName string `json:"generateName"`
			Namespace    string `json:"namespace"`
		} `json:"metadata"`
		Spec IstioGatewaySpec `json:"spec"`
	}
	if err := json.Unmarshal(raw, &object); err != nil {
		return nil, fmt.Errorf("decode Istio Gateway: %w", err)
	}
	name := object.Metadata.Name
	if name == "" && object.Metadata.GenerateName != "" {
		name = object.Metadata.GenerateName + "*"
	}
	return &IstioGateway{Namespace: object.Metadata.Namespace, Name: name, Spec: object.Spec}, nil
}

// ObjectName returns "Gateway NAMESPACE/NAME" for findings.
func (g *IstioGateway) ObjectName() string {
	return "Gateway " + g.Namespace + "/" + g.Name
}

// modeOrDefault returns the server's TLS mode, PASSTHROUGH when unset.
func (t *IstioServerTLS) modeOrDefault() string {
	if t.Mode == "" {
		return ModePassthrough
	}
	return t.Mode
}

// Credentials returns the credentialName or credentialNames of the
// server, in order.
func (t *IstioServerTLS) Credentials() []string {
	if t == nil {
		return nil
	}
	if t.CredentialName != "" {
		return append([]string{t.CredentialName}, t.CredentialNames...)
	}
	return t.CredentialNames
}

// Label names the server in messages: `server "https" (port 443)` by
// its name, else its port's name, else `server 2 (port 443)` by its
// one-based position.
func (s *IstioServer) Label(index int) string {
	switch {
	case s.Name != "":
		return fmt.Sprintf("server %q (port %d)", s.Name, s.Port.Number)
	case s.Port.Name != "":
		return fmt.Sprintf("server %q (port %d)", s.Port.Name, s.Port.Number)
	default:
		return fmt.Sprintf("server %d (port %d)", index+1, s.Port.Number)
	}
}

// ServedHosts returns the server's hosts as ServedHost returns them,
// without "*", sorted and without duplicates.
func (s *IstioServer) ServedHosts() []string {
	var hosts []string
	for _, host := range s.Hosts {
		if served := ServedHost(host); served != "" {
			hosts = append(hosts, served)
		}
	}
	return uniqueSorted(hosts)
}

// IstioEnv is the cluster state an Istio Gateway check reads.
type IstioEnv struct {
	// PodNamespaces are the namespaces of the pods the Gateway's selector
	// matches, where Istio reads credentials. Empty when none match.
	PodNamespaces []string
	// FallbackNamespaces are checked instead when no pod matches.
	FallbackNamespaces []string
	// GetSecret looks up a Secret.
	GetSecret SecretGetter
	// Peers are the other Gateways that select the same workload.
	Peers []*IstioGateway
}

// IstioResult is the outcome of checking an Istio Gateway.
type IstioResult struct {
	Findings Findings
	// Details say where credentials and client CAs were read from, for
	// the admission response's message.
	Details []string
}

// CheckIstioGateway checks the credentials of every TLS server of gw. It
// returns an error only when a lookup fails.
func CheckIstioGateway(gw *IstioGateway, env IstioEnv, policy Policy, now time.Time) (IstioResult, error) {
	check := &istioCheck{
		gatewayCheck: newGatewayCheck(gw.ObjectName(), env.GetSecret, policy, now),
		gateway:      gw,
		env:          env,
	}
	check.namespaces = check.resolveNamespaces()
	for i := range gw.Spec.Servers {
		if err := check.checkServer(i, &gw.Spec.Servers[i]); err != nil {
			return IstioResult{}, err
		}
	}
	check.checkConflicts()
	return IstioResult{Findings: check.findings, Details: check.details}, nil
}

type istioCheck struct {
	*gatewayCheck
	gateway *IstioGateway
	env     IstioEnv
	// namespaces are where the gateway pods read credentials.
	namespaces []string
	// podsFound is false when the namespaces are the fallback ones.
	podsFound bool
}

// resolveNamespaces returns the namespaces Istio reads the credentials
// from: those of the selected pods, or the fallback namespaces with a
// warning when no pod matches.
func (c *istioCheck) resolveNamespaces() []string {
	if len(c.env.PodNamespaces) > 0 {
		c.podsFound = true
		return c.env.PodNamespaces
	}
	if !c.hasTLSCredential() {
		return c.env.FallbackNamespaces
	}
	c.add(RuleNoGatewayPods, "no pod matches selector %s; credentials are checked in %s",
		formatSelector(c.gateway.Spec.Selector),
		strings.Join(c.env.FallbackNamespaces, ", "))
	return c.env.FallbackNamespaces
}

func (c *istioCheck) hasTLSCredential() bool {
	for _, server := range c.gateway.Spec.Servers {
		if len(server.TLS.Credentials()) > 0 {
			return true
		}
	}
	return false
}

func formatSelector(selector map[string]string) string {
	if len(selector) == 0 {
		return "{} (empty)"
	}
	pairs := make([]string, 0, len(selector))
	for key, value := range selector {
		pairs = append(pairs, key+"="+value)
	}
	sort.Strings(pairs)
	return strings.Join(pairs, ",")
}
