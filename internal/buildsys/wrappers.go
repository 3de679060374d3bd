package buildsys

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/portabin/portabin/internal/ccwrap"
)

// WriteWrappers writes cfg into state/wrap.json and, into state/bin, the scripts that a build
// system runs as its compilers: each runs `self cc` (or c++, ar, ranlib) with that
// configuration. The project's build and every dependency build use it, so both compile alike.
func WriteWrappers(state, self string, cfg ccwrap.Config) (Tools, error) {
	if err := os.MkdirAll(filepath.Join(state, "bin"), 0o755); err != nil {
		return Tools{}, err
	}
	conf := filepath.Join(state, "wrap.json")
	if err := cfg.Save(conf); err != nil {
		return Tools{}, err
	}
	path := func(tool ccwrap.Tool) string { return filepath.Join(state, "bin", string(tool)) }
	for _, tool := range []ccwrap.Tool{ccwrap.CC, ccwrap.CXX, ccwrap.AR, ccwrap.RANLIB} {
		script := fmt.Sprintf("#!/bin/sh\nPORTABIN_WRAP=%s exec %s %s \"$@\"\n", shQuote(conf), shQuote(self), tool)
		if err := WriteIfChanged(path(tool), script, 0o755); err != nil {
			return Tools{}, fmt.Errorf("writing the %s wrapper: %w", tool, err)
		}
	}
	return Tools{CC: path(ccwrap.CC), CXX: path(ccwrap.CXX), AR: path(ccwrap.AR), RANLIB: path(ccwrap.RANLIB)}, nil
}

func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
