// Package testcerts generates certificates, chains and keys for tests.
//
// Keys are costly to generate, so each (kind, index) pair yields the same
// key for the life of the test binary; ask for a different index when a
// test needs two distinct keys of one kind.
package testcerts

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"
)

// KeyKind selects the algorithm and size of a generated key.
type KeyKind string

// Key kinds.
const (
	RSA1024   KeyKind = "rsa-1024"
	RSA2048   KeyKind = "rsa-2048"
	ECDSAP256 KeyKind = "ecdsa-p256"
	ECDSAP384 KeyKind = "ecdsa-p384"
	ECDSAP521 KeyKind = "ecdsa-p521"
	Ed25519   KeyKind = "ed25519"
)

type keyID struct {
	kind  KeyKind
	index int
}

var (
	keysMu sync.Mutex
	keys   = map[keyID]crypto.Signer{}
	serial int64
)

// Key returns the index-th key of kind, generating it on first use.
func Key(tb testing.TB, kind KeyKind, index int) crypto.Signer {
	tb.Helper()
	keysMu.Lock()
	defer keysMu.Unlock()

	id := keyID{kind, index}
	if key, ok := keys[id]; ok {
		return key
	}
	key, err := generateKey(kind)
	if err != nil {
		tb.Fatalf("generate %s key: %v", kind, err)
	}
	keys[id] = key
	return key
}

func generateKey(kind KeyKind) (crypto.Signer, error) {
	switch kind {
	case RSA1024:
		return rsa.GenerateKey(rand.Reader, 1024)
	case RSA2048, "":
		return rsa.GenerateKey(rand.Reader, 2048)
	case ECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case ECDSAP384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case ECDSAP521:
		return ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case Ed25519:
		_, key, err := ed25519.GenerateKey(rand.Reader)
		return key, err
	default:
		return nil, fmt.Errorf("unknown key kind %q", kind)
	}
}

// Options describe a certificate to issue. Zero values give a server
// certificate for "example.com" valid from an hour ago for 90 days.
type Options struct {
	CommonName string
	DNSNames   []string
	IPs        []net.IP
	NotBefore  time.Time
	NotAfter   time.Time
	IsCA       bool
	// KeyKind and KeyIndex pick the certificate's key (see Key).
	KeyKind  KeyKind
	KeyIndex int
	// Issuer signs the certificate; nil makes it self-signed.
	Issuer *Cert
	// ExtKeyUsage defaults to serverAuth for a leaf and none for a CA.
	ExtKeyUsage []x509.ExtKeyUsage
	// SignatureAlgorithm overrides the issuer key's default.
	SignatureAlgorithm x509.SignatureAlgorithm
}

// Cert is an issued certificate with its key and their PEM encodings.
type Cert struct {
	X509    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte
	KeyPEM  []byte
}

// New issues a certificate described by opts.
func New(tb testing.TB, opts Options) *Cert {
	tb.Helper()
	key := Key(tb, opts.KeyKind, opts.KeyIndex)
	template := templateFor(opts)

	parent, signer := template, key
	if opts.Issuer != nil {
		parent, signer = opts.Issuer.X509, opts.Issuer.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, template, parent, key.Public(), signer)
	if err != nil {
		tb.Fatalf("create certificate %q: %v", opts.CommonName, err)
	}
	parsed, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatalf("parse certificate %q: %v", opts.CommonName, err)
	}
	return &Cert{
		X509:    parsed,
		Key:     key,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  EncodePKCS8(tb, key),
	}
}

func templateFor(opts Options) *x509.Certificate {
	now := time.Now()
	if opts.CommonName == "" {
		opts.CommonName = "example.com"
		if opts.DNSNames == nil && !opts.IsCA {
			opts.DNSNames = []string{"example.com"}
		}
	}
	if opts.NotBefore.IsZero() {
		opts.NotBefore = now.Add(-time.Hour)
	}
	if opts.NotAfter.IsZero() {
		opts.NotAfter = now.Add(90 * 24 * time.Hour)
	}

	keysMu.Lock()
	serial++
	number := serial
	keysMu.Unlock()

	template := &x509.Certificate{
		SerialNumber:          serialNumber(number, now),
		Subject:               pkix.Name{CommonName: opts.CommonName, Organization: []string{"meshcert tests"}},
		DNSNames:              opts.DNSNames,
		IPAddresses:           opts.IPs,
		NotBefore:             opts.NotBefore,
		NotAfter:              opts.NotAfter,
		BasicConstraintsValid: true,
		IsCA:                  opts.IsCA,
		ExtKeyUsage:           opts.ExtKeyUsage,
		SignatureAlgorithm:    opts.SignatureAlgorithm,
	}
	if opts.IsCA {
		template.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	} else {
		template.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
		if template.ExtKeyUsage == nil {
			template.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		}
	}
	return template
}

// EncodePKCS8 returns key as a "PRIVATE KEY" PEM block.
func EncodePKCS8(tb testing.TB, key crypto.Signer) []byte {
	tb.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatalf("marshal PKCS#8 key: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// Chain is a root CA, optional intermediates and a leaf issued by the last
// of them.
type Chain struct {
	Root          *Cert
	Intermediates []*Cert
	Leaf          *Cert
}

// NewChain issues a chain of length certificates (1 to 4): a leaf, signed
// by length-2 intermediates, signed by a root. A length of 1 gives a
// self-signed leaf with no root. leaf customises the leaf.
func NewChain(tb testing.TB, length int, leaf Options) *Chain {
	tb.Helper()
	if length < 1 {
		tb.Fatalf("chain length %d: must be at least 1", length)
	}
	if length == 1 {
		return &Chain{Leaf: New(tb, leaf)}
	}

	chain := &Chain{Root: New(tb, Options{CommonName: "meshcert test root", IsCA: true, KeyKind: ECDSAP256, KeyIndex: 100})}
	issuer := chain.Root
	for i := range length - 2 {
		intermediate := New(tb, Options{
			CommonName: fmt.Sprintf("meshcert test intermediate %d", i+1),
			IsCA:       true,
			KeyKind:    ECDSAP256,
			KeyIndex:   101 + i,
			Issuer:     issuer,
		})
		chain.Intermediates = append(chain.Intermediates, intermediate)
		issuer = intermediate
	}
	leaf.Issuer = issuer
	chain.Leaf = New(tb, leaf)
	return chain
}

// CertPEM returns the leaf followed by the intermediates, nearest first:
// the order a gateway serves.
func (c *Chain) CertPEM() []byte {
	out := append([]byte{}, c.Leaf.CertPEM...)
	for i := len(c.Intermediates) - 1; i >= 0; i-- {
		out = append(out, c.Intermediates[i].CertPEM...)
	}
	return out
}

// CAPEM returns the root certificate, or nil for a self-signed leaf.
func (c *Chain) CAPEM() []byte {
	if c.Root == nil {
		return nil
	}
	return c.Root.CertPEM
}

// serialNumber returns a unique serial of eight bytes whose top bit is
// clear, so that DER never pads it with a zero byte and NegativeSerial
// can set that bit in place.
func serialNumber(number int64, now time.Time) *big.Int {
	return big.NewInt(1<<62 | (number&0xffffffffff)<<16 | now.UnixNano()&0xffff)
}
