package certs

import (
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// LenientCertificate holds what the lenient reader recovers from a
// certificate that x509.ParseCertificate rejected: enough to report its
// validity, but no verified structure.
type LenientCertificate struct {
	// Block is the zero-based index of the PEM block it came from.
	Block int
	// SHA256 is the fingerprint of the DER encoding.
	SHA256       [sha256.Size]byte
	SerialNumber *big.Int
	// RawSubject and RawIssuer are the DER encodings of the names.
	RawSubject, RawIssuer []byte
	SubjectCN, IssuerCN   string
	NotBefore, NotAfter   time.Time
	// IsCA is the cA flag of the basicConstraints extension, false when
	// the extension is absent or unreadable.
	IsCA bool
	// SANCount is the number of subject alternative names.
	SANCount int
	PublicKeyInfo
}

// LenientBundle is a Bundle with the certificates that only the lenient
// reader could read. Each of them also has an entry in Errors, with the
// reason the strict parser rejected it.
type LenientBundle struct {
	Bundle
	Recovered []*LenientCertificate
}

// ParseCertificatesLenient parses data like ParseCertificates and then
// reads the validity of every CERTIFICATE block that the strict parser
// rejected from its TBSCertificate. A block with a negative serial number
// is reported as ReasonNegativeSerial instead of ReasonMalformed.
func ParseCertificatesLenient(data []byte) (*LenientBundle, error) {
	bundle, err := ParseCertificates(data)
	if bundle == nil {
		return nil, err
	}
	result := &LenientBundle{Bundle: *bundle}
	if !hasBlockError(bundle.Errors, ReasonMalformed) {
		return result, nil
	}

	blocks, _ := DecodePEM(data)
	for i, blockErr := range result.Errors {
		if blockErr.Reason != ReasonMalformed || blockErr.Block < 0 || blockErr.Block >= len(blocks) {
			continue
		}
		recovered, err := ParseCertificateLenient(blocks[blockErr.Block].Bytes)
		if err != nil {
			continue
		}
		recovered.Block = blockErr.Block
		result.Recovered = append(result.Recovered, recovered)
		if recovered.SerialNumber.Sign() < 0 {
			result.Errors[i] = &Error{Reason: ReasonNegativeSerial, Block: blockErr.Block,
				Err: fmt.Errorf("the serial number is negative, which RFC 5280 forbids; reissue the certificate: %w", blockErr.Err)}
		}
	}
	return result, nil
}

func hasBlockError(errs []*Error, reason Reason) bool {
	for _, err := range errs {
		if err.Reason == reason && err.Block != NoBlock {
			return true
		}
	}
	return false
}

var (
	errNotCertificate = errors.New("not an X.509 certificate sequence")
	oidCommonName     = []byte{0x55, 0x04, 0x03}
	oidBasicConstr    = []byte{0x55, 0x1d, 0x13}
	oidSubjectAltName = []byte{0x55, 0x1d, 0x11}
)

// ParseCertificateLenient reads the serial number, names, validity and
// public key of a DER certificate without the checks of
// x509.ParseCertificate. The signature is neither read nor verified.
func ParseCertificateLenient(der []byte) (*LenientCertificate, error) {
	input := cryptobyte.String(der)
	var certificate, tbs cryptobyte.String
	if !input.ReadASN1(&certificate, cbasn1.SEQUENCE) || !certificate.ReadASN1(&tbs, cbasn1.SEQUENCE) {
		return nil, errNotCertificate
	}

	cert := &LenientCertificate{Block: NoBlock, SHA256: sha256.Sum256(der)}
	if err := readTBSHead(&tbs, cert); err != nil {
		return nil, fmt.Errorf("read TBSCertificate: %w", err)
	}
	readExtensions(&tbs, cert)
	return cert, nil
}

// readTBSHead reads the fields of a TBSCertificate up to the public key.
func readTBSHead(tbs *cryptobyte.String, cert *LenientCertificate) error {
	var serial cryptobyte.String
	var spki []byte
	var validity cryptobyte.String
	versionTag := cbasn1.Tag(0).Constructed().ContextSpecific()
	switch {
	case !tbs.SkipOptionalASN1(versionTag):
		return errors.New("invalid version")
	case !tbs.ReadASN1(&serial, cbasn1.INTEGER) || len(serial) == 0:
		return errors.New("invalid serial number")
	case !tbs.SkipASN1(cbasn1.SEQUENCE):
		return errors.New("invalid signature algorithm")
	case !tbs.ReadASN1Element((*cryptobyte.String)(&cert.RawIssuer), cbasn1.SEQUENCE):
		return errors.New("invalid issuer")
	case !tbs.ReadASN1(&validity, cbasn1.SEQUENCE):
		return errors.New("invalid validity")
	case !readTime(&validity, &cert.NotBefore) || !readTime(&validity, &cert.NotAfter):
		return errors.New("invalid validity time")
	case !tbs.ReadASN1Element((*cryptobyte.String)(&cert.RawSubject), cbasn1.SEQUENCE):
		return errors.New("invalid subject")
	case !tbs.ReadASN1Element((*cryptobyte.String)(&spki), cbasn1.SEQUENCE):
		return errors.New("invalid subject public key info")
	}

	cert.SerialNumber = signedInteger(serial)
	cert.SubjectCN = commonName(cert.RawSubject)
	cert.IssuerCN = commonName(cert.RawIssuer)
	cert.PublicKeyInfo = PublicKeyInfo{Algorithm: AlgorithmUnknown}
	if pub, err := x509.ParsePKIXPublicKey(spki); err == nil {
		cert.PublicKeyInfo = DescribePublicKey(pub)
	}
	return nil
}

// signedInteger decodes a two's complement big-endian INTEGER.
func signedInteger(content []byte) *big.Int {
	n := new(big.Int).SetBytes(content)
	if content[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(len(content))*8))
	}
	return n
}

