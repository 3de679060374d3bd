package config

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"

	"github.com/portabin/portabin/internal/buildsys"
	"github.com/portabin/portabin/internal/target"
)

// TemplateInput is what `portabin init` found out about a project.
type TemplateInput struct {
	// System is the detected build system; empty writes "auto".
	System buildsys.Kind
	// Toolchain is the one init built with; empty writes "zig".
	Toolchain string
	// Targets are target names; empty leaves the key commented out (the host's target).
	Targets []string
	// Executables are the executables a first build produced.
	Executables []string
}

// templateKernels are the kernels of a new project's matrix: the two oldest enterprise
// kernels still met in the field, and the machine's own.
var templateKernels = []string{"rhel6", "rhel7", "host"}

// Template is the commented portabin.toml that `portabin init` writes: every choice init made,
// the other keys commented out with their defaults, and one test per executable that runs it
// with no arguments and expects exit status 0.
func Template(in TemplateInput) []byte {
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	system, toolchain := string(in.System), in.Toolchain
	if system == "" {
		system = "auto"
	}
	if toolchain == "" {
		toolchain = "zig"
	}

	w("# portabin.toml: what `portabin run` builds, checks and tests in this project.")
	w("# Every key is described in docs/config.md; command-line flags override the keys they mirror.")
	w("")
	w("[build]")
	w("# Found by `portabin init`: auto, cmake, meson, autotools, make or sources.")
	w("system = %s", quote(system))
	w("# zig (every target), container (an image run by podman or docker) or musl-gcc.")
	w("toolchain = %s", quote(toolchain))
	w("# Architectures to build for: %s.", strings.Join(target.Names(), ", "))
	if len(in.Targets) == 0 {
		w("# The host's when left out.")
		w("# targets = [\"x86_64\", \"aarch64\"]")
	} else {
		w("targets = %s", list(in.Targets))
	}
	w("# The executables to ship, names or globs; every program the build links when left out.")
	if len(in.Executables) == 0 {
		w("# executables = [\"tool\"]")
	} else {
		patterns := make([]string, len(in.Executables))
		for i, exe := range in.Executables {
			patterns[i] = globEscape(exe)
		}
		w("executables = %s", list(patterns))
	}
	w("# Arguments for the configure step (cmake -D..., meson -D..., ./configure --...) or make,")
	w("# as after `portabin build --`.")
	w("# args = []")
	w("# env = { CFLAGS = \"-O2\" }")
	w("# strip = false  # split debug information into <executable>.debug")
	w("# pie = false")
	w("# debug = false")
	w("# out = \"dist\"")
	w("")
	w("# Libraries built from source for every target: name = \"version\".")
	w("[deps]")
	w("# zlib = \"1.3\"")
	w("")
	w("# What `portabin check` requires of every executable.")
	w("[check]")
	w("# require_kernel = \"rhel6\"  # a version such as 2.6.32, or a distribution's name")
	w("# require_isa = \"x86-64-v2\"")
	w("# allow_dynamic = false")
	w("")
	w("# Where `portabin test` runs the executables: every root with every kernel.")
	w("[matrix]")
	w("# scratch (an empty root), dir:PATH, tar:PATH, oci:REF, or an image such as \"centos:7\".")
	w("roots = [\"scratch\"]")
	w("# Kernels to emulate: versions (2.6.32), names (rhel6, debian11, ubuntu20.04) or host.")
	w("kernels = %s", list(templateKernels))
	w("# runner = \"native\"  # or podman, docker")
	w("timeout = \"10s\"")
	for _, exe := range in.Executables {
		w("")
		w("[[test]]")
		w("name = %s", quote(exe))
		w("executable = %s", quote(exe))
		w("args = []")
		w("expect_exit = 0")
		w("# expect_stdout = %s  # or expect_stdout_regex = \"^usage\"", quote("tests/"+exe+".out"))
		w("# stdin = %s", quote("tests/"+exe+".in"))
	}
	if len(in.Executables) == 0 {
		w("")
		w("# One [[test]] per case:")
		w("# [[test]]")
		w("# name = \"runs\"")
		w("# args = [\"--version\"]")
		w("# expect_exit = 0")
	}
	return b.Bytes()
}

// globEscape makes a name a pattern that matches only itself: build.executables are globs.
func globEscape(name string) string {
	var b strings.Builder
	for _, r := range name {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// quote writes s as a TOML basic string.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case unicode.IsControl(r):
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func list(items []string) string {
	quoted := make([]string, len(items))
	for i, s := range items {
		quoted[i] = quote(s)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}
