package cli

import (
	"fmt"
	"regexp"
	"strconv"

	"github.com/meshcert/meshcert/internal/validate"
)

var (
	// blockOfKey matches "block 2 of tls.crt" in a finding's message.
	blockOfKey = regexp.MustCompile(`block (\d+) of (tls\.crt|tls\.key|ca\.crt)\b`)
	// dataKey matches a data key of an assembled Secret in a message.
	dataKey = regexp.MustCompile(`\b(tls\.crt|tls\.key|ca\.crt)\b`)
)

// fileMessage rewrites a finding's message about a Secret assembled from
// files so that it names the files instead of the data keys: "block 1 of
// tls.crt" becomes "chain.pem block 1" and "tls.key" becomes "web.key".
func fileMessage(origins map[string][]segment, f validate.Finding) string {
	switch {
	case f.Rule == validate.RuleMissingCertificate && len(origins[validate.KeyTLSCert]) == 0:
		return "name the certificate chain file (leaf first) too; a gateway cannot serve a key alone"
	case f.Rule == validate.RuleMissingKey && len(origins[validate.KeyTLSKey]) == 0:
		return "name the PEM private key file too; a gateway cannot serve a certificate without its key"
	}
	message := blockOfKey.ReplaceAllStringFunc(f.Message, func(match string) string {
		parts := blockOfKey.FindStringSubmatch(match)
		number, err := strconv.Atoi(parts[1])
		if err != nil || len(origins[parts[2]]) == 0 {
			return match
		}
		return locateInFiles(origins, validate.Finding{Key: parts[2], Block: number - 1})
	})
	return dataKey.ReplaceAllStringFunc(message, func(key string) string {
		if len(origins[key]) == 0 {
			return key
		}
		return joinFiles(origins[key])
	})
}

// withoutKeyFile reports whether target is built from files that include
// a certificate but no private key.
func withoutKeyFile(target checkTarget) bool {
	return target.origins != nil && len(target.origins[validate.KeyTLSCert]) > 0 &&
		len(target.origins[validate.KeyTLSKey]) == 0
}

// skipKeyChecks drops the missing-key finding of a certificate checked
// without its key file, and returns the note to print in its place.
func skipKeyChecks(findings validate.Findings) (validate.Findings, string) {
	remaining := findings[:0:0]
	for _, f := range findings {
		if f.Rule != validate.RuleMissingKey {
			remaining = append(remaining, f)
		}
	}
	return remaining, fmt.Sprintf("no key file given; key checks skipped (--require-key denies this as %s)",
		validate.RuleMissingKey)
}
