package app

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshcert/meshcert/internal/wellknown"
)

func TestStripUnusedSecretData(t *testing.T) {
	tests := []struct {
		name      string
		namespace string
		labels    map[string]string
		keepData  bool
	}{
		{"mirror source", "istio-system", map[string]string{wellknown.MirrorLabel: wellknown.True}, true},
		{"own namespace", "meshcert-system", nil, true},
		{"other Secret", "istio-system", nil, false},
		{"mirror label off", "istio-system", map[string]string{wellknown.MirrorLabel: "false"}, false},
	}
	strip := stripUnusedSecretData("meshcert-system")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			secret := &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{
					Namespace:   tt.namespace,
					Labels:      tt.labels,
					Annotations: map[string]string{wellknown.LastAppliedAnnotation: "{}"},
				},
				Data: map[string][]byte{"tls.key": []byte("key")},
			}
			out, err := strip(secret)
			if err != nil {
				t.Fatal(err)
			}
			got := out.(*corev1.Secret)
			if kept := got.Data != nil; kept != tt.keepData {
				t.Errorf("data kept = %v, want %v", kept, tt.keepData)
			}
			if _, kept := got.Annotations[wellknown.LastAppliedAnnotation]; kept != tt.keepData {
				t.Errorf("last-applied annotation kept = %v, want %v", kept, tt.keepData)
			}
		})
	}
}
