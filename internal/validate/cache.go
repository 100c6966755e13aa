package validate

import (
	"container/list"
	"crypto/sha256"
	"sync"
)

// DefaultCacheEntries bounds the parse cache. An entry holds the parsed
// certificates of one value (a few kilobytes each) or the public half of
// one key, so the cache stays within a few megabytes.
const DefaultCacheEntries = 1024

// valueKind separates the cache entries of one byte string read in
// different roles.
type valueKind byte

const (
	kindChain valueKind = 'c'
	kindCA    valueKind = 'a'
	kindKey   valueKind = 'k'
)

type cacheKey [sha256.Size]byte

func newCacheKey(kind valueKind, value []byte) cacheKey {
	h := sha256.New()
	h.Write([]byte{byte(kind)})
	h.Write(value)
	var key cacheKey
	h.Sum(key[:0])
	return key
}

// parseCache is a bounded least-recently-used cache of parse results,
// keyed by a SHA-256 hash of the value. It stores only public facts:
// parsed certificates and the public half of keys, never private key
// bytes. Entries are immutable once stored.
type parseCache struct {
	mu      sync.Mutex
	max     int
	entries map[cacheKey]*list.Element
	order   *list.List
}

type cacheEntry struct {
	key   cacheKey
	value any
}

func newParseCache(maxEntries int) *parseCache {
	return &parseCache{max: maxEntries, entries: map[cacheKey]*list.Element{}, order: list.New()}
}

func (c *parseCache) get(key cacheKey) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	element, ok := c.entries[key]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(element)
	return element.Value.(*cacheEntry).value, true
}

func (c *parseCache) put(key cacheKey, value any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if element, ok := c.entries[key]; ok {
		element.Value.(*cacheEntry).value = value
		c.order.MoveToFront(element)
		return
	}
	c.entries[key] = c.order.PushFront(&cacheEntry{key: key, value: value})
	for c.order.Len() > c.max {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.entries, oldest.Value.(*cacheEntry).key)
	}
}

func (c *parseCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// cached returns the cached result for value in role kind, computing and
// storing it on a miss. Two concurrent misses may both compute; the
// results are equal, so the second store is harmless.
func cached[T any](c *parseCache, kind valueKind, value []byte, compute func([]byte) T) T {
	key := newCacheKey(kind, value)
	if hit, ok := c.get(key); ok {
		return hit.(T)
	}
	result := compute(value)
	c.put(key, result)
	return result
}
