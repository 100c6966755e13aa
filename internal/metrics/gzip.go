package metrics

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// compressedCerts is the certificate families of one generation of the
// State, compressed once and reused by every gzip scrape until the State
// changes. It costs about a tenth of the text in memory, and a scrape
// that finds it current only compresses the exporter's own metrics.
type compressedCerts struct {
	generation uint64
	// deflate is a raw DEFLATE stream of the text that ends with a sync
	// flush instead of a final block, so that more blocks can follow.
	deflate []byte
	// crc and size are the CRC-32 and length of the text, for the gzip
	// trailer.
	crc  uint32
	size uint32
}

var flateWriters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.BestSpeed)
	return w
}}

// gzipHeader is a gzip member header (RFC 1952): no name, no time, the
// fastest compression, unknown operating system, as compress/gzip writes
// it at flate.BestSpeed.
var gzipHeader = []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 255}

// writeGzip writes the text exposition as one gzip member: the header,
// the cached certificate families, the exporter's own families
// compressed now with the final block, and the trailer over both texts.
func (s *State) writeGzip(w io.Writer, self prometheus.Gatherer) error {
	certs, err := s.compressCerts()
	if err != nil {
		return err
	}
	var selfText bytes.Buffer
	selfErr := writeSelf(&selfText, self)

	buffered := bufio.NewWriterSize(w, 64<<10)
	_, _ = buffered.Write(gzipHeader)
	_, _ = buffered.Write(certs.deflate)
	compressor := flateWriters.Get().(*flate.Writer)
	defer flateWriters.Put(compressor)
	compressor.Reset(buffered)
	_, _ = compressor.Write(selfText.Bytes())
	if err := compressor.Close(); err != nil {
		return fmt.Errorf("write scrape: %w", err)
	}
	trailer := binary.LittleEndian.AppendUint32(nil, crc32.Update(certs.crc, crc32.IEEETable, selfText.Bytes()))
	trailer = binary.LittleEndian.AppendUint32(trailer, certs.size+uint32(selfText.Len()))
	_, _ = buffered.Write(trailer)
	if err := buffered.Flush(); err != nil {
		return fmt.Errorf("write scrape: %w", err)
	}
	return selfErr
}

// compressCerts returns the compressed certificate families of the
// current generation, compressing them again when the State changed since
// the last call. Concurrent scrapes wait for one compression.
func (s *State) compressCerts() (*compressedCerts, error) {
	s.compressMu.Lock()
	defer s.compressMu.Unlock()
	objects, generation := s.snapshotGeneration()
	if s.compressed != nil && s.compressed.generation == generation {
		return s.compressed, nil
	}

	var out bytes.Buffer
	if s.compressed != nil {
		out.Grow(len(s.compressed.deflate))
	}
	compressor := flateWriters.Get().(*flate.Writer)
	defer flateWriters.Put(compressor)
	compressor.Reset(&out)
	text := &checksumWriter{w: compressor, crc: crc32.NewIEEE()}
	buffered := bufio.NewWriterSize(text, 64<<10)
	err := writeCertFamilies(buffered, objects)
	err = errors.Join(err, buffered.Flush(), compressor.Flush())
	if err != nil {
		return nil, fmt.Errorf("compress certificate series: %w", err)
	}
	s.compressed = &compressedCerts{generation: generation, deflate: out.Bytes(), crc: text.crc.Sum32(), size: text.size}
	return s.compressed, nil
}

// checksumWriter passes writes on and keeps the CRC-32 and the length,
// modulo 2^32 as gzip's trailer gives it, of what passed.
type checksumWriter struct {
	w    io.Writer
	crc  hash.Hash32
	size uint32
}

func (c *checksumWriter) Write(p []byte) (int, error) {
	_, _ = c.crc.Write(p)
	c.size += uint32(len(p))
	return c.w.Write(p)
}
