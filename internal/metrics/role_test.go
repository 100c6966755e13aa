package metrics

import "testing"

func TestRoleOf(t *testing.T) {
	leaf := &certFacts{}
	intermediate := &certFacts{isCA: true}
	root := &certFacts{isCA: true, selfSigned: true}

	tests := []struct {
		name     string
		kind     valueKind
		leafSeen bool
		facts    *certFacts
		want     string
	}{
		{"first non-CA is the leaf", chainValue, false, leaf, roleLeaf},
		{"second non-CA", chainValue, true, leaf, roleIntermediate},
		{"intermediate", chainValue, false, intermediate, roleIntermediate},
		{"root in chain", chainValue, true, root, roleRoot},
		{"CA value", caValue, false, leaf, roleCA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := roleOf(tt.kind, tt.leafSeen, tt.facts); got != tt.want {
				t.Errorf("roleOf = %q, want %q", got, tt.want)
			}
		})
	}
}
