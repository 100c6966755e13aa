package cli

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// result is what one run of the command line produced.
type result struct {
	stdout, stderr string
	code           int
}

// runCLI runs meshcert with args, stdin and a terminal or not as stdout.
func runCLI(t *testing.T, stdin string, terminal bool, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(stdin), Out: &stdout, ErrOut: &stderr}
	code := run(context.Background(), "meshcert", args, streams, process{isTerminal: func(io.Writer) bool { return terminal }})
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

func TestVersion(t *testing.T) {
	want := runCLI(t, "", false, "version")
	if want.code != ExitOK {
		t.Fatalf("exit status %d, stderr %q", want.code, want.stderr)
	}
	if !strings.HasPrefix(want.stdout, "meshcert ") {
		t.Errorf("stdout %q does not start with 'meshcert '", want.stdout)
	}
	flag := runCLI(t, "", false, "--version")
	if flag.code != ExitOK {
		t.Fatalf("--version exit status %d, stderr %q", flag.code, flag.stderr)
	}
	if flag.stdout != want.stdout {
		t.Errorf("--version printed %q, want %q as the version command prints", flag.stdout, want.stdout)
	}
}

func TestProgramName(t *testing.T) {
	for arg0, want := range map[string]string{
		"/usr/local/bin/kubectl-meshcert": "kubectl meshcert",
		"./bin/meshcert":                  "meshcert",
		"meshcert":                        "meshcert",
	} {
		if got := programName(arg0); got != want {
			t.Errorf("programName(%q) = %q, want %q", arg0, got, want)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown command", []string{"frobnicate"}, "unknown command"},
		{"unknown flag", []string{"audit", "--frobnicate"}, "unknown flag"},
		{"check without files", []string{"check"}, "no file to check"},
		{"bad now", []string{"check", "--now=tomorrow", fixturePath("web.crt")}, "invalid --now"},
		{"bad rule action", []string{"check", "--rule-action=nope=deny", fixturePath("web.crt")}, "unknown rule"},
		{"bad curve", []string{"check", "--allowed-curves=p256", fixturePath("web.crt")}, `invalid allowed curve "p256"`},
		{"bad output", []string{"list", "-o", "xml"}, "invalid --output"},
		{"bad sort", []string{"list", "--sort-by=size"}, "invalid --sort-by"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runCLI(t, "", false, tt.args...)
			if got.code != ExitError {
				t.Errorf("exit status %d, want %d", got.code, ExitError)
			}
			if !strings.Contains(got.stderr, tt.want) {
				t.Errorf("stderr %q does not contain %q", got.stderr, tt.want)
			}
		})
	}
}

func notTerminal(io.Writer) bool { return false }

// runCLIWith runs meshcert with a process of the test's making and no
// standard input.
func runCLIWith(t *testing.T, rt process, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &stdout, ErrOut: &stderr}
	code := run(context.Background(), "meshcert", args, streams, rt)
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

func TestPluginHelp(t *testing.T) {
	var stdout bytes.Buffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &stdout, ErrOut: &stdout}
	code := run(context.Background(), "kubectl meshcert", []string{"list", "--help"}, streams, process{isTerminal: notTerminal})
	if code != ExitOK {
		t.Fatalf("exit status %d", code)
	}
	for _, want := range []string{"kubectl meshcert list [flags]", "  kubectl meshcert list -A --sort-by=expiry"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, stdout.String())
		}
	}
}
