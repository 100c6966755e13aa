package validate

import (
	"crypto/x509"
	"net"
	"slices"
	"testing"
)

func TestUncoveredHosts(t *testing.T) {
	cert := &x509.Certificate{
		DNSNames:    []string{"example.com", "*.apps.example.com", "API.example.org."},
		IPAddresses: []net.IP{net.ParseIP("192.0.2.1")},
	}
	tests := []struct {
		host    string
		covered bool
	}{
		{"example.com", true},
		{"EXAMPLE.com", true},
		{"web.apps.example.com", true},
		{"apps.example.com", false},
		{"a.b.apps.example.com", false},
		{"*.apps.example.com", true},
		{"*.example.com", false},
		{"api.example.org", true},
		{"www.example.com", false},
		{"192.0.2.1", true},
		{"192.0.2.2", false},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			got := UncoveredHosts(cert, []string{ServedHost(tt.host)})
			if covered := len(got) == 0; covered != tt.covered {
				t.Errorf("covered = %v, want %v", covered, tt.covered)
			}
		})
	}
}

func TestServedHost(t *testing.T) {
	tests := map[string]string{
		"apps/web.example.com": "web.example.com",
		"./Web.Example.com":    "web.example.com",
		"*":                    "",
		"apps/*":               "",
		"*.example.com":        "*.example.com",
		"example.com.":         "example.com",
	}
	for host, want := range tests {
		if got := ServedHost(host); got != want {
			t.Errorf("ServedHost(%q) = %q, want %q", host, got, want)
		}
	}
}

func TestHostsOverlap(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"a.example.com", "a.example.com", true},
		{"a.example.com", "b.example.com", false},
		{"*.example.com", "a.b.example.com", true},
		{"a.example.com", "*.example.com", true},
		{"*.example.com", "*.example.org", false},
		{"", "a.example.com", true},
	}
	for _, tt := range tests {
		if got := HostsOverlap(tt.a, tt.b); got != tt.want {
			t.Errorf("HostsOverlap(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
	if got := (&IstioServer{Hosts: []string{"b/x.io", "a/x.io", "*"}}).ServedHosts(); !slices.Equal(got, []string{"x.io"}) {
		t.Errorf("ServedHosts = %v, want [x.io]", got)
	}
}
