package logging

import "testing"

func TestNewRejectsInvalidOptions(t *testing.T) {
	tests := []Options{
		{Level: "loud", Format: "json"},
		{Level: "info", Format: "xml"},
	}
	for _, opts := range tests {
		if _, err := New(opts); err == nil {
			t.Errorf("New(%+v) succeeded, want an error", opts)
		}
	}
}

func TestNewEnablesVerbosity(t *testing.T) {
	tests := []struct {
		level string
		v     int
		want  bool
	}{
		{"info", Debug, false},
		{"debug", Debug, true},
		{"debug", Trace, false},
		{"trace", Trace, true},
	}
	for _, tt := range tests {
		logger, err := New(Options{Level: tt.level, Format: "json"})
		if err != nil {
			t.Fatalf("New(%s): %v", tt.level, err)
		}
		if got := logger.V(tt.v).Enabled(); got != tt.want {
			t.Errorf("level %s: V(%d).Enabled() = %v, want %v", tt.level, tt.v, got, tt.want)
		}
	}
}
