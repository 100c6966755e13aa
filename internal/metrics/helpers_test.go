package metrics

import (
	"context"
	"crypto/sha256"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// sample is one series of a scrape, with its labels.
type sample struct {
	labels map[string]string
	value  float64
}

// samples gathers the series of family whose labels include match.
func samples(t testing.TB, gatherer prometheus.Gatherer, family string, match map[string]string) []sample {
	t.Helper()
	families, err := gatherer.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var out []sample
	for _, f := range families {
		if f.GetName() != family {
			continue
		}
		for _, m := range f.GetMetric() {
			if s, ok := matchSample(m, match); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

func matchSample(m *dto.Metric, match map[string]string) (sample, bool) {
	labels := map[string]string{}
	for _, pair := range m.GetLabel() {
		labels[pair.GetName()] = pair.GetValue()
	}
	for name, value := range match {
		if labels[name] != value {
			return sample{}, false
		}
	}
	value := m.GetGauge().GetValue() + m.GetCounter().GetValue()
	return sample{labels: labels, value: value}, true
}

// giveUpAfter bounds eventually so a broken test fails in minutes, not at
// the test binary's timeout. It is no speed assertion: the conditions take
// well under a second on an idle machine.
const giveUpAfter = 3 * time.Minute

// eventually polls condition until it holds.
func eventually(t *testing.T, what string, condition func() bool) {
	t.Helper()
	deadline := time.Now().Add(giveUpAfter)
	for !condition() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tcpProxy forwards loopback connections to target and can cut every
// connection and refuse new ones, to break watches while the API server
// stays up.
type tcpProxy struct {
	listener net.Listener
	target   string
	mu       sync.Mutex
	down     bool
	conns    map[net.Conn]bool
}

func startProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{listener: listener, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() {
		_ = listener.Close()
		p.setDown(true)
	})
	go p.accept()
	return p
}

func (p *tcpProxy) addr() string { return p.listener.Addr().String() }

func (p *tcpProxy) accept() {
	for {
		client, err := p.listener.Accept()
		if err != nil {
			return
		}
		go p.forward(client)
	}
}

func (p *tcpProxy) forward(client net.Conn) {
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		_ = client.Close()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	server, err := (&net.Dialer{}).DialContext(ctx, "tcp", p.target)
	if err != nil {
		p.mu.Unlock()
		_ = client.Close()
		return
	}
	p.conns[client], p.conns[server] = true, true
	p.mu.Unlock()

	go func() { _, _ = io.Copy(server, client); _ = server.Close() }()
	_, _ = io.Copy(client, server)
	_ = client.Close()
}

// setDown cuts every open connection and refuses new ones while down.
func (p *tcpProxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for conn := range p.conns {
			_ = conn.Close()
		}
		clear(p.conns)
	}
}

func sha256Sum(data []byte) [32]byte {
	return sha256.Sum256(data)
}
