package cli

import (
	"encoding/pem"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/meshcert/meshcert/internal/certs"
	"github.com/meshcert/meshcert/internal/validate"
)

// fileRole is the part a PEM file plays in the Secret, found from its content.
type fileRole string

const (
	roleUnknown     fileRole = "unrecognised"
	roleCertificate fileRole = "certificate"
	roleKey         fileRole = "key"
	roleCA          fileRole = "CA"
	// roleCombined is a file with both certificates and a private key.
	roleCombined fileRole = "certificate and key"
)

// segment is the part of a data key that one file contributed. Block i
// of the segment is block blocks[i] of the file, or block i when blocks
// is nil.
type segment struct {
	file   string
	count  int
	blocks []int
}

// part is the content one file contributes to a data key.
type part struct {
	segment
	data []byte
	// forcedCA is set for files given with --ca.
	forcedCA bool
}

// assembly sorts PEM files into the values of a kubernetes.io/tls Secret.
type assembly struct {
	cert, key, ca []part
	unknown       []part
	// files lists the file names in command-line order, and roles the
	// role each ends up with.
	files []string
	roles map[string]fileRole
}

// assembleFiles builds one Secret from certificate, key and CA files: the
// certificate files in order become tls.crt, the key tls.key and the CA
// files ca.crt, the way an operator would create it from those files.
func assembleFiles(files []inputFile) (checkTarget, error) {
	a := &assembly{roles: map[string]fileRole{}}
	for _, file := range files {
		if err := a.add(file); err != nil {
			return checkTarget{}, err
		}
	}
	a.placeCertificate()
	if err := a.placeUnknown(); err != nil {
		return checkTarget{}, err
	}
	return a.target(), nil
}

func (a *assembly) add(file inputFile) error {
	blocks, _ := certs.DecodePEM(file.data)
	whole := part{segment: segment{file: file.name, count: len(blocks)}, data: file.data, forcedCA: file.ca}
	role := classify(file, blocks)
	a.files = append(a.files, file.name)
	a.roles[file.name] = role
	switch role {
	case roleCertificate:
		a.cert = append(a.cert, whole)
	case roleCA:
		a.ca = append(a.ca, whole)
	case roleKey:
		return a.addKey(whole)
	case roleCombined:
		certPart, keyPart := splitCombined(file.name, blocks)
		a.cert = append(a.cert, certPart)
		return a.addKey(keyPart)
	default:
		a.unknown = append(a.unknown, whole)
	}
	return nil
}

func (a *assembly) addKey(key part) error {
	if len(a.key) > 0 {
		return fmt.Errorf("%s and %s both hold a private key; give the one key of the certificate",
			a.key[0].file, key.file)
	}
	a.key = append(a.key, key)
	return nil
}

// classify returns a file's role from its PEM blocks: private key blocks
// make a key, certificates that are all CAs make a CA bundle, other
// certificates a certificate chain. A file with no PEM block at all (DER,
// base64) is unrecognised; the rules then name its problem.
func classify(file inputFile, blocks []certs.Block) fileRole {
	if file.ca {
		return roleCA
	}
	if len(blocks) == 0 {
		return roleUnknown
	}
	hasKey, hasCert := false, false
	for _, block := range blocks {
		hasKey = hasKey || isKeyBlock(block.Type)
		hasCert = hasCert || block.Type == "CERTIFICATE"
	}
	switch {
	case hasKey && hasCert:
		return roleCombined
	case hasKey:
		return roleKey
	case hasCert && allCA(file.data):
		return roleCA
	default:
		return roleCertificate
	}
}

func isKeyBlock(blockType string) bool {
	return strings.HasSuffix(blockType, "PRIVATE KEY") || blockType == "EC PARAMETERS"
}

// allCA reports whether every certificate that parses is a CA.
func allCA(data []byte) bool {
	bundle, err := certs.ParseCertificates(data)
	if err != nil || bundle == nil || len(bundle.Certificates) == 0 {
		return false
	}
	for _, cert := range bundle.Certificates {
		if !cert.X509.BasicConstraintsValid || !cert.X509.IsCA {
			return false
		}
	}
	return true
}

// splitCombined separates the certificate blocks of a combined file from
// its key blocks, remembering each block's index in the file.
func splitCombined(name string, blocks []certs.Block) (certPart, keyPart part) {
	certPart.file, keyPart.file = name, name
	for _, block := range blocks {
		target := &certPart
		if isKeyBlock(block.Type) {
			target = &keyPart
		}
		target.data = append(target.data, pem.EncodeToMemory(&pem.Block{
			Type: block.Type, Headers: block.Headers, Bytes: block.Bytes,
		})...)
		target.blocks = append(target.blocks, block.Index)
		target.count++
	}
	return certPart, keyPart
}

