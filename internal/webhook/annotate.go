package webhook

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"gomodules.xyz/jsonpatch/v2"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/meshcert/meshcert/internal/certs"
	"github.com/meshcert/meshcert/internal/logging"
	"github.com/meshcert/meshcert/internal/validate"
	"github.com/meshcert/meshcert/internal/wellknown"
)

const (
	// maxDNSNames is how many DNS names the dns-names annotation lists
	// before it gives the count of the rest.
	maxDNSNames = 10
	// maxAnnotationLength bounds a subject, issuer or name list.
	maxAnnotationLength = 1024
)

// FactAnnotations are the annotations SecretAnnotator owns: it adds,
// updates and removes only these.
var FactAnnotations = []string{
	wellknown.NotBeforeAnnotation,
	wellknown.NotAfterAnnotation,
	wellknown.SubjectAnnotation,
	wellknown.IssuerAnnotation,
	wellknown.DNSNamesAnnotation,
	wellknown.SerialAnnotation,
	wellknown.FingerprintAnnotation,
	wellknown.KeyAlgorithmAnnotation,
	wellknown.ChainLengthAnnotation,
}

// SecretAnnotator is the mutating webhook of certificate Secrets: it
// annotates them with facts about the leaf certificate. It never changes
// data, and returns no patch when the annotations are already right.
type SecretAnnotator struct {
	Policy  validate.Policy
	Decoder admission.Decoder
	// AnnotateCertManager also annotates Secrets that cert-manager
	// manages; by default they are skipped, because cert-manager's
	// field-ownership checks may fight an outside writer.
	AnnotateCertManager bool
	// Now returns the time certificates are judged at; nil means time.Now.
	Now func() time.Time
}

// Handle implements admission.Handler.
func (a *SecretAnnotator) Handle(ctx context.Context, req admission.Request) admission.Response {
	start := time.Now()
	response := a.review(ctx, req)
	RecordRequest(MutateSecretName, req.Operation, responseResult(response), time.Since(start))
	return response
}

func (a *SecretAnnotator) review(ctx context.Context, req admission.Request) admission.Response {
	log := logr.FromContextOrDiscard(ctx)
	secret, _, err := decodeSecrets(a.Decoder, req)
	if err != nil {
		log.Error(err, "Failed to decode admission request", "uid", req.UID, "namespace", req.Namespace, "name", req.Name)
		return admission.Errored(http.StatusBadRequest, err)
	}
	if secret == nil || !validate.IsCertificateSecret(secret) {
		return admission.Allowed("not a certificate Secret")
	}
	if _, managed := secret.Annotations[wellknown.CertManagerCertificateAnnotation]; managed && !a.AnnotateCertManager {
		return admission.Allowed("managed by cert-manager")
	}

	facts, findings := validate.CheckSecret(secret, a.Policy, now(a.Now))
	if facts == nil || facts.Leaf == nil || brokenMaterial(findings) {
		return admission.Allowed("no usable leaf certificate")
	}
	patch := AnnotationPatch(secret.Annotations, LeafAnnotations(facts))
	log.V(logging.Trace).Info("Annotated Secret", "namespace", secret.Namespace, "name", secret.Name,
		"operations", len(patch))
	if len(patch) == 0 {
		return admission.Allowed("annotations up to date")
	}
	return admission.Patched("", patch...)
}

// brokenMaterial reports a denial other than the leaf's validity period:
// an expired certificate is still described, broken material is not.
func brokenMaterial(findings validate.Findings) bool {
	for _, f := range findings.Denials() {
		if f.Rule != validate.RuleExpired && f.Rule != validate.RuleNotYetValid {
			return true
		}
	}
	return false
}

// LeafAnnotations returns the fact annotations of a Secret's leaf.
func LeafAnnotations(facts *validate.SecretFacts) map[string]string {
	leaf := facts.Leaf.X509
	annotations := map[string]string{
		wellknown.NotBeforeAnnotation:    leaf.NotBefore.UTC().Format(time.RFC3339),
		wellknown.NotAfterAnnotation:     leaf.NotAfter.UTC().Format(time.RFC3339),
		wellknown.SubjectAnnotation:      truncate(leaf.Subject.String(), maxAnnotationLength),
		wellknown.IssuerAnnotation:       truncate(leaf.Issuer.String(), maxAnnotationLength),
		wellknown.SerialAnnotation:       leaf.SerialNumber.Text(16),
		wellknown.FingerprintAnnotation:  facts.Leaf.Fingerprint(),
		wellknown.KeyAlgorithmAnnotation: keyAlgorithm(certs.DescribePublicKey(leaf.PublicKey)),
		wellknown.ChainLengthAnnotation:  strconv.Itoa(len(facts.Chain)),
	}
	if len(leaf.DNSNames) > 0 {
		annotations[wellknown.DNSNamesAnnotation] = dnsNames(leaf.DNSNames)
	}
	return annotations
}

// keyAlgorithm names a key as "RSA-2048", "ECDSA-P-256" or "Ed25519".
func keyAlgorithm(info certs.PublicKeyInfo) string {
	switch info.Algorithm {
	case certs.AlgorithmRSA:
		return "RSA-" + strconv.Itoa(info.Bits)
	case certs.AlgorithmECDSA:
		return "ECDSA-" + info.Curve
	default:
		return string(info.Algorithm)
	}
}

// dnsNames lists the first maxDNSNames names and the count of the rest:
// "a.example,b.example (+12 more)".
func dnsNames(names []string) string {
	shown := names[:min(len(names), maxDNSNames)]
	list := strings.Join(shown, ",")
	if rest := len(names) - len(shown); rest > 0 {
		list += " (+" + strconv.Itoa(rest) + " more)"
	}
	return truncate(list, maxAnnotationLength)
}

// AnnotationPatch returns the JSON patch that makes the fact annotations
// of current equal to desired: adding, replacing or removing only keys of
// FactAnnotations. It is empty when they are already equal.
func AnnotationPatch(current, desired map[string]string) []jsonpatch.JsonPatchOperation {
	if current == nil {
		if len(desired) == 0 {
			return nil
		}
		value := make(map[string]any, len(desired))
		for key, v := range desired {
			value[key] = v
		}
		return []jsonpatch.JsonPatchOperation{jsonpatch.NewOperation("add", "/metadata/annotations", value)}
	}
	var patch []jsonpatch.JsonPatchOperation
	for _, key := range FactAnnotations {
		want, wanted := desired[key]
		have, present := current[key]
		path := "/metadata/annotations/" + escapePointer(key)
		switch {
		case wanted && !present:
			patch = append(patch, jsonpatch.NewOperation("add", path, want))
		case wanted && have != want:
			patch = append(patch, jsonpatch.NewOperation("replace", path, want))
		case !wanted && present:
			patch = append(patch, jsonpatch.NewOperation("remove", path, nil))
		}
	}
	return patch
}

// escapePointer escapes a map key for a JSON pointer (RFC 6901).
func escapePointer(key string) string {
	return strings.ReplaceAll(strings.ReplaceAll(key, "~", "~0"), "/", "~1")
}
