package app_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// serviceProxy replaces a Service's load balancing in a test cluster,
// which has no kube-proxy. The API server reaches Services through it: it
// is the HTTP CONNECT proxy of the API server's egress selector for
// cluster traffic, which carries the calls to webhooks that clientConfig
// names by Service. Each tunnel goes to the backend that route chose
// last, so a test decides which replica serves a call.
type serviceProxy struct {
	socket   string
	listener net.Listener

	mu      sync.Mutex
	backend string
	tunnels map[*tunnel]struct{}
	// targets counts the tunnels by the address the API server
	// requested, which is the Service's cluster IP and port.
	targets map[string]int
	// opened counts the tunnels by backend.
	opened map[string]int
}

// tunnel is one CONNECT tunnel from the API server to a backend.
type tunnel struct {
	backend net.Conn
	// closed closes when the API server has closed its end.
	closed chan struct{}
}

// startServiceProxy listens on a Unix socket and serves until the test
// ends.
func startServiceProxy(t *testing.T) *serviceProxy {
	t.Helper()
	// A Unix socket path has at most 107 bytes on Linux, which
	// t.TempDir's long names can exceed.
	dir, err := os.MkdirTemp("", "egress")
	if err != nil {
		t.Fatalf("create socket folder: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := &serviceProxy{
		socket:  filepath.Join(dir, "proxy.sock"),
		tunnels: map[*tunnel]struct{}{},
		targets: map[string]int{},
		opened:  map[string]int{},
	}
	p.listener, err = net.Listen("unix", p.socket)
	if err != nil {
		t.Fatalf("listen on %s: %v", p.socket, err)
	}
	go p.serve()
	t.Cleanup(func() {
		p.listener.Close()
		p.closeTunnels()
	})
	return p
}

// egressSelectorConfig writes a kube-apiserver EgressSelectorConfiguration
// that sends cluster traffic through p, for the API server flag
// --egress-selector-config-file, and returns its path.
func (p *serviceProxy) egressSelectorConfig(t *testing.T) string {
	t.Helper()
	config := fmt.Sprintf(`apiVersion: apiserver.k8s.io/v1beta1
kind: EgressSelectorConfiguration
egressSelections:
  - name: cluster
    connection:
      proxyProtocol: HTTPConnect
      transport:
        uds:
          udsName: %s
`, p.socket)
	path := filepath.Join(t.TempDir(), "egress-selector.yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatalf("write egress selector configuration: %v", err)
	}
	return path
}

// route sends new tunnels to backend, a host:port, and ends the open ones.
// It returns once the API server has closed them, so its next webhook call
// opens a tunnel to backend rather than reusing an idle connection.
func (p *serviceProxy) route(t *testing.T, backend string) {
	t.Helper()
	p.mu.Lock()
	p.backend = backend
	p.mu.Unlock()
	if err := p.closeTunnels(); err != nil {
		t.Fatal(err)
	}
}

// closeTunnels closes the backend side of every open tunnel, and waits
// until the API server has closed the other side.
func (p *serviceProxy) closeTunnels() error {
	p.mu.Lock()
	open := make([]*tunnel, 0, len(p.tunnels))
	for tunnel := range p.tunnels {
		open = append(open, tunnel)
	}
	p.mu.Unlock()
	timeout := time.After(10 * time.Second)
	for _, tunnel := range open {
		tunnel.backend.Close()
		select {
		case <-tunnel.closed:
		case <-timeout:
			return fmt.Errorf("the API server kept a tunnel open 10s after its backend closed")
		}
	}
	return nil
}

// counts returns copies of the tunnel counts by target and by backend.
func (p *serviceProxy) counts() (targets, opened map[string]int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	targets, opened = map[string]int{}, map[string]int{}
	for target, n := range p.targets {
		targets[target] = n
	}
	for backend, n := range p.opened {
		opened[backend] = n
	}
	return targets, opened
}

func (p *serviceProxy) serve() {
	for {
		conn, err := p.listener.Accept()
		if err != nil {
			return
		}
		go p.handle(conn)
	}
}

// handle serves one CONNECT request and copies bytes both ways until
// either side closes.
func (p *serviceProxy) handle(conn net.Conn) {
	defer conn.Close()
	reader := bufio.NewReader(conn)
	request, err := http.ReadRequest(reader)
	if err != nil {
		return
	}
	if request.Method != http.MethodConnect {
		fmt.Fprintf(conn, "HTTP/1.1 405 Method Not Allowed\r\n\r\n")
		return
	}
	p.mu.Lock()
	backendAddress := p.backend
	p.targets[request.Host]++
	p.mu.Unlock()
	if backendAddress == "" {
		fmt.Fprintf(conn, "HTTP/1.1 503 Service Unavailable\r\n\r\n")
		return
	}
	backend, err := net.DialTimeout("tcp", backendAddress, 5*time.Second)
	if err != nil {
		fmt.Fprintf(conn, "HTTP/1.1 502 Bad Gateway\r\n\r\n")
		return
	}
	if _, err := fmt.Fprintf(conn, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		backend.Close()
		return
	}

	t := &tunnel{backend: backend, closed: make(chan struct{})}
	p.mu.Lock()
	p.tunnels[t] = struct{}{}
	p.opened[backendAddress]++
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.tunnels, t)
		p.mu.Unlock()
		close(t.closed)
	}()

	// The backend's bytes go to the API server until the backend closes,
	// then the API server reads EOF and closes its end, which ends the
	// copy the other way.
	go func() {
		_, _ = io.Copy(conn, backend)
		_ = conn.(*net.UnixConn).CloseWrite()
	}()
	// reader may hold bytes the API server sent after the request.
	_, _ = io.Copy(backend, reader)
	backend.Close()
}
