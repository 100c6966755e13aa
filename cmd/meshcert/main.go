// Command meshcert lists, describes and checks the TLS certificates that
// service-mesh gateways serve. Installed as kubectl-meshcert it is also the
// kubectl plugin 'kubectl meshcert'.
package main

import (
	"fmt"
	"os"

	"github.com/meshcert/meshcert/internal/version"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "version" {
		v, commit := version.Get()
		fmt.Printf("meshcert %s (commit %s)\n", v, commit)
		return
	}
	fmt.Fprintln(os.Stderr, "usage: meshcert version")
	os.Exit(2)
}
