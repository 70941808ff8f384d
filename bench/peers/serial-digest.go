// Resolves image references to digests the way k8s-digester's KRM function does: one
// go-containerregistry crane.Digest call per reference, one after another, nothing cached.
// References come one per line on stdin; each answer is printed as "REF DIGEST".
// bench/peers.ts builds this in .cache/peers/ against go-containerregistry from the Go module proxy.
package main

import (
	"bufio"
	"fmt"
	"os"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/crane"
)

func main() {
	in := bufio.NewScanner(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		ref := in.Text()
		if ref == "" {
			continue
		}
		digest, err := crane.Digest(ref, crane.WithAuthFromKeychain(authn.DefaultKeychain), crane.WithUserAgent("serial-digest"))
		if err != nil {
			out.Flush()
			fmt.Fprintf(os.Stderr, "serial-digest: %s: %v\n", ref, err)
			os.Exit(1)
		}
		fmt.Fprintf(out, "%s %s\n", ref, digest)
	}
	if err := in.Err(); err != nil {
		out.Flush()
		fmt.Fprintf(os.Stderr, "serial-digest: reading stdin: %v\n", err)
		os.Exit(1)
	}
}
