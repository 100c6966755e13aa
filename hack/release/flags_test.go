package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

func TestCommandErrors(t *testing.T) {
	base := []string{"-dir", ".", "-out", "unused", "-version", "0.1.0", "-commit", "abc", "-source-date-epoch", "0"}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "no command", args: nil, want: "missing command"},
		{name: "unknown command", args: []string{"push"}, want: `unknown command "push"`},
		{name: "missing commit", args: []string{"image", "-dir", ".", "-version", "0.1.0", "-source-date-epoch", "0"}, want: "missing -commit"},
		{name: "missing epoch", args: []string{"image", "-dir", ".", "-version", "0.1.0", "-commit", "abc", "-source-date-epoch", ""}, want: "missing -source-date-epoch"},
		{name: "invalid epoch", args: append([]string{"image"}, append(base, "-source-date-epoch", "yesterday")...), want: "invalid -source-date-epoch"},
		{name: "leading v", args: append([]string{"release"}, append(base, "-version", "v0.1.0")...), want: "invalid version"},
		{name: "invalid repository", args: append([]string{"image"}, append(base, "-repository", "Bad Name")...), want: "invalid image reference"},
		{name: "no arches", args: append([]string{"image"}, append(base, "-arches", ",")...), want: "missing -arches"},
		{name: "invalid platform", args: append([]string{"release"}, append(base, "-platforms", "linux")...), want: "invalid platform"},
		{name: "missing docs", args: append([]string{"release"}, append(base, "-docs", "NOTICE", "-platforms", "linux/amd64")...), want: "read release document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), tt.args, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run(%q) error = %v, want one containing %q", tt.args, err, tt.want)
			}
		})
	}
}
