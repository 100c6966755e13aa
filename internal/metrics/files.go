package metrics

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/go-logr/logr"

	"github.com/meshcert/meshcert/internal/logging"
)

// fileDebounce groups the burst of events of one write or one Kubernetes
// volume update (a new ..data directory, then a symlink swap) into one
// scan.
const fileDebounce = 100 * time.Millisecond

// caFileNames are file names read as CA bundles rather than chains.
var caFileNames = []string{"ca.crt", "cacert", "root-cert.pem"}

// fileSource keeps the State in step with PEM files matched by globs. It
// watches the globs' directories with fsnotify, which sees both a rename
// over a file and Kubernetes' ..data symlink swap, and scans again every
// interval in case an event was missed or a directory appeared later.
type fileSource struct {
	patterns []string
	interval time.Duration
	parser   *parser
	state    *State
	self     *selfMetrics
	logger   logr.Logger
	// sums holds the SHA-256 of each file's content at its last read, so
	// an unchanged file is not parsed again. Only the scan goroutine uses
	// it.
	sums map[string][sha256.Size]byte
	// unmatched holds the globs that matched no file at the last scan, so
	// the message is logged once each time a glob stops matching. Only
	// the scan goroutine uses it.
	unmatched map[string]bool
	synced    atomic.Bool
}

func newFileSource(patterns []string, interval time.Duration, deps sourceDeps) (*fileSource, error) {
	for _, pattern := range patterns {
		if _, err := filepath.Match(pattern, ""); err != nil {
			return nil, fmt.Errorf("invalid --path glob %q: %w", pattern, err)
		}
	}
	return &fileSource{
		patterns: patterns, interval: interval,
		parser: deps.parser, state: deps.state, self: deps.self,
		logger:    deps.logger.WithValues("source", sourceFile),
		sums:      map[string][sha256.Size]byte{},
		unmatched: map[string]bool{},
	}, nil
}

func (s *fileSource) run(ctx context.Context) {
	watcher, err := fsnotify.NewWatcher()
	if err != nil {
		s.logger.Error(err, "Failed to start watching files, scanning every interval only", "interval", s.interval)
	} else {
		defer watcher.Close()
	}
	watched := map[string]bool{}
	s.watchDirs(watcher, watched)
	s.scan()
	s.synced.Store(true)
	s.self.markSynced(sourceFile)
	s.logger.Info("Watching files", "patterns", s.patterns, "files", s.state.count(sourceFile))

	ticker := time.NewTicker(s.interval)
	defer ticker.Stop()
	debounce := time.NewTimer(fileDebounce)
	debounce.Stop()
	events, errs := watcherChannels(watcher)
	for {
		select {
		case <-ctx.Done():
			return
		case event := <-events:
			s.logger.V(logging.Trace).Info("File event", "name", event.Name, "op", event.Op.String())
			debounce.Reset(fileDebounce)
		case err := <-errs:
			s.logger.Error(err, "File watch failed, scanning again")
			debounce.Reset(fileDebounce)
		case <-debounce.C:
			s.scan()
		case <-ticker.C:
			s.watchDirs(watcher, watched)
			s.scan()
		}
	}
}

func watcherChannels(watcher *fsnotify.Watcher) (<-chan fsnotify.Event, <-chan error) {
	if watcher == nil {
		return nil, nil
	}
	return watcher.Events, watcher.Errors
}

// watchDirs watches the directory of every pattern that exists and is not
// watched yet.
func (s *fileSource) watchDirs(watcher *fsnotify.Watcher, watched map[string]bool) {
	if watcher == nil {
		return
	}
	for _, pattern := range s.patterns {
		dirs, _ := filepath.Glob(filepath.Dir(pattern))
		for _, dir := range dirs {
			if watched[dir] {
				continue
			}
			if err := watcher.Add(dir); err != nil {
				s.logger.Error(err, "Failed to watch directory, relying on periodic scans", "dir", dir)
				continue
			}
			watched[dir] = true
		}
	}
}

// scan reads every matched file that changed and removes files that no
// longer match.
func (s *fileSource) scan() {
	matched := map[string]bool{}
	for _, pattern := range s.patterns {
		paths, _ := filepath.Glob(pattern)
		s.noteUnmatched(pattern, len(paths) == 0)
		for _, path := range paths {
			if s.read(path) {
				matched[path] = true
			}
		}
	}
	for _, path := range s.state.paths() {
		if !matched[path] {
			s.state.remove(objectKey{source: sourceFile, path: path})
			delete(s.sums, path)
			s.logger.Info("Removed file", "path", path)
		}
	}
	for path := range s.sums {
		if !matched[path] {
			delete(s.sums, path)
		}
	}
	s.self.touch(sourceFile)
}

// noteUnmatched logs once when pattern stops matching any file and once
// when it matches again. logr has no warning level, so both are Info.
func (s *fileSource) noteUnmatched(pattern string, unmatched bool) {
	switch {
	case unmatched && !s.unmatched[pattern]:
		s.logger.Info("No file matches a --path glob, scanning again every interval",
			"glob", pattern, "interval", s.interval)
		s.unmatched[pattern] = true
	case !unmatched && s.unmatched[pattern]:
		s.logger.Info("Files match a --path glob again", "glob", pattern)
		delete(s.unmatched, pattern)
	}
}

// read parses path when its content changed and reports whether the path
// is a certificate file that stays in the State.
func (s *fileSource) read(path string) bool {
	info, err := os.Stat(path)
	if err != nil || info.IsDir() {
		return false
	}
	data, err := os.ReadFile(path)
	if err != nil {
		s.logger.Error(err, "Failed to read file, keeping its last state", "path", path)
		_, known := s.sums[path]
		return known
	}
	sum := sha256.Sum256(data)
	if previous, ok := s.sums[path]; ok && previous == sum {
		return s.state.has(objectKey{source: sourceFile, path: path})
	}
	s.sums[path] = sum
	if onlyPrivateKeys(data) {
		s.logger.V(logging.Debug).Info("Skipped private key file", "path", path)
		s.state.remove(objectKey{source: sourceFile, path: path})
		return false
	}

	done := s.self.timeParse(sourceFile)
	name := filepath.Base(path)
	kind := chainValue
	if slices.Contains(caFileNames, name) {
		kind = caValue
	}
	value := s.parser.parseFile(data, kind)
	done()
	key := objectKey{source: sourceFile, path: path}
	if !s.state.has(key) {
		s.logger.Info("Added file", "path", path)
	}
	s.state.set(&object{source: sourceFile, path: path, keys: []keyValue{{key: labelValue(name), value: value}}})
	s.logger.V(logging.Debug).Info("Parsed file", "path", path, "certificates", len(value.certs), "reasons", value.reasons)
	if len(value.reasons) > 0 {
		s.logger.Info("File has unusable certificate data, reported as meshcert_secret_error",
			"path", path, "reasons", value.reasons)
	}
	return true
}
