package validate

import (
	"crypto/x509"
	"net"
	"strings"
)

// ServedHost returns the host name a gateway server answers for: an Istio
// host "namespace/name" without its namespace, lower-cased. It returns ""
// for "*" and "namespace/*", which match every name and so are not
// checked against certificates.
func ServedHost(host string) string {
	if _, name, ok := strings.Cut(host, "/"); ok {
		host = name
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "*" {
		return ""
	}
	return host
}

// UncoveredHosts returns the hosts, as ServedHost returns them, that no
// subject alternative name of cert covers. A DNS SAN covers a host by RFC
// 6125 matching: equal ignoring case, or a "*." wildcard SAN that stands
// for exactly one leftmost label. A wildcard host such as "*.example.com"
// is covered only by the same wildcard SAN. Hosts that are IP addresses
// are matched against IP SANs.
func UncoveredHosts(cert *x509.Certificate, hosts []string) []string {
	var uncovered []string
	for _, host := range hosts {
		if host == "" || coversHost(cert, host) {
			continue
		}
		uncovered = append(uncovered, host)
	}
	return uncovered
}

func coversHost(cert *x509.Certificate, host string) bool {
	if ip := net.ParseIP(host); ip != nil {
		for _, san := range cert.IPAddresses {
			if san.Equal(ip) {
				return true
			}
		}
		return false
	}
	for _, san := range cert.DNSNames {
		if dnsNameMatches(strings.ToLower(strings.TrimSuffix(san, ".")), host) {
			return true
		}
	}
	return false
}

// dnsNameMatches reports whether the lower-case pattern, a DNS SAN,
// matches the lower-case host.
func dnsNameMatches(pattern, host string) bool {
	if pattern == host {
		return true
	}
	suffix, ok := strings.CutPrefix(pattern, "*.")
	if !ok || strings.HasPrefix(host, "*.") {
		return false
	}
	label, rest, found := strings.Cut(host, ".")
	return found && label != "" && rest == suffix
}

// HostsOverlap reports whether two served hosts, as ServedHost returns
// them, can match the same request name. "" (any host) overlaps every
// host.
func HostsOverlap(a, b string) bool {
	if a == "" || b == "" || a == b {
		return true
	}
	return wildcardCovers(a, b) || wildcardCovers(b, a)
}

// wildcardCovers reports whether the Istio host pattern covers host.
// Istio wildcards, unlike certificate ones, match any number of labels:
// "*.example.com" matches "a.b.example.com".
func wildcardCovers(pattern, host string) bool {
	suffix, ok := strings.CutPrefix(pattern, "*")
	return ok && strings.HasSuffix(host, suffix)
}
