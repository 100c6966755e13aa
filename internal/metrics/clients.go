package metrics

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
)

// newSecretClients builds the metadata client of the watches and the
// data client of the reads from one configuration.
func newSecretClients(config *rest.Config) (secretClients, error) {
	metadataClient, err := metadata.NewForConfig(config)
	if err != nil {
		return secretClients{}, fmt.Errorf("create Kubernetes metadata client: %w", err)
	}
	data, err := newDataClient(config)
	if err != nil {
		return secretClients{}, err
	}
	return secretClients{metadata: metadataClient, data: data}, nil
}

// newDataClient returns a client of the core API that reads Secrets as
// protobuf, which is smaller on the wire and cheaper to decode than JSON,
// over connections that close after each response. Go's TLS and HTTP
// clients keep the last bytes they read in per-connection buffers. A
// closed connection takes those buffers with it, so no private key
// outlives the read that fetched it. The transport is the exporter's
// own, never shared with the watches.
func newDataClient(config *rest.Config) (rest.Interface, error) {
	config = rest.CopyConfig(config)
	config.ContentType = runtime.ContentTypeProtobuf
	config.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	tlsConfig, err := rest.TLSConfigFor(config)
	if err != nil {
		return nil, fmt.Errorf("build TLS configuration of the Secret reader: %w", err)
	}

	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	transport := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         dialer.DialContext,
		TLSClientConfig:     tlsConfig,
		TLSHandshakeTimeout: 10 * time.Second,
		DisableKeepAlives:   true,
		// Without transparent gzip, no decompressor holds a copy of the
		// response in its window.
		DisableCompression: true,
	}
	if config.Proxy != nil {
		transport.Proxy = config.Proxy
	}
	if config.Dial != nil {
		transport.DialContext = config.Dial
	}

	roundTripper, err := rest.HTTPWrappersForConfig(config, transport)
	if err != nil {
		return nil, fmt.Errorf("build transport of the Secret reader: %w", err)
	}
	clientset, err := kubernetes.NewForConfigAndClient(config, &http.Client{Transport: roundTripper, Timeout: config.Timeout})
	if err != nil {
		return nil, fmt.Errorf("create Kubernetes client: %w", err)
	}
	return clientset.CoreV1().RESTClient(), nil
}
