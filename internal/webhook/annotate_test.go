package webhook

import (
	"testing"

	"gomodules.xyz/jsonpatch/v2"

	"github.com/meshcert/meshcert/internal/wellknown"
)

func TestAnnotationPatch(t *testing.T) {
	desired := map[string]string{
		wellknown.NotAfterAnnotation: "2027-01-01T00:00:00Z",
		wellknown.SerialAnnotation:   "1f",
	}
	escapedNotAfter := "/metadata/annotations/meshcert.io~1not-after"
	tests := []struct {
		name    string
		current map[string]string
		want    []jsonpatch.JsonPatchOperation
	}{
		{"no annotations", nil, []jsonpatch.JsonPatchOperation{
			jsonpatch.NewOperation("add", "/metadata/annotations", map[string]any{
				wellknown.NotAfterAnnotation: "2027-01-01T00:00:00Z", wellknown.SerialAnnotation: "1f"}),
		}},
		{"up to date", map[string]string{wellknown.NotAfterAnnotation: "2027-01-01T00:00:00Z",
			wellknown.SerialAnnotation: "1f", "owner": "edge"}, nil},
		{"stale and extra", map[string]string{wellknown.NotAfterAnnotation: "2026-01-01T00:00:00Z",
			wellknown.SerialAnnotation: "1f", wellknown.DNSNamesAnnotation: "old.example"}, []jsonpatch.JsonPatchOperation{
			jsonpatch.NewOperation("replace", escapedNotAfter, "2027-01-01T00:00:00Z"),
			jsonpatch.NewOperation("remove", "/metadata/annotations/meshcert.io~1dns-names", nil),
		}},
		{"others only", map[string]string{"owner": "edge"}, []jsonpatch.JsonPatchOperation{
			jsonpatch.NewOperation("add", escapedNotAfter, "2027-01-01T00:00:00Z"),
			jsonpatch.NewOperation("add", "/metadata/annotations/meshcert.io~1serial", "1f"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AnnotationPatch(tt.current, desired)
			if len(got) != len(tt.want) {
				t.Fatalf("patch = %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i].Json() != tt.want[i].Json() {
					t.Errorf("operation %d = %s, want %s", i, got[i].Json(), tt.want[i].Json())
				}
			}
		})
	}
}

func TestDNSNamesTruncated(t *testing.T) {
	names := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"}
	if got, want := dnsNames(names), "a,b,c,d,e,f,g,h,i,j (+2 more)"; got != want {
		t.Errorf("dnsNames = %q, want %q", got, want)
	}
}
