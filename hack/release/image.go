package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/meshcert/meshcert/hack/release/internal/cabundle"
	"github.com/meshcert/meshcert/hack/release/internal/ociimage"
)

func runImage(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	var c common
	c.register(fs, "dist/image")
	repository := fs.String("repository", "ghcr.io/meshcert/meshcert", "image repository, without a tag")
	source := fs.String("source", "https://github.com/meshcert/meshcert", "source repository URL recorded in the labels")
	arches := fs.String("arches", "amd64,arm64", "comma-separated GOARCH values of the linux images")
	packages := map[string]*string{}
	for _, name := range ociimage.Binaries {
		packages[name] = fs.String(name, "./cmd/"+name, "main package of /"+name)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := imageConfig(&c, *repository, *source, splitList(*arches), packages)
	if err != nil {
		return err
	}
	res, err := ociimage.Build(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s:%s@%s\n", cfg.Meta.Repository, cfg.Meta.Version, res.Digest)
	fmt.Fprintf(stdout, "OCI layout: %s\n", res.Layout)
	for _, arch := range cfg.Arches {
		fmt.Fprintf(stdout, "docker archive linux/%s: %s\n", arch, res.Archives[arch])
	}
	return nil
}

func imageConfig(c *common, repository, source string, arches []string, packages map[string]*string) (ociimage.Config, error) {
	if err := c.resolve(); err != nil {
		return ociimage.Config{}, err
	}
	created, err := c.created()
	if err != nil {
		return ociimage.Config{}, err
	}
	if len(arches) == 0 {
		return ociimage.Config{}, fmt.Errorf("missing -arches: give at least one GOARCH")
	}
	bundle, err := cabundle.PEM()
	if err != nil {
		return ociimage.Config{}, err
	}
	pkgs := make(map[string]string, len(packages))
	for name, pkg := range packages {
		pkgs[name] = *pkg
	}
	meta := ociimage.Metadata{Repository: repository, Version: c.version, Commit: c.commit, Created: created, Source: source}
	if _, err := meta.Tag(); err != nil {
		return ociimage.Config{}, err
	}
	return ociimage.Config{
		Go: c.goOptions(), Packages: pkgs, Arches: arches, CABundle: bundle, Meta: meta, OutDir: c.out,
	}, nil
}

func runCABundle(args []string) error {
	fs := flag.NewFlagSet("ca-bundle", flag.ContinueOnError)
	out := fs.String("o", "ca-certificates.crt", "output file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	data, err := cabundle.PEM()
	if err != nil {
		return err
	}
	if err := writeFile(*out, data, 0o644); err != nil {
		return fmt.Errorf("write CA bundle: %w", err)
	}
	return nil
}