func readTime(s *cryptobyte.String, out *time.Time) bool {
	switch {
	case s.PeekASN1Tag(cbasn1.UTCTime):
		return s.ReadASN1UTCTime(out)
	case s.PeekASN1Tag(cbasn1.GeneralizedTime):
		return s.ReadASN1GeneralizedTime(out)
	default:
		return false
	}
}

// commonName returns the first common name of a DER Name, or "" when it
// has none or cannot be read. Invalid UTF-8 is replaced.
func commonName(name []byte) string {
	input := cryptobyte.String(name)
	var rdns cryptobyte.String
	if !input.ReadASN1(&rdns, cbasn1.SEQUENCE) {
		return ""
	}
	for !rdns.Empty() {
		var set cryptobyte.String
		if !rdns.ReadASN1(&set, cbasn1.SET) {
			return ""
		}
		for !set.Empty() {
			var attribute, oid, value cryptobyte.String
			var tag cbasn1.Tag
			if !set.ReadASN1(&attribute, cbasn1.SEQUENCE) ||
				!attribute.ReadASN1(&oid, cbasn1.OBJECT_IDENTIFIER) ||
				!attribute.ReadAnyASN1(&value, &tag) {
				return ""
			}
			if string(oid) == string(oidCommonName) {
				return toValidUTF8(value)
			}
		}
	}
	return ""
}

func toValidUTF8(b []byte) string {
	return strings.ToValidUTF8(string(b), string(utf8.RuneError))
}

// readExtensions reads the cA flag and the number of subject alternative
// names. Unreadable extensions are skipped: they are what made the strict
// parser fail in the first place.
func readExtensions(tbs *cryptobyte.String, cert *LenientCertificate) {
	_ = tbs.SkipOptionalASN1(cbasn1.Tag(1).ContextSpecific())
	_ = tbs.SkipOptionalASN1(cbasn1.Tag(2).ContextSpecific())
	var wrapper, extensions cryptobyte.String
	var present bool
	if !tbs.ReadOptionalASN1(&wrapper, &present, cbasn1.Tag(3).Constructed().ContextSpecific()) ||
		!present || !wrapper.ReadASN1(&extensions, cbasn1.SEQUENCE) {
		return
	}
	for !extensions.Empty() {
		var extension, oid, value cryptobyte.String
		if !extensions.ReadASN1(&extension, cbasn1.SEQUENCE) || !extension.ReadASN1(&oid, cbasn1.OBJECT_IDENTIFIER) {
			return
		}
		_ = extension.SkipOptionalASN1(cbasn1.BOOLEAN)
		if !extension.ReadASN1(&value, cbasn1.OCTET_STRING) {
			return
		}
		switch string(oid) {
		case string(oidBasicConstr):
			cert.IsCA = readCAFlag(value)
		case string(oidSubjectAltName):
			cert.SANCount = countSequence(value)
		}
	}
}

func readCAFlag(value cryptobyte.String) bool {
	var constraints cryptobyte.String
	var isCA bool
	if !value.ReadASN1(&constraints, cbasn1.SEQUENCE) || !constraints.PeekASN1Tag(cbasn1.BOOLEAN) {
		return false
	}
	return constraints.ReadASN1Boolean(&isCA) && isCA
}

func countSequence(value cryptobyte.String) int {
	var names cryptobyte.String
	if !value.ReadASN1(&names, cbasn1.SEQUENCE) {
		return 0
	}
	count := 0
	for !names.Empty() {
		var name cryptobyte.String
		var tag cbasn1.Tag
		if !names.ReadAnyASN1Element(&name, &tag) {
			break
		}
		count++
	}
	return count
}
