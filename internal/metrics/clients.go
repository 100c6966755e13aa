package metrics

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"
)

// newSecretClients builds the metadata client of the watches and the
// factory of the data clients of the reads from one configuration. Both
// draw on one rate limiter, so together they keep to config's QPS and
// burst.
func newSecretClients(config *rest.Config) (secretClients, error) {
	config = rest.CopyConfig(config)
	if config.UserAgent == "" {
		config.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	if config.RateLimiter == nil {
		qps, burst := config.QPS, config.Burst
		if qps == 0 {
			qps = rest.DefaultQPS
		}
		if burst == 0 {
			burst = rest.DefaultBurst
		}
		config.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(qps, burst)
	}
	metadataClient, err := metadata.NewForConfig(config)
	if err != nil {
		return secretClients{}, fmt.Errorf("create Kubernetes metadata client: %w", err)
	}
	// The reads build their own clients; building one now reports a bad
	// configuration when the exporter starts.
	if _, err := newDataClient(config); err != nil {
		return secretClients{}, err
	}
	return secretClients{
		metadata: metadataClient,
		newData:  func() (rest.Interface, error) { return newDataClient(config) },
	}, nil
}

// newDataClient returns a client of the core API that reads Secrets as
// protobuf, which is smaller on the wire and cheaper to decode than JSON,
// over connections that close after each response. Go's TLS and HTTP
// clients keep the last bytes they read in per-connection buffers. A
// closed connection releases them, so no live buffer keeps a private key
// after the read that fetched it. The transport is the exporter's own,
// never shared with the watches. A new client per read also loads the
// CA file again, so a rotated cluster CA is picked up as the watches'
// transport picks it up.
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
	client, err := corev1client.NewForConfigAndClient(config, &http.Client{Transport: roundTripper, Timeout: config.Timeout})
	if err != nil {
		return nil, fmt.Errorf("create Kubernetes client: %w", err)
	}
	return client.RESTClient(), nil
}
