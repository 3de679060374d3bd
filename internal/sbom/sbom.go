// Package sbom records what went into an executable — the C library, the C++ runtime, the
// dependencies — as an ELF package note inside it and as a CycloneDX file beside it.
package sbom

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Component is one piece of third-party code linked into an executable. Dependency recipes,
// the allocator and the toolchain's runtimes all describe themselves so.
type Component struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	// License is an SPDX licence expression, e.g. "MIT" or "Apache-2.0 WITH LLVM-exception".
	License string `json:"license,omitempty"`
	// URL is where the source came from; SHA256 is that file's hash, when known.
	URL    string `json:"url,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	// PURL is the package URL; empty means a generic one made from the fields above.
	PURL string `json:"purl,omitempty"`
}

// PackageURL returns c's package URL (github.com/package-url/purl-spec): its own, else a
// pkg:generic one that carries the download URL and checksum.
func (c Component) PackageURL() string {
	if c.PURL != "" {
		return c.PURL
	}
	p := "pkg:generic/" + url.PathEscape(c.Name)
	if c.Version != "" {
		p += "@" + url.PathEscape(c.Version)
	}
	var q []string
	if c.URL != "" {
		q = append(q, "download_url="+url.QueryEscape(c.URL))
	}
	if c.SHA256 != "" {
		q = append(q, "checksum=sha256:"+c.SHA256)
	}
	if len(q) > 0 {
		p += "?" + strings.Join(q, "&")
	}
	return p
}

// Package is the note's content: the project an executable was built from and what it links.
// The keys type, name, version and architecture are the well-known ones of the systemd
// specification; components is portabin's own.
type Package struct {
	Type         string      `json:"type"`
	Name         string      `json:"name"`
	Version      string      `json:"version,omitempty"`
	Architecture string      `json:"architecture"`
	Components   []Component `json:"components,omitempty"`
}

// PackageType is the "type" portabin writes: the executable is packaged by portabin itself,
// not by rpm or dpkg.
const PackageType = "portabin"

// llvmLicense covers libc++, libc++abi and libunwind.
const llvmLicense = "Apache-2.0 WITH LLVM-exception"

// Musl describes the musl C library of the given version.
func Musl(version string) Component {
	return Component{Name: "musl", Version: version, License: "MIT",
		URL: "https://musl.libc.org/releases/musl-" + version + ".tar.gz"}
}

// LLVMCXXRuntime describes the C++ runtime zig links: LLVM's libc++, libc++abi and libunwind,
// each a folder of the llvm-project repository.
func LLVMCXXRuntime(version string) []Component {
	var out []Component
	for _, c := range []struct{ name, folder string }{{"libc++", "libcxx"}, {"libc++abi", "libcxxabi"}, {"libunwind", "libunwind"}} {
		out = append(out, Component{Name: c.name, Version: version, License: llvmLicense,
			URL:  "https://github.com/llvm/llvm-project/releases/tag/llvmorg-" + version,
			PURL: "pkg:github/llvm/llvm-project@llvmorg-" + version + "#" + c.folder})
	}
	return out
}

var (
	muslVersionLine = regexp.MustCompile(`#define VERSION "([0-9.]+)"`)
	libcxxVersion   = regexp.MustCompile(`#\s*define _LIBCPP_VERSION (\d+)`)
)

// ZigRuntime reads the versions of the musl and the libc++ that a zig installation builds
// from their sources in its lib folder, rather than trusting a table of zig releases.
func ZigRuntime(libDir string) (musl Component, cxx []Component, err error) {
	read := func(rel string, re *regexp.Regexp) (string, error) {
		data, err := os.ReadFile(filepath.Join(libDir, rel))
		if err != nil {
			return "", fmt.Errorf("reading zig's runtime version: %w", err)
		}
		m := re.FindSubmatch(data)
		if m == nil {
			return "", fmt.Errorf("reading zig's runtime version: no version in %s", rel)
		}
		return string(m[1]), nil
	}
	mv, err := read("libc/musl/src/internal/version.h", muslVersionLine)
	if err != nil {
		return Component{}, nil, err
	}
	lv, err := read("libcxx/include/__config", libcxxVersion)
	if err != nil {
		return Component{}, nil, err
	}
	// libc++ encodes LLVM X.Y.Z as XXYYZZ (16.0.1 is 160001).
	n, _ := strconv.Atoi(lv)
	return Musl(mv), LLVMCXXRuntime(fmt.Sprintf("%d.%d.%d", n/10000, n/100%100, n%100)), nil
}
