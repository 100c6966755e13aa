package metrics

import (
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

func (o *object) id() objectKey {
	return objectKey{o.source, o.namespace, o.name, o.path}
}

// State holds the objects the sources have read, keyed by source and
// identity, so that a label set belongs to exactly one object.
type State struct {
	mu      sync.RWMutex
	objects map[objectKey]*object
	counts  map[string]int
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
}

func (s *State) remove(key objectKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.objects[key]; ok {
		s.counts[key.source]--
		delete(s.objects, key)
	}
}

// snapshot returns the objects stored now. Objects are immutable, so the
// slice is a consistent view after the lock is released.
func (s *State) snapshot() []*object {
	s.mu.RLock()
	defer s.mu.RUnlock()
	objects := make([]*object, 0, len(s.objects))
	for _, obj := range s.objects {
		objects = append(objects, obj)
	}
	return objects
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

func (s *State) has(key objectKey) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.objects[key]
	return ok
}
