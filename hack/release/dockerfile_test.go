package main

import (
	"bufio"
	"encoding/json"
	"maps"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/meshcert/meshcert/hack/release/internal/gobuild"
	"github.com/meshcert/meshcert/hack/release/internal/ociimage"
)

// instruction is one Dockerfile instruction with continuations joined.
type instruction struct {
	cmd  string
	args string
}

// parseDockerfile returns the instructions of each stage, split at FROM.
func parseDockerfile(t *testing.T, file string) [][]instruction {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatalf("open Dockerfile: %v", err)
	}
	defer f.Close()
	var stages [][]instruction
	var line strings.Builder
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		text := strings.TrimSpace(scanner.Text())
		if strings.HasPrefix(text, "#") || (text == "" && line.Len() == 0) {
			continue
		}
		if cont, ok := strings.CutSuffix(text, "\\"); ok {
			line.WriteString(cont + " ")
			continue
		}
		line.WriteString(text)
		cmd, args, _ := strings.Cut(line.String(), " ")
		line.Reset()
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.Join(strings.Fields(args), " ")}
		if in.cmd == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) > 0 {
			stages[len(stages)-1] = append(stages[len(stages)-1], in)
		}
	}
	if err := scanner.Err(); err != nil {
		t.Fatalf("read Dockerfile: %v", err)
	}
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a build stage and a final one", len(stages))
	}
	return stages
}

func TestDockerfileLayout(t *testing.T) {
	stages := parseDockerfile(t, "../../Dockerfile")
	final := stages[len(stages)-1]
	if final[0].args != "scratch" {
		t.Errorf("final stage is FROM %s, want FROM scratch", final[0].args)
	}
	copied := map[string]int64{}
	for _, in := range final[1:] {
		switch in.cmd {
		case "COPY":
			dest, mode := parseCopy(t, in.args)
			copied[dest] = mode
		case "USER":
			if in.args != ociimage.User {
				t.Errorf("USER %s, want %s", in.args, ociimage.User)
			}
		case "ENTRYPOINT":
			var entrypoint []string
			if err := json.Unmarshal([]byte(in.args), &entrypoint); err != nil {
				t.Errorf("ENTRYPOINT %s is not the JSON form: %v", in.args, err)
			}
			if !slices.Equal(entrypoint, ociimage.Entrypoint) {
				t.Errorf("ENTRYPOINT %q, want %q", entrypoint, ociimage.Entrypoint)
			}
		default:
			t.Errorf("final stage has %s %s, want only COPY, USER and ENTRYPOINT", in.cmd, in.args)
		}
	}
	want := ociimage.Layout()
	if !maps.Equal(copied, want) {
		t.Errorf("final stage copies %v, want %v", copied, want)
	}
}

// parseCopy returns the destination and the --chmod mode of
// COPY --from=build --chmod=MODE SRC DEST, and checks that SRC and DEST
// have the same base name.
func parseCopy(t *testing.T, args string) (string, int64) {
	t.Helper()
	fields := strings.Fields(args)
	var from, chmod string
	var paths []string
	for _, field := range fields {
		switch {
		case strings.HasPrefix(field, "--from="):
			from = strings.TrimPrefix(field, "--from=")
		case strings.HasPrefix(field, "--chmod="):
			chmod = strings.TrimPrefix(field, "--chmod=")
		default:
			paths = append(paths, field)
		}
	}
	if from != "build" || len(paths) != 2 {
		t.Errorf("COPY %s: want COPY --from=build --chmod=MODE SRC DEST", args)
		return args, 0
	}
	if path.Base(paths[0]) != path.Base(paths[1]) {
		t.Errorf("COPY %s: source and destination names differ", args)
	}
	mode, err := strconv.ParseInt(chmod, 8, 64)
	if err != nil {
		t.Errorf("COPY %s: invalid --chmod: %v", args, err)
	}
	return paths[1], mode
}

func TestDockerfileBuildFlags(t *testing.T) {
	stages := parseDockerfile(t, "../../Dockerfile")
	var build string
	for _, in := range stages[0] {
		if in.cmd == "RUN" && strings.Contains(in.args, "go build") {
			build = in.args
		}
	}
	if build == "" {
		t.Fatal("build stage has no RUN go build")
	}
	ldflags := gobuild.LDFlags(gobuild.Options{
		VersionPackage: "github.com/meshcert/meshcert/internal/version",
		Version:        "$(cat VERSION)",
		Commit:         "${COMMIT}",
	})
	want := []string{"-trimpath", "-buildvcs=false", `-ldflags "` + ldflags + `"`}
	for _, kv := range gobuild.Env(nil, gobuild.Platform{OS: "$TARGETOS", Arch: "$TARGETARCH"}) {
		if !strings.HasPrefix(kv, "GOFLAGS=") {
			want = append(want, kv)
		}
	}
	for _, name := range ociimage.Binaries {
		want = append(want, "./cmd/"+name)
	}
	for _, w := range want {
		if !strings.Contains(build, w) {
			t.Errorf("go build line lacks %s:\n%s", w, build)
		}
	}
}
