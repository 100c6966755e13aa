package webhook

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	admissionv1 "k8s.io/api/admission/v1"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/meshcert/meshcert/internal/validate"
)

// Webhook names, the values of the webhook label.
const (
	ValidateSecretName = "validate-secret"
	MutateSecretName   = "mutate-secret"
)

// Results, the values of the result label of requests.
const (
	ResultAllowed = "allowed"
	ResultDenied  = "denied"
	ResultWarned  = "warned"
	ResultError   = "error"
)

var (
	requestsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "meshcert_webhook_requests_total",
		Help: "Admission requests handled, by webhook, operation and result (allowed, denied, warned, error).",
	}, []string{"webhook", "operation", "result"})

	requestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "meshcert_webhook_request_duration_seconds",
		Help: "Time to handle an admission request, from decoding to response, by webhook.",
		// Checks take microseconds when cached and about a millisecond
		// for new RSA material; the API server's timeout is seconds.
		Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1},
	}, []string{"webhook"})

	findingsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "meshcert_webhook_findings_total",
		Help: "Findings reported by admission checks, by webhook, rule and action.",
	}, []string{"webhook", "rule", "action"})
)

func init() {
	ctrlmetrics.Registry.MustRegister(requestsTotal, requestDuration, findingsTotal)
}

// InitMetrics creates the series of a webhook whose label values are
// known, so that dashboards and rate() see zeros before the first
// request. rules are the rules the webhook can report, with the action
// the policy gives them.
func InitMetrics(webhook string, policy validate.Policy, rules []validate.Rule) {
	requestDuration.WithLabelValues(webhook)
	initRequests(webhook, admissionv1.Create, admissionv1.Update)
	for _, rule := range rules {
		initFindings(webhook, policy, rule.ID)
	}
}

// initSecretUseMetrics creates the series validate-secret adds when it
// also checks Secret writes against the Gateways that use them: DELETE
// requests, and the in-use findings with the actions policy gives them.
func initSecretUseMetrics(policy validate.Policy) {
	initRequests(ValidateSecretName, admissionv1.Delete)
	initFindings(ValidateSecretName, policy, validate.RuleSecretInUse)
	initFindings(ValidateSecretName, policy, validate.RuleDeleteInUse)
}

func initRequests(webhook string, operations ...admissionv1.Operation) {
	for _, operation := range operations {
		for _, result := range []string{ResultAllowed, ResultDenied, ResultWarned, ResultError} {
			requestsTotal.WithLabelValues(webhook, string(operation), result)
		}
	}
}

// initFindings creates the finding series of rule unless policy ignores it.
func initFindings(webhook string, policy validate.Policy, rule validate.RuleID) {
	if action := policy.ActionFor(rule); action != validate.Ignore {
		findingsTotal.WithLabelValues(webhook, string(rule), string(action))
	}
}

// RecordRequest counts one handled request and observes its duration.
func RecordRequest(webhook string, operation admissionv1.Operation, result string, duration time.Duration) {
	requestsTotal.WithLabelValues(webhook, string(operation), result).Inc()
	requestDuration.WithLabelValues(webhook).Observe(duration.Seconds())
}

// RecordFindings counts findings by rule and action.
func RecordFindings(webhook string, findings validate.Findings) {
	for _, finding := range findings {
		findingsTotal.WithLabelValues(webhook, string(finding.Rule), string(finding.Action)).Inc()
	}
}

// resultOf classifies a response for the result label.
func resultOf(allowed bool, warnings []string, code int32) string {
	switch {
	case allowed && len(warnings) > 0:
		return ResultWarned
	case allowed:
		return ResultAllowed
	case code == 0 || code == 403:
		return ResultDenied
	default:
		return ResultError
	}
}
