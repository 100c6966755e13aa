package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"

	corev1 "k8s.io/api/core/v1"
)

// maxInputBytes bounds one input file. Certificate files and Secret
// manifests are kilobytes; a larger file is almost surely the wrong one.
const maxInputBytes = 16 << 20

// inputFile is one file named on the command line, read whole.
type inputFile struct {
	name string
	data []byte
	// ca is set for files given with --ca.
	ca bool
}

// checkTarget is one Secret to check: decoded from a manifest, or built
// from certificate, key and CA files.
type checkTarget struct {
	// label names the input, such as "Secret default/web (web.yaml, document 1)".
	label  string
	secret *corev1.Secret
	// skip, when set, is the reason the target is not checked.
	skip string
	// origins maps the data keys built from files back to those files;
	// nil for manifests.
	origins map[string][]segment
}

// readInputs reads the files of paths, "-" being standard input, and the
// CA files of caPaths.
func readInputs(paths, caPaths []string, stdin io.Reader) ([]inputFile, error) {
	var files []inputFile
	stdinRead := false
	for i, path := range append(append([]string{}, paths...), caPaths...) {
		if path == "-" {
			if stdinRead {
				return nil, fmt.Errorf("standard input (-) is named twice; name it once")
			}
			stdinRead = true
		}
		data, err := readInput(path, stdin)
		if err != nil {
			return nil, err
		}
		files = append(files, inputFile{name: displayName(path), data: data, ca: i >= len(paths)})
	}
	return files, nil
}

func displayName(path string) string {
	if path == "-" {
		return "stdin"
	}
	return path
}

func readInput(path string, stdin io.Reader) ([]byte, error) {
	reader := stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		defer f.Close()
		reader = f
	}
	data, err := io.ReadAll(io.LimitReader(reader, maxInputBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", displayName(path), err)
	}
	if len(data) > maxInputBytes {
		return nil, fmt.Errorf("read %s: the file is larger than %d MiB, "+
			"too large for a certificate, key or Secret manifest", displayName(path), maxInputBytes>>20)
	}
	return data, nil
}

// decodeInputs turns the files into targets: every Secret of the
// manifests, and one Secret built from all the PEM files together. The
// notes name the manifest documents that were skipped.
func decodeInputs(files []inputFile) (targets []checkTarget, notes []string, err error) {
	var pemFiles []inputFile
	for _, file := range files {
		if len(bytes.TrimSpace(file.data)) == 0 {
			return nil, nil, fmt.Errorf("%s: the file is empty", file.name)
		}
		if file.ca || !looksLikeManifest(file.data) {
			pemFiles = append(pemFiles, file)
			continue
		}
		decoded, note, err := decodeManifest(file)
		if err != nil {
			return nil, nil, err
		}
		targets = append(targets, decoded...)
		if note != "" {
			notes = append(notes, note)
		}
	}
	if len(pemFiles) > 0 {
		target, err := assembleFiles(pemFiles)
		if err != nil {
			return nil, nil, err
		}
		targets = append(targets, target)
	}
	return targets, notes, nil
}
