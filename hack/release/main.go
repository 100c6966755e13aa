// Command release builds meshcert's container image and CLI release
// archives offline and reproducibly: the same commit, Go toolchain and
// go.sum give byte-identical output.
//
//	release image   -dir ../.. -out ../../dist/image
//	release release -dir ../.. -out ../../dist/release
//	release ca-bundle -o ca-certificates.crt
//
// Every timestamp is SOURCE_DATE_EPOCH (-source-date-epoch), usually the
// commit time.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

const usage = `usage: release COMMAND [flags]

Commands:
  image       build the multi-architecture container image
  release     build the CLI archives, checksums.txt and the krew manifest
  ca-bundle   write the CA certificate bundle the image contains

Run release COMMAND -h for the flags of a command.`

func run(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("missing command\n%s", usage)
	}
	switch args[0] {
	case "image":
		return runImage(ctx, args[1:], stdout)
	case "release":
		return runRelease(ctx, args[1:], stdout)
	case "ca-bundle":
		return runCABundle(args[1:])
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	default:
		return fmt.Errorf("unknown command %q\n%s", args[0], usage)
	}
}
