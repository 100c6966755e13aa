package metrics

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"runtime"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// chunkObjects is how many objects' series of one family one compressed
// chunk holds: about 250 KiB of text for the largest families.
const chunkObjects = 512

// chunk is the compressed text of one family's series for a run of
// objects, or of one family's HELP and TYPE lines when objects is nil. It
// is a raw DEFLATE stream that ends with a sync flush instead of a final
// block, so chunks and more blocks can follow it in one stream.
type chunk struct {
	objects []*object
	deflate []byte
	// crc and size are the CRC-32 and length of the text, for the gzip
	// trailer.
	crc  uint32
	size uint32
}

// chunkID names a chunk by family and the index of its first object in
// the scrape order; a header chunk has start -1.
type chunkID struct {
	family, start int
}

// compressedCerts is the certificate families of one generation of the
// State, compressed and reused by every gzip scrape until the State
// changes. It costs about a tenth of the text in memory. After a change
// only the chunks whose objects changed are compressed again: an update
// of one Secret recompresses one chunk per family.
type compressedCerts struct {
	generation uint64
	chunks     map[chunkID]*chunk
	order      []*chunk
	crc        uint32
	size       uint32
}

var flateWriters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.BestSpeed)
	return w
}}

func getFlateWriter(w io.Writer) *flate.Writer {
	compressor := flateWriters.Get().(*flate.Writer)
	compressor.Reset(w)
	return compressor
}

// putFlateWriter returns compressor to the pool, pointing it at
// io.Discard first so that the pool keeps no writer of a scrape alive.
func putFlateWriter(compressor *flate.Writer) {
	compressor.Reset(io.Discard)
	flateWriters.Put(compressor)
}

// gzipHeader is a gzip member header (RFC 1952): no name, no time, the
// fastest compression, unknown operating system, as compress/gzip writes
// it at flate.BestSpeed.
var gzipHeader = []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 255}

// writeGzip writes the text exposition as one gzip member: the header,
// the compressed certificate families, the exporter's own families
// compressed now with the final block, and the trailer over all of it.
func (s *State) writeGzip(w io.Writer, self prometheus.Gatherer) error {
	certs, err := s.compressCerts()
	if err != nil {
		return err
	}
	var selfText bytes.Buffer
	selfErr := writeSelf(&selfText, self)

	buffered := bufio.NewWriterSize(w, 64<<10)
	_, _ = buffered.Write(gzipHeader)
	for _, c := range certs.order {
		_, _ = buffered.Write(c.deflate)
	}
	compressor := getFlateWriter(buffered)
	defer putFlateWriter(compressor)
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
// current generation. When the State changed since the last call, it
// reuses each chunk whose objects are the same and compresses the others
// in parallel. Concurrent scrapes wait for one compression.
func (s *State) compressCerts() (*compressedCerts, error) {
	s.compressMu.Lock()
	defer s.compressMu.Unlock()
	objects, generation := s.snapshotGeneration()
	previous := s.compressed
	if previous != nil && previous.generation == generation {
		return previous, nil
	}

	next := &compressedCerts{generation: generation, chunks: map[chunkID]*chunk{}}
	var stale []*chunk
	var staleIDs []chunkID
	reuse := func(id chunkID, run []*object) {
		if previous != nil {
			if c, ok := previous.chunks[id]; ok && slices.Equal(c.objects, run) {
				next.chunks[id], next.order = c, append(next.order, c)
				return
			}
		}
		c := &chunk{objects: run}
		next.chunks[id], next.order = c, append(next.order, c)
		stale, staleIDs = append(stale, c), append(staleIDs, id)
	}
	for i := range familyCount {
		if !slices.ContainsFunc(objects, func(obj *object) bool { return hasFamily(obj, i) }) {
			continue
		}
		reuse(chunkID{i, -1}, nil)
		for start := 0; start < len(objects); start += chunkObjects {
			reuse(chunkID{i, start}, objects[start:min(start+chunkObjects, len(objects))])
		}
	}
	if err := compressChunks(stale, staleIDs); err != nil {
		return nil, err
	}
	for _, c := range next.order {
		next.crc = crc32Combine(next.crc, c.crc, uint64(c.size))
		next.size += c.size
	}
	s.compressed = next
	return next, nil
}

// compressChunks renders and compresses the chunks, one goroutine per
// CPU.
func compressChunks(chunks []*chunk, ids []chunkID) error {
	errs := make([]error, len(chunks))
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(chunks)) {
		wg.Go(func() {
			var text []byte
			for n := range work {
				text = renderChunk(text[:0], ids[n].family, chunks[n].objects)
				errs[n] = chunks[n].compress(text)
			}
		})
	}
	for n := range chunks {
		work <- n
	}
	close(work)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return fmt.Errorf("compress certificate series: %w", err)
		}
	}
	return nil
}

// renderChunk appends the text of family i for objects, or the family's
// HELP and TYPE lines when objects is nil.
func renderChunk(b []byte, i int, objects []*object) []byte {
	if objects == nil {
		return appendHeader(b, i)
	}
	for _, obj := range objects {
		b = appendObjectFamily(b, i, obj)
	}
	return b
}

func (c *chunk) compress(text []byte) error {
	var out bytes.Buffer
	compressor := getFlateWriter(&out)
	defer putFlateWriter(compressor)
	if _, err := compressor.Write(text); err != nil {
		return err
	}
	if err := compressor.Flush(); err != nil {
		return err
	}
	c.deflate = bytes.Clone(out.Bytes())
	c.crc = crc32.ChecksumIEEE(text)
	c.size = uint32(len(text))
	return nil
}

// crc32Combine returns the CRC-32 (IEEE) of a text A followed by a text B,
// given the CRC of A, the CRC of B and the length of B. It multiplies the
// CRC of A by x^(8*len2) modulo the CRC polynomial, as if len2 zero bytes
// followed A, and adds the CRC of B, the method of zlib's crc32_combine.
func crc32Combine(crc1, crc2 uint32, len2 uint64) uint32 {
	return multModP(xPow2NModP(len2, 3), crc1) ^ crc2
}

// crcPolynomial is the IEEE CRC-32 polynomial, bit-reversed, as
// hash/crc32 uses it.
const crcPolynomial = 0xedb88320

// multModP returns a(x) times b(x) modulo the CRC polynomial, with
// polynomials in the reflected bit order of the CRC: x^0 is the top bit.
func multModP(a, b uint32) uint32 {
	var product uint32
	for m := uint32(1) << 31; m != 0; m >>= 1 {
		if a&m != 0 {
			product ^= b
		}
		if b&1 != 0 {
			b = b>>1 ^ crcPolynomial
		} else {
			b >>= 1
		}
	}
	return product
}

// xPow2K holds x^(2^k) modulo the CRC polynomial for k from 0 to 31.
var xPow2K = func() [32]uint32 {
	var table [32]uint32
	p := uint32(1) << 30 // x^1
	for k := range table {
		table[k] = p
		p = multModP(p, p)
	}
	return table
}()

// xPow2NModP returns x^(n * 2^k) modulo the CRC polynomial.
func xPow2NModP(n uint64, k uint) uint32 {
	p := uint32(1) << 31 // x^0
	for ; n != 0; n >>= 1 {
		if n&1 != 0 {
			p = multModP(xPow2K[k&31], p)
		}
		k++
	}
	return p
}
