package metrics

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"weak"

	"github.com/meshcert/meshcert/internal/certs"
)

type valueID struct {
	sum      [sha256.Size]byte
	kind     valueKind
	skipKeys bool
}

// parser turns values into facts through internal/certs and shares the
// results: a value seen before (a trust bundle copied into many
// namespaces) is not parsed again, and a certificate seen before is held
// once. Entries are weak, so facts no object references any more are
// collected.
type parser struct {
	mu     sync.Mutex
	values map[valueID]weak.Pointer[valueFacts]
	certs  map[[sha256.Size]byte]weak.Pointer[certFacts]
}

func newParser() *parser {
	return &parser{
		values: map[valueID]weak.Pointer[valueFacts]{},
		certs:  map[[sha256.Size]byte]weak.Pointer[certFacts]{},
	}
}

// parse returns the facts of data read as kind.
func (p *parser) parse(data []byte, kind valueKind) *valueFacts {
	return p.parseValue(valueID{sum: sha256.Sum256(data), kind: kind}, data)
}

// parseFile returns the facts of a file's content read as kind. Unlike a
// Secret's tls.crt, a file may combine the certificate and its private
// key, so private key blocks are skipped instead of being reported as
// unexpected-block.
func (p *parser) parseFile(data []byte, kind valueKind) *valueFacts {
	return p.parseValue(valueID{sum: sha256.Sum256(data), kind: kind, skipKeys: true}, data)
}

func (p *parser) parseValue(id valueID, data []byte) *valueFacts {
	if facts := lookup(&p.mu, p.values, id); facts != nil {
		return facts
	}
	facts := p.build(data, id.kind, id.skipKeys)
	return intern(&p.mu, p.values, id, facts)
}

// build parses data and arranges its certificates in block order, merging
// repeated ones.
func (p *parser) build(data []byte, kind valueKind, skipKeys bool) *valueFacts {
	bundle, err := certs.ParseCertificatesLenient(data)
	if bundle == nil {
		return &valueFacts{reasons: []string{string(certs.ReasonOf(err))}}
	}

	type block struct {
		index int
		facts *certFacts
	}
	blocks := make([]block, 0, len(bundle.Certificates)+len(bundle.Recovered))
	for _, cert := range bundle.Certificates {
		blocks = append(blocks, block{cert.Block, p.internCert(cert.SHA256, func() *certFacts { return factsFromStrict(cert) })})
	}
	for _, cert := range bundle.Recovered {
		blocks = append(blocks, block{cert.Block, p.internCert(cert.SHA256, func() *certFacts { return factsFromLenient(cert) })})
	}
	slices.SortFunc(blocks, func(a, b block) int { return cmp.Compare(a.index, b.index) })

	facts := &valueFacts{reasons: reasonsOf(data, bundle, skipKeys)}
	seen := make(map[*certFacts]bool, len(blocks))
	leafSeen := false
	for _, b := range blocks {
		if seen[b.facts] {
			facts.duplicates++
			continue
		}
		seen[b.facts] = true
		role := roleOf(kind, leafSeen, b.facts)
		leafSeen = leafSeen || role == roleLeaf
		facts.certs = append(facts.certs, certSeries{facts: b.facts, index: strconv.Itoa(b.index), role: role})
		if len(facts.certs) == 1 || b.facts.notAfter < facts.expiry {
			facts.expiry = b.facts.notAfter
		}
	}
	return facts
}

func (p *parser) internCert(sum [sha256.Size]byte, build func() *certFacts) *certFacts {
	if facts := lookup(&p.mu, p.certs, sum); facts != nil {
		return facts
	}
	return intern(&p.mu, p.certs, sum, build())
}

// reasonsOf returns the distinct, sorted reasons of the bundle's errors. A
// value of private keys alone is reported as certs.ReasonKeyOnly. With
// skipKeys, the unexpected-block error of each private key block is
// dropped.
func reasonsOf(data []byte, bundle *certs.LenientBundle, skipKeys bool) []string {
	if len(bundle.Errors) == 0 {
		return nil
	}
	if len(bundle.Certificates) == 0 && len(bundle.Recovered) == 0 && onlyPrivateKeys(data) {
		return []string{string(certs.ReasonKeyOnly)}
	}
	var keyBlocks map[int]bool
	if skipKeys {
		keyBlocks = privateKeyBlocks(data)
	}
	reasons := make([]string, 0, len(bundle.Errors))
	for _, err := range bundle.Errors {
		if err.Reason == certs.ReasonUnexpectedBlock && keyBlocks[err.Block] {
			continue
		}
		reasons = append(reasons, string(err.Reason))
	}
	if len(reasons) == 0 {
		return nil
	}
	slices.Sort(reasons)
	return slices.Compact(reasons)
}

// onlyPrivateKeys reports whether every PEM block of data is a private key.
func onlyPrivateKeys(data []byte) bool {
	blocks, err := certs.DecodePEM(data)
	if err != nil || len(blocks) == 0 {
		return false
	}
	for _, block := range blocks {
		if !isPrivateKeyBlock(block) {
			return false
		}
	}
	return true
}

// privateKeyBlocks returns the indexes of data's private key blocks. Only
// the indexes leave this function, never the keys' bytes.
func privateKeyBlocks(data []byte) map[int]bool {
	blocks, _ := certs.DecodePEM(data)
	indexes := map[int]bool{}
	for _, block := range blocks {
		if isPrivateKeyBlock(block) {
			indexes[block.Index] = true
		}
	}
	return indexes
}

func isPrivateKeyBlock(block certs.Block) bool {
	return strings.HasSuffix(block.Type, "PRIVATE KEY")
}

// fingerprintBytes is how many leading bytes of a certificate's SHA-256
// the fingerprint label shows: 16 hexadecimal digits, enough to tell the
// certificates of a cluster apart. They are a prefix of the full hash
// that openssl and the webhook's fingerprint annotation give.
const fingerprintBytes = 8

// shortFingerprint returns the fingerprint label of a certificate whose
// SHA-256 is sum.
func shortFingerprint(sum [sha256.Size]byte) string {
	return hex.EncodeToString(sum[:fingerprintBytes])
}

func lookup[K comparable, V any](mu *sync.Mutex, m map[K]weak.Pointer[V], key K) *V {
	mu.Lock()
	defer mu.Unlock()
	return m[key].Value()
}

// intern stores value under key unless a live value is already there, and
// returns the stored one. A cleanup removes the entry once the value is
// collected.
func intern[K comparable, V any](mu *sync.Mutex, m map[K]weak.Pointer[V], key K, value *V) *V {
	mu.Lock()
	defer mu.Unlock()
	if existing := m[key].Value(); existing != nil {
		return existing
	}
	pointer := weak.Make(value)
	m[key] = pointer
	runtime.AddCleanup(value, func(key K) {
		mu.Lock()
		defer mu.Unlock()
		if m[key] == pointer {
			delete(m, key)
		}
	}, key)
	return value
}
