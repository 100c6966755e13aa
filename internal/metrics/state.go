package metrics

import (
	"cmp"
	"slices"
	"strings"
	"sync"
)

// Sources of objects, the values of the source label.
const (
	sourceSecret      = "secret"
	sourceIstioSecret = "istio-secret"
	sourceFile        = "file"
)

// object is one Secret or one file with its certificate values. It is
// immutable once stored: a change replaces the whole object.
type object struct {
	source    string
	namespace string
	name      string
	path      string
	keys      []keyValue
}

type objectKey struct {
	source, namespace, name, path string
}

// compareObjects orders objects by namespace, name, path and source, the
// order of their series in a scrape.
func compareObjects(a, b *object) int {
	return cmp.Or(strings.Compare(a.namespace, b.namespace), strings.Compare(a.name, b.name),
		strings.Compare(a.path, b.path), strings.Compare(a.source, b.source))
}

func (o *object) id() objectKey {
	return objectKey{o.source, o.namespace, o.name, o.path}
}

// State holds the objects the sources have read, keyed by source and
// identity, so that a label set belongs to exactly one object.
type State struct {
	mu      sync.RWMutex
	objects map[objectKey]*object
	counts  map[string]int
	// sorted are the objects in scrape order, rebuilt by snapshot after
	// a change, so that a scrape sorts nothing while nothing changes.
	sorted []*object
	dirty  bool
	// generation counts the changes, so that a cache built from a
	// snapshot can tell when it is stale.
	generation uint64

	// compressMu serializes compressCerts, which replaces compressed.
	compressMu sync.Mutex
	compressed *compressedCerts
}

// NewState returns an empty State.
func NewState() *State {
	return &State{objects: map[objectKey]*object{}, counts: map[string]int{}}
}

// set stores obj, replacing the object with the same identity. An object
// without values is removed instead, so it exports no series.
func (s *State) set(obj *object) {
	if len(obj.keys) == 0 {
		s.remove(obj.id())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.objects[obj.id()]; !ok {
		s.counts[obj.source]++
	}
	s.objects[obj.id()] = obj
	s.dirty = true
	s.generation++
}

func (s *State) remove(key objectKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.objects[key]; ok {
		s.counts[key.source]--
		delete(s.objects, key)
		s.dirty = true
		s.generation++
	}
}

// snapshot returns the objects stored now, in scrape order. Objects and
// the returned slice are never modified, so the slice is a consistent view
// after the lock is released.
func (s *State) snapshot() []*object {
	objects, _ := s.snapshotGeneration()
	return objects
}

// snapshotGeneration returns the objects stored now, in scrape order, and
// the generation they belong to.
func (s *State) snapshotGeneration() ([]*object, uint64) {
	s.mu.RLock()
	if !s.dirty {
		defer s.mu.RUnlock()
		return s.sorted, s.generation
	}
	s.mu.RUnlock()

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dirty {
		sorted := make([]*object, 0, len(s.objects))
		for _, obj := range s.objects {
			sorted = append(sorted, obj)
		}
		slices.SortFunc(sorted, compareObjects)
		s.sorted, s.dirty = sorted, false
	}
	return s.sorted, s.generation
}

func (s *State) count(source string) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.counts[source]
}

// paths returns the file paths stored for the file source.
func (s *State) paths() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var paths []string
	for key := range s.objects {
		if key.source == sourceFile {
			paths = append(paths, key.path)
		}
	}
	return paths
}

// objectFor returns the object stored under key, or nil.
func (s *State) objectFor(key objectKey) *object {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.objects[key]
}

func (s *State) has(key objectKey) bool {
	return s.objectFor(key) != nil
}
