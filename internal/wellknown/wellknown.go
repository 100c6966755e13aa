// Package wellknown defines the label, annotation and finalizer keys that
// meshcert reads and writes on cluster objects. docs/labels.md lists them
// for operators; the two must stay in step.
package wellknown

// Prefix is the domain of every meshcert key.
const Prefix = "meshcert.io/"

// Labels set by operators.
const (
	// MirrorLabel set to "true" on a Secret requests that the mirror
	// controller copy it to every peer cluster.
	MirrorLabel = Prefix + "mirror"
	// ValidationLabel set to "disabled" on a namespace keeps the webhooks
	// away from it; set to "enabled" on a Secret of a type the webhook
	// would otherwise skip, it requests validation.
	ValidationLabel = Prefix + "validation"
	// PeerClusterLabel set to "true" marks a Secret in meshcert's namespace
	// that holds kubeconfigs of peer clusters, one data key per cluster.
	PeerClusterLabel = Prefix + "peer-cluster"
)

// Label values.
const (
	True     = "true"
	Enabled  = "enabled"
	Disabled = "disabled"
)

// Markers on the copies the mirror controller writes. A Secret without
// ManagedByLabel set to ManagedByMirror is never overwritten or deleted.
const (
	ManagedByLabel                   = Prefix + "managed-by"
	ManagedByMirror                  = "mirror"
	SourceClusterLabel               = Prefix + "source-cluster"
	SourceNamespaceAnnotation        = Prefix + "source-namespace"
	SourceNameAnnotation             = Prefix + "source-name"
	SourceUIDAnnotation              = Prefix + "source-uid"
	ContentHashAnnotation            = Prefix + "content-hash"
	DeletionPolicyAnnotation         = Prefix + "mirror-deletion-policy"
	DeletionPolicyOrphan             = "orphan"
	DeletionPolicyDelete             = "delete"
	MirrorFinalizer                  = Prefix + "mirror"
	MirrorFieldManager               = "meshcert-mirror"
	AnnotationFieldManager           = "meshcert-webhook"
	IstioRemoteSecretLabel           = "istio/multiCluster"
	IstioRemoteSecretValue           = "true"
	CertManagerCertificateAnnotation = "cert-manager.io/certificate-name"
	CertManagerIssuerAnnotation      = "cert-manager.io/issuer-name"
	LastAppliedAnnotation            = "kubectl.kubernetes.io/last-applied-configuration"
)

// Annotations the mutating webhook writes on certificate Secrets, with
// facts about the leaf certificate.
const (
	NotBeforeAnnotation    = Prefix + "not-before"
	NotAfterAnnotation     = Prefix + "not-after"
	SubjectAnnotation      = Prefix + "subject"
	IssuerAnnotation       = Prefix + "issuer"
	DNSNamesAnnotation     = Prefix + "dns-names"
	SerialAnnotation       = Prefix + "serial"
	FingerprintAnnotation  = Prefix + "fingerprint-sha256"
	KeyAlgorithmAnnotation = Prefix + "key-algorithm"
	ChainLengthAnnotation  = Prefix + "chain-length"
)
