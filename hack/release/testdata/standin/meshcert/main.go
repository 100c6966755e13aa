// Command meshcert stands in for meshcert's meshcert in the builder's tests: it is
// fast to cross-compile and prints the version the linker set.
package main

import "fmt"

// Version and Commit are set with -X main.Version=... -X main.Commit=...
var (
	Version = "dev"
	Commit  = ""
)

func main() {
	fmt.Println("meshcert", Version, Commit)
}