// placeCertificate serves a CA-looking certificate when no other
// certificate was given but a key was, such as a self-signed certificate
// made with 'openssl req -x509', which is CA:TRUE by default. The file
// whose first certificate matches the key is preferred.
func (a *assembly) placeCertificate() {
	if len(a.cert) > 0 || len(a.key) == 0 {
		return
	}
	candidate := -1
	key, _ := certs.ParsePrivateKey(a.key[0].data)
	for i, ca := range a.ca {
		if ca.forcedCA {
			continue
		}
		if candidate < 0 {
			candidate = i
		}
		if key != nil && firstCertificateMatches(ca.data, key) {
			candidate = i
			break
		}
	}
	if candidate >= 0 {
		a.cert = append(a.cert, a.ca[candidate])
		a.roles[a.ca[candidate].file] = roleCertificate
		a.ca = append(a.ca[:candidate], a.ca[candidate+1:]...)
	}
}

func firstCertificateMatches(data []byte, key *certs.PrivateKey) bool {
	bundle, err := certs.ParseCertificates(data)
	return err == nil && bundle != nil && len(bundle.Certificates) > 0 && key.Matches(bundle.Certificates[0].X509)
}

// placeUnknown puts files with no PEM block where a value is missing,
// first the certificate, then the key, so that the rules report what is
// wrong with them (DER, base64 twice) under the right name. A file with
// no place left is an input error that names its problem.
func (a *assembly) placeUnknown() error {
	for _, unknown := range a.unknown {
		switch {
		case len(a.cert) == 0:
			a.cert = append(a.cert, unknown)
			a.roles[unknown.file] = "unrecognised, checked as the certificate"
		case len(a.key) == 0:
			a.key = append(a.key, unknown)
			a.roles[unknown.file] = "unrecognised, checked as the key"
		default:
			_, err := certs.DecodePEM(unknown.data)
			return fmt.Errorf("%s: not a certificate, key or CA file, and the certificate and key are "+
				"already given: %w", unknown.file, err)
		}
	}
	return nil
}

func (a *assembly) target() checkTarget {
	secret := &corev1.Secret{Type: corev1.SecretTypeOpaque, Data: map[string][]byte{}}
	origins := map[string][]segment{}
	for key, parts := range map[string][]part{
		validate.KeyTLSCert: a.cert,
		validate.KeyTLSKey:  a.key,
		validate.KeyTLSCA:   a.ca,
	} {
		if len(parts) == 0 {
			continue
		}
		secret.Data[key], origins[key] = concatenate(parts)
	}
	if len(a.cert) > 0 || len(a.key) > 0 {
		secret.Type = corev1.SecretTypeTLS
	}
	labels := make([]string, 0, len(a.files))
	for _, name := range a.files {
		labels = append(labels, fmt.Sprintf("%s (%s)", name, a.roles[name]))
	}
	return checkTarget{
		label:   "files " + strings.Join(labels, ", "),
		secret:  secret,
		origins: origins,
	}
}

// concatenate joins the parts into one value, ending each with a line
// break so that the next file's BEGIN line starts a line.
func concatenate(parts []part) ([]byte, []segment) {
	var value []byte
	segments := make([]segment, 0, len(parts))
	for _, p := range parts {
		value = append(value, p.data...)
		if len(p.data) > 0 && p.data[len(p.data)-1] != '\n' {
			value = append(value, '\n')
		}
		segments = append(segments, p.segment)
	}
	return value, segments
}

// locateInFiles names the file and block of a finding about an assembled
// Secret, such as "server.pem block 2".
func locateInFiles(origins map[string][]segment, finding validate.Finding) string {
	segments := origins[finding.Key]
	if len(segments) == 0 {
		return missingValueName(finding.Key)
	}
	if finding.Block == certs.NoBlock {
		return joinFiles(segments)
	}
	block := finding.Block
	for _, s := range segments {
		if block < s.count {
			if s.blocks != nil {
				block = s.blocks[block]
			}
			return fmt.Sprintf("%s block %d", s.file, block+1)
		}
		block -= s.count
	}
	return fmt.Sprintf("%s block %d", joinFiles(segments), finding.Block+1)
}

func joinFiles(segments []segment) string {
	names := make([]string, 0, len(segments))
	for _, s := range segments {
		if len(names) == 0 || names[len(names)-1] != s.file {
			names = append(names, s.file)
		}
	}
	return strings.Join(names, " + ")
}

// missingValueName names a value no file provided.
func missingValueName(key string) string {
	switch key {
	case validate.KeyTLSCert:
		return "(no certificate file)"
	case validate.KeyTLSKey:
		return "(no key file)"
	case validate.KeyTLSCA:
		return "(no CA file)"
	default:
		return key
	}
}
