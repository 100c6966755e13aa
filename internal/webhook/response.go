package webhook

import (
	"fmt"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/meshcert/meshcert/internal/validate"
)

const (
	// MaxWarnings bounds the warnings of one response: kubectl and helm
	// print each on its own line, so the rest are summarised in the last.
	MaxWarnings = 4
	// MaxWarningLength is the length in characters a warning is cut to,
	// so that it fits one terminal line.
	MaxWarningLength = validate.MaxWarningLength
)

// ResponseFor turns findings into an admission response: denied with
// every denial in the message when any finding denies, allowed otherwise,
// with the warnings attached either way.
func ResponseFor(findings validate.Findings) admission.Response {
	warnings := FormatWarnings(findings.Warnings())
	denials := findings.Denials()
	if len(denials) == 0 {
		return admission.Allowed("").WithWarnings(warnings...)
	}
	return admission.Denied(DenialMessage(denials)).WithWarnings(warnings...)
}

// DenialMessage lists every denial in one message that names the object
// once, then each data key, PEM block, problem, fix and rule id.
func DenialMessage(denials validate.Findings) string {
	if len(denials) == 1 {
		return denials[0].String()
	}
	var message strings.Builder
	fmt.Fprintf(&message, "%s has %d problems:", denials[0].Object, len(denials))
	for i, denial := range denials {
		fmt.Fprintf(&message, " (%d) %s", i+1, withoutObject(denial))
	}
	return message.String()
}

// withoutObject formats a finding without its object: "key tls.crt block
// 2: MESSAGE [rule]".
func withoutObject(f validate.Finding) string {
	location := strings.TrimSpace(strings.TrimPrefix(f.Location(), f.Object))
	if location == "" {
		return fmt.Sprintf("%s [%s];", f.Message, f.Rule)
	}
	return fmt.Sprintf("%s: %s [%s];", location, f.Message, f.Rule)
}

// FormatWarnings formats warnings as at most MaxWarnings lines of at most
// MaxWarningLength characters. When there are more, the last line names
// the rules of those left out.
func FormatWarnings(warnings validate.Findings) []string {
	lines := make([]string, 0, min(len(warnings), MaxWarnings))
	for i, warning := range warnings {
		if i == MaxWarnings-1 && len(warnings) > MaxWarnings {
			lines = append(lines, summarise(warnings[i:]))
			break
		}
		lines = append(lines, formatWarning(warning))
	}
	return lines
}

// formatWarning returns "KEY: MESSAGE [rule]" with the finding's short
// message, which fits MaxWarningLength, and cuts any longer line.
func formatWarning(f validate.Finding) string {
	prefix := ""
	if f.Key != "" {
		prefix = f.Key + ": "
	}
	suffix := " [" + string(f.Rule) + "]"
	room := MaxWarningLength - len([]rune(prefix)) - len([]rune(suffix))
	return prefix + truncate(f.WarningMessage(), room) + suffix
}

func summarise(rest validate.Findings) string {
	var ids []string
	seen := map[validate.RuleID]bool{}
	for _, f := range rest {
		if !seen[f.Rule] {
			seen[f.Rule] = true
			ids = append(ids, string(f.Rule))
		}
	}
	line := fmt.Sprintf("%d more warnings: %s", len(rest), strings.Join(ids, ", "))
	return truncate(line, MaxWarningLength)
}

// truncate cuts s to at most n runes, marking the cut with "…".
func truncate(s string, n int) string {
	runes := []rune(s)
	if len(runes) <= n {
		return s
	}
	if n < 1 {
		return ""
	}
	return string(runes[:n-1]) + "…"
}
