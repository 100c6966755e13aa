package certs

import (
	"bytes"
	"encoding/base64"
	"encoding/pem"
	"unicode/utf8"
)

// Block is one decoded PEM block of a value.
type Block struct {
	// Index is the zero-based position of the block in the value.
	Index   int
	Type    string
	Headers map[string]string
	Bytes   []byte
}

var (
	pemBegin = []byte("-----BEGIN ")
	utf8BOM  = []byte("\xef\xbb\xbf")
)

// DecodePEM decodes every PEM block of data. When data holds no PEM block
// at all, the error names the likely mistake: DER bytes, base64 applied
// twice, literal "\n" escapes or an empty value. A header line preceded by
// a byte-order mark or whitespace is reported as ReasonLeadingGarbage,
// because OpenSSL, BoringSSL and encoding/pem all skip such a block. The
// blocks that did decode are returned with that error.
func DecodePEM(data []byte) ([]Block, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, newError(ReasonEmpty, NoBlock, "the value is empty")
	}

	var blocks []Block
	rest := data
	for {
		block, next := pem.Decode(rest)
		if block == nil {
			break
		}
		blocks = append(blocks, Block{
			Index:   len(blocks),
			Type:    block.Type,
			Headers: block.Headers,
			Bytes:   block.Bytes,
		})
		rest = next
	}

	// encoding/pem only finds a BEGIN line at the start of a line, so an
	// indented header or one behind a BOM is skipped rather than decoded.
	if err := checkHeaderLines(data); err != nil {
		return blocks, err
	}
	if len(blocks) == 0 {
		return nil, diagnoseNotPEM(data)
	}
	return blocks, nil
}

// checkHeaderLines reports the first PEM header line that does not start at
// the beginning of its line.
func checkHeaderLines(data []byte) error {
	index := 0
	for line := range bytes.Lines(data) {
		at := bytes.Index(line, pemBegin)
		if at < 0 {
			continue
		}
		prefix := line[:at]
		switch {
		case bytes.HasPrefix(prefix, utf8BOM):
			return newError(ReasonLeadingGarbage, index,
				"a UTF-8 byte-order mark precedes the BEGIN line; save the file without a BOM")
		case len(bytes.TrimSpace(prefix)) == 0 && len(prefix) > 0:
			return newError(ReasonLeadingGarbage, index,
				"whitespace precedes the BEGIN line; remove the indentation")
		}
		index++
	}
	return nil
}

// diagnoseNotPEM names the most likely mistake behind a value with no PEM
// block.
func diagnoseNotPEM(data []byte) *Error {
	trimmed := bytes.TrimSpace(data)

	if bytes.Contains(trimmed, pemBegin) && bytes.Contains(trimmed, []byte(`\n`)) {
		return newError(ReasonEscapedNewlines, NoBlock,
			`the PEM text has literal \n escapes instead of line breaks; write real newlines`)
	}

	if decoded, ok := decodeBase64(trimmed); ok {
		if bytes.Contains(decoded, pemBegin) {
			return newError(ReasonDoubleBase64, NoBlock,
				"the value is base64 of PEM text, so base64 was applied twice; "+
					"store the PEM text itself (use stringData, or encode once)")
		}
		if looksLikeDER(decoded) {
			return newError(ReasonNotPEM, NoBlock,
				"the value is base64 without PEM BEGIN and END lines; add the armour lines")
		}
	}

	// The untrimmed value counts too: DER may end in bytes that are ASCII
	// whitespace, which trimming would cut off.
	if looksLikeDER(data) || looksLikeDER(trimmed) {
		return newError(ReasonDER, NoBlock,
			"the value is binary DER, not PEM; convert it with "+
				"'openssl x509 -inform der -in FILE -out FILE.pem' (or 'openssl pkey' for a key)")
	}

	if !utf8.Valid(trimmed) {
		return newError(ReasonNotPEM, NoBlock, "the value is binary data, not PEM text")
	}
	return newError(ReasonNotPEM, NoBlock, "the value has no PEM block (no -----BEGIN line)")
}

// decodeBase64 decodes standard base64 that may be wrapped over lines.
func decodeBase64(data []byte) ([]byte, bool) {
	compact := bytes.Join(bytes.Fields(data), nil)
	if len(compact) == 0 {
		return nil, false
	}
	decoded := make([]byte, base64.StdEncoding.DecodedLen(len(compact)))
	n, err := base64.StdEncoding.Decode(decoded, compact)
	if err != nil {
		return nil, false
	}
	return decoded[:n], true
}

// looksLikeDER reports whether data starts with an ASN.1 SEQUENCE whose
// length fits the data, the shape of a DER certificate or key.
func looksLikeDER(data []byte) bool {
	if len(data) < 2 || data[0] != 0x30 {
		return false
	}
	length := int(data[1])
	header := 2
	if length&0x80 != 0 {
		octets := length & 0x7f
		if octets == 0 || octets > 3 || len(data) < 2+octets {
			return false
		}
		length = 0
		for _, b := range data[2 : 2+octets] {
			length = length<<8 | int(b)
		}
		header += octets
	}
	return header+length <= len(data)
}
