package validate

import (
	"fmt"
	"strconv"
)

// terminatingServer is a server that terminates TLS with credentials.
type terminatingServer struct {
	// label names the server, with its Gateway when it is a peer's.
	label string
	// listener is the bind address and port number the server shares
	// with others of the same workload.
	listener    string
	port        uint32
	hosts       []string
	credentials map[string]bool
}

// terminatingServers returns the servers of gw that terminate TLS with
// credentials; peer servers are labelled with their Gateway.
func terminatingServers(gw *IstioGateway, peer bool) []terminatingServer {
	var servers []terminatingServer
	for i := range gw.Spec.Servers {
		server := &gw.Spec.Servers[i]
		credentials := server.TLS.Credentials()
		if len(credentials) == 0 {
			continue
		}
		switch server.TLS.modeOrDefault() {
		case ModeSimple, ModeMutual, ModeOptionalMutual:
		default:
			continue
		}
		entry := terminatingServer{
			label:       server.Label(i),
			listener:    server.Bind + ":" + strconv.FormatUint(uint64(server.Port.Number), 10),
			port:        server.Port.Number,
			hosts:       server.ServedHosts(),
			credentials: map[string]bool{},
		}
		if peer {
			entry.label = gw.ObjectName() + " " + entry.label
		}
		for _, raw := range credentials {
			if ref, err := ParseCredentialName(raw); err == nil {
				entry.credentials[ref.Namespace+"/"+ref.Name] = true
			}
		}
		servers = append(servers, entry)
	}
	return servers
}

// checkConflicts warns about two servers of the workload on one port that
// serve the same credential or overlapping hosts. Pairs of two peer
// servers are left to the reviews of their own Gateways.
func (c *istioCheck) checkConflicts() {
	own := terminatingServers(c.gateway, false)
	var peers []terminatingServer
	for _, peer := range c.env.Peers {
		peers = append(peers, terminatingServers(peer, true)...)
	}
	for i, server := range own {
		for _, other := range own[i+1:] {
			c.checkPair(server, other)
		}
		for _, other := range peers {
			c.checkPair(server, other)
		}
	}
}

func (c *istioCheck) checkPair(a, b terminatingServer) {
	if a.listener != b.listener {
		return
	}
	for credential := range a.credentials {
		if b.credentials[credential] {
			c.add(RuleServerConflict, "%s and %s share credential %s; HTTP/2 connection reuse gets 404s",
				a.label, b.label, trimNamespace(credential))
			return
		}
	}
	if hostA, hostB, ok := overlappingHosts(a.hosts, b.hosts); ok {
		c.add(RuleServerConflict, "%s and %s overlap on %s; Istio uses only one",
			a.label, b.label, describeOverlap(hostA, hostB))
	}
}

func overlappingHosts(a, b []string) (string, string, bool) {
	if len(a) == 0 || len(b) == 0 {
		// A server whose only host is "*" matches every name.
		first, second := "*", "*"
		if len(a) > 0 {
			first = a[0]
		}
		if len(b) > 0 {
			second = b[0]
		}
		return first, second, true
	}
	for _, hostA := range a {
		for _, hostB := range b {
			if HostsOverlap(hostA, hostB) {
				return hostA, hostB, true
			}
		}
	}
	return "", "", false
}

func describeOverlap(a, b string) string {
	if a == b {
		return a
	}
	return fmt.Sprintf("%s and %s", a, b)
}

func trimNamespace(credential string) string {
	if len(credential) > 0 && credential[0] == '/' {
		return credential[1:]
	}
	return credential
}
