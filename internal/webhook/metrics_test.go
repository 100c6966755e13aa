package webhook

import (
	"slices"
	"strings"
	"testing"

	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	ctrlwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/meshcert/meshcert/internal/validate"
)

// seriesOf returns the label sets of the metric family name, each as
// "name=value" pairs in the order the registry gives them, joined by
// commas.
func seriesOf(t *testing.T, name string) []string {
	t.Helper()
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatalf("gather metrics: %v", err)
	}
	var series []string
	for _, family := range families {
		if family.GetName() != name {
			continue
		}
		for _, metric := range family.GetMetric() {
			pairs := make([]string, 0, len(metric.GetLabel()))
			for _, label := range metric.GetLabel() {
				pairs = append(pairs, label.GetName()+"="+label.GetValue())
			}
			series = append(series, strings.Join(pairs, ","))
		}
	}
	return series
}

func TestRegisterSecretWebhooksSeries(t *testing.T) {
	requestsTotal.Reset()
	findingsTotal.Reset()
	usersPolicy := validate.Policy{Actions: map[validate.RuleID]validate.Action{validate.RuleDeleteInUse: validate.Deny}}
	RegisterSecretWebhooks(ctrlwebhook.NewServer(ctrlwebhook.Options{}), clientgoscheme.Scheme,
		SecretOptions{Users: &SecretUsers{Policy: usersPolicy}})

	requests := seriesOf(t, "meshcert_webhook_requests_total")
	for _, operation := range []string{"CREATE", "UPDATE", "DELETE"} {
		for _, result := range []string{ResultAllowed, ResultDenied, ResultWarned, ResultError} {
			want := "operation=" + operation + ",result=" + result + ",webhook=" + ValidateSecretName
			if !slices.Contains(requests, want) {
				t.Errorf("requests series lack %s", want)
			}
		}
	}
	if unwanted := "operation=DELETE,result=allowed,webhook=" + MutateSecretName; slices.Contains(requests, unwanted) {
		t.Errorf("requests series include %s, which the mutating webhook never receives", unwanted)
	}

	findings := seriesOf(t, "meshcert_webhook_findings_total")
	for _, want := range []string{
		"action=deny,rule=key-mismatch,webhook=" + ValidateSecretName,
		"action=deny,rule=secret-in-use,webhook=" + ValidateSecretName,
		"action=deny,rule=delete-in-use,webhook=" + ValidateSecretName,
	} {
		if !slices.Contains(findings, want) {
			t.Errorf("findings series lack %s", want)
		}
	}
}

func TestRegisterSecretWebhooksWithoutUsers(t *testing.T) {
	requestsTotal.Reset()
	findingsTotal.Reset()
	RegisterSecretWebhooks(ctrlwebhook.NewServer(ctrlwebhook.Options{}), clientgoscheme.Scheme, SecretOptions{})

	if unwanted := "operation=DELETE,result=allowed,webhook=" + ValidateSecretName; slices.Contains(
		seriesOf(t, "meshcert_webhook_requests_total"), unwanted) {
		t.Errorf("requests series include %s without Gateway checks", unwanted)
	}
	if unwanted := "action=warn,rule=delete-in-use,webhook=" + ValidateSecretName; slices.Contains(
		seriesOf(t, "meshcert_webhook_findings_total"), unwanted) {
		t.Errorf("findings series include %s without Gateway checks", unwanted)
	}
}
