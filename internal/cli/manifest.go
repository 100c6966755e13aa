package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/meshcert/meshcert/internal/validate"
)

// maxDocuments bounds the YAML documents read from one file, so a file of
// millions of "---" lines costs bounded time.
const maxDocuments = 10000

type typeMeta struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Items      []json.RawMessage `json:"items"`
}

// manifestLine matches the top-level apiVersion or kind line of a YAML
// manifest; PEM files and openssl's text output have no such line.
var manifestLine = regexp.MustCompile(`(?m)^(apiVersion|kind)[ \t]*:`)

// looksLikeManifest reports whether data is a Kubernetes manifest rather
// than PEM: JSON, or YAML with a top-level apiVersion or kind line. A
// manifest that then fails to decode is an input error, not PEM.
func looksLikeManifest(data []byte) bool {
	trimmed := bytes.TrimLeft(data, " \t\r\n\ufeff")
	return bytes.HasPrefix(trimmed, []byte("{")) || manifestLine.Match(data)
}

// manifestDecoder collects the Secrets of one manifest file.
type manifestDecoder struct {
	file    string
	targets []checkTarget
	// skipped lists the kinds of the documents that are not Secrets.
	skipped []string
}

// decodeManifest returns a target per Secret of the file, including the
// items of a List. Documents of other kinds are skipped, and the returned
// note names them; a file with no Secret at all is an error.
func decodeManifest(file inputFile) ([]checkTarget, string, error) {
	d := &manifestDecoder{file: file.name}
	if err := d.decodeDocuments(file.data); err != nil {
		return nil, "", err
	}
	kinds := strings.Join(slices.Compact(slices.Sorted(slices.Values(d.skipped))), ", ")
	if len(d.targets) == 0 {
		return nil, "", fmt.Errorf("%s: no Secret found among %d YAML documents (kinds: %s); "+
			"give a Secret manifest or PEM files", file.name, len(d.skipped), kinds)
	}
	note := ""
	if len(d.skipped) > 0 {
		note = fmt.Sprintf("%s: skipped %s (%s)", file.name,
			plural(len(d.skipped), "document that is not a Secret", "documents that are not Secrets"), kinds)
	}
	return d.targets, note, nil
}

func (d *manifestDecoder) decodeDocuments(data []byte) error {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	number := 0
	for {
		document, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			// The reader's error quotes the offending line, which could be
			// certificate or key material.
			return fmt.Errorf("%s: invalid YAML after document %d: a line starts with --- "+
				"but is not a document separator", d.file, number)
		}
		if number == maxDocuments {
			return fmt.Errorf("%s: more than %d YAML documents; split the file", d.file, maxDocuments)
		}
		jsonDocument, err := yaml.YAMLToJSON(document)
		if err != nil {
			return fmt.Errorf("%s: document %d is invalid YAML: %w", d.file, number+1, err)
		}
		if isNullDocument(jsonDocument) {
			continue
		}
		number++
		if err := d.decodeObject(jsonDocument, d.where(number)); err != nil {
			return err
		}
	}
}

func isNullDocument(document []byte) bool {
	trimmed := bytes.TrimSpace(document)
	return len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null"))
}

func (d *manifestDecoder) where(document int) string {
	return fmt.Sprintf("%s, document %d", d.file, document)
}

func (d *manifestDecoder) decodeObject(object []byte, where string) error {
	var meta typeMeta
	if err := json.Unmarshal(object, &meta); err != nil {
		return fmt.Errorf("%s: not a Kubernetes object: %w", where, err)
	}
	switch {
	case meta.Kind == "Secret" && meta.APIVersion == "v1":
		return d.decodeSecret(object, where)
	case strings.HasSuffix(meta.Kind, "List") && meta.Items != nil && !strings.Contains(where, "item"):
		for i, item := range meta.Items {
			if err := d.decodeObject(item, fmt.Sprintf("%s, item %d", where, i+1)); err != nil {
				return err
			}
		}
		return nil
	case meta.Kind == "Secret":
		return fmt.Errorf("%s: a Secret with apiVersion %q; Secrets are apiVersion: v1", where, meta.APIVersion)
	case meta.Kind == "":
		return fmt.Errorf("%s: the document has no kind; a Secret manifest needs apiVersion: v1 and kind: Secret", where)
	default:
		d.skipped = append(d.skipped, kindName(meta))
		return nil
	}
}

func kindName(meta typeMeta) string {
	if meta.APIVersion == "" {
		return meta.Kind
	}
	return meta.Kind + " " + meta.APIVersion
}

// decodeSecret decodes a Secret the way the API server stores it: data
// is base64 and stringData values replace data values of the same key.
func (d *manifestDecoder) decodeSecret(object []byte, where string) error {
	var secret corev1.Secret
	if err := json.Unmarshal(object, &secret); err != nil {
		return fmt.Errorf("%s: invalid Secret (data values must be base64): %w", where, err)
	}
	if len(secret.StringData) > 0 && secret.Data == nil {
		secret.Data = make(map[string][]byte, len(secret.StringData))
	}
	for key, value := range secret.StringData {
		secret.Data[key] = []byte(value)
	}
	secret.StringData = nil

	target := checkTarget{
		label:  fmt.Sprintf("%s (%s)", validate.ObjectName(&secret), where),
		secret: &secret,
	}
	if !validate.IsCertificateSecret(&secret) {
		target.skip = fmt.Sprintf("not a certificate Secret (type %s, no tls.crt, cert, ca.crt or cacert key), "+
			"so the webhook does not check it", secretType(&secret))
	}
	d.targets = append(d.targets, target)
	return nil
}

func secretType(secret *corev1.Secret) corev1.SecretType {
	if secret.Type == "" {
		return corev1.SecretTypeOpaque
	}
	return secret.Type
}

// plural returns "1 thing" or "N things".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
