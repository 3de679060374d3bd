package ccwrap

import (
	"fmt"
	"strings"
)

// Tool is the program a build system believes it is running.
type Tool string

const (
	CC     Tool = "cc"
	CXX    Tool = "c++"
	AR     Tool = "ar"
	RANLIB Tool = "ranlib"
)

// stackSize is the default thread stack size portabin links in. musl gives threads 128 KiB unless
// the executable's PT_GNU_STACK says more (it honours up to 8 MiB); glibc's default is 8 MiB, so
// code written for glibc expects that much.
const stackSize = 8 << 20

// action is what a rule does with the arguments it matches.
type action int

const (
	drop     action = iota // remove silently: the toolchain rejects it or it is meaningless for static musl
	dropWarn               // remove and tell the user: the result would otherwise not be what they think
)

// rule rewrites one kind of argument. Compiler rules see driver arguments; linker rules see the
// parts of -Wl,a,b,c and -Xlinker values.
type rule struct {
	// flag is the argument as people write it, for messages and tests.
	flag string
	// match reports whether arg is this rule's; value says the flag takes the next argument too.
	match func(arg string) (ok, value bool)
	// when limits the rule to some configurations; nil means always.
	when   func(Config) bool
	action action
	why    string
}

func exact(names ...string) func(string) (bool, bool) {
	return func(arg string) (bool, bool) {
		for _, n := range names {
			if arg == n {
				return true, false
			}
		}
		return false, false
	}
}

func prefix(p string) func(string) (bool, bool) {
	return func(arg string) (bool, bool) { return strings.HasPrefix(arg, p), false }
}

// withValue matches "name value" (two arguments) and "name=value".
func withValue(name string) func(string) (bool, bool) {
	return func(arg string) (bool, bool) {
		if arg == name {
			return true, true
		}
		return strings.HasPrefix(arg, name+"="), false
	}
}

func isZig(c Config) bool       { return c.Dialect == Zig }
func notPIE(c Config) bool      { return !c.PIE }
func foreignHost(c Config) bool { return c.HostPathsForeign }

// hostDir matches -I/-L/-isystem values that point into the host's own C library folders.
func hostDir(dir string) bool {
	for _, p := range []string{"/usr/include", "/usr/local/include", "/usr/lib", "/usr/local/lib", "/lib", "/lib64", "/usr/lib64"} {
		if dir == p || strings.HasPrefix(dir, p+"/") {
			return true
		}
	}
	return false
}

func hostPathFlag(flag string) func(string) (bool, bool) {
	return func(arg string) (bool, bool) {
		if arg == flag {
			return true, true // the value is checked by the caller
		}
		return strings.HasPrefix(arg, flag) && hostDir(strings.TrimPrefix(arg, flag)), false
	}
}

// compilerRules is the table of driver-argument rewrites. Each row was found by building real
// projects; rewrite_test.go has a case per row.
var compilerRules = []rule{
	{flag: "-march=native", match: exact("-march=native", "-mcpu=native", "-mtune=native"), action: dropWarn,
		why: "it would tune for the build machine's CPU; the executable must run on any CPU of its target"},
	{flag: "--target=TRIPLE", match: withValue("--target"), when: isZig, action: drop,
		why: "a GNU triple such as x86_64-pc-linux-gnu makes zig fail; portabin sets -target itself"},
	{flag: "-target TRIPLE", match: withValue("-target"), when: isZig, action: drop,
		why: "portabin sets -target itself"},
	{flag: "-m32/-m64", match: exact("-m32", "-m64"), when: isZig, action: drop,
		why: "the target decides the word size"},
	{flag: "-lgcc_s", match: exact("-lgcc_s", "-lgcc", "-lgcc_eh"), when: isZig, action: drop,
		why: "zig brings compiler-rt instead of libgcc, and there is no shared libgcc in a static link"},
	{flag: "-latomic", match: exact("-latomic"), when: isZig, action: drop,
		why: "zig's compiler-rt has the atomic helpers; there is no libatomic to find"},
	{flag: "-lssp_nonshared", match: exact("-lssp", "-lssp_nonshared"), when: isZig, action: drop,
		why: "musl provides the stack protector itself"},
	{flag: "-static-libgcc", match: exact("-static-libgcc", "-static-libstdc++"), when: isZig, action: drop,
		why: "zig links its runtimes statically anyway and warns about the flag"},
	{flag: "-fuse-ld=LINKER", match: prefix("-fuse-ld="), when: isZig, action: drop,
		why: "zig always uses its own linker"},
	{flag: "-static-pie", match: exact("-static-pie"), action: drop,
		why: "zig ignores it; portabin links static-pie itself when --pie is given"},
	{flag: "-pie", match: exact("-pie"), when: notPIE, action: drop,
		why: "portabin links plain static executables unless --pie is given (distribution hardening flags add -pie)"},
	{flag: "-I/usr/include", match: hostPathFlag("-I"), when: foreignHost, action: dropWarn,
		why: "the host's headers belong to its own C library, not musl"},
	{flag: "-isystem /usr/include", match: hostPathFlag("-isystem"), when: foreignHost, action: dropWarn,
		why: "the host's headers belong to its own C library, not musl"},
	{flag: "-L/usr/lib", match: hostPathFlag("-L"), when: foreignHost, action: dropWarn,
		why: "the host's libraries are built against its own C library, not musl"},
}

// linkerRules rewrite the parts of -Wl, arguments.
var linkerRules = []rule{
	{flag: "-rpath-link DIR", match: withValue("-rpath-link"), when: isZig, action: drop,
		why: "zig's linker rejects it, and a static link has no shared libraries to resolve"},
	{flag: "--enable-new-dtags", match: exact("--enable-new-dtags", "--disable-new-dtags"), when: isZig, action: drop,
		why: "zig's linker rejects it; a static executable has no dynamic tags"},
	{flag: "-Bsymbolic-functions", match: exact("-Bsymbolic-functions", "--dynamic-list-data"), when: isZig, action: drop,
		why: "zig's linker rejects it; it only matters for shared libraries"},
	{flag: "-Bdynamic", match: exact("-Bdynamic"), action: drop,
		why: "it asks for shared libraries in an executable that must be static"},
	{flag: "-dynamic-linker PATH", match: withValue("-dynamic-linker"), action: drop,
		why: "a static executable has no dynamic linker"},
	{flag: "--dynamic-linker=PATH", match: withValue("--dynamic-linker"), action: drop,
		why: "a static executable has no dynamic linker"},
	{flag: "-Map FILE", match: withValue("-Map"), when: isZig, action: drop,
		why: "zig's linker rejects it"},
	{flag: "--icf=MODE", match: prefix("--icf="), when: isZig, action: drop,
		why: "zig's linker rejects it"},
	{flag: "--warn-common", match: exact("--warn-common", "--fatal-warnings", "--push-state", "--pop-state"), when: isZig, action: drop,
		why: "zig's linker rejects it"},
	{flag: "--exclude-libs LIBS", match: withValue("--exclude-libs"), when: isZig, action: drop,
		why: "zig's linker rejects it; it only matters for shared libraries"},
}

// applies returns the first rule of rules that matches arg under c.
func applies(rules []rule, c Config, arg string) (*rule, bool) {
	for i := range rules {
		r := &rules[i]
		if r.when != nil && !r.when(c) {
			continue
		}
		if ok, value := r.match(arg); ok {
			return r, value
		}
	}
	return nil, false
}

// Answer returns what portabin says itself, without running the toolchain, for questions whose
// true answer the build system would misread. Meson asks the compiler for its linker's version
// and knows no "zig ld"; zig 0.11 links ELF files with LLD, so it is told so.
func (c Config) Answer(tool Tool, args []string) (string, bool) {
	if c.Dialect != Zig || (tool != CC && tool != CXX) || !hasArg(args, "-Wl,--version") {
		return "", false
	}
	return "LLD 16.0.6 (zig ld, compatible with GNU linkers)\n", true
}

// Command returns the command line that replaces `tool args...`, and warnings for the user.
func (c Config) Command(tool Tool, args []string) ([]string, []string, error) {
	switch tool {
	case AR:
		return join(c.AR, args), nil, nil
	case RANLIB:
		return join(c.RANLIB, args), nil, nil
	case CC, CXX:
	default:
		return nil, nil, fmt.Errorf("unknown tool %q", tool)
	}
	if tool == CXX && c.NoCXX != "" {
		return nil, nil, fmt.Errorf("%s", c.NoCXX)
	}
	driver := c.CC
	if tool == CXX {
		driver = c.CXX
	}
	if queryOnly(args) {
		return join(driver, args), nil, nil
	}
	kept, warnings := c.rewrite(args)
	out := join(driver, c.CompileFlags)
	if c.PIE {
		out = append(out, "-fPIE")
	}
	out = append(out, kept...)
	if links(args) {
		out = append(out, c.linkFlags(args)...)
	}
	return out, warnings, nil
}

func (c Config) rewrite(args []string) (kept, warnings []string) {
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if linkerArgs, ok := splitLinkerArg(arg); ok {
			parts := c.rewriteLinker(linkerArgs, &warnings)
			if len(parts) > 0 {
				kept = append(kept, "-Wl,"+strings.Join(parts, ","))
			}
			continue
		}
		if arg == "-Xlinker" && i+1 < len(args) {
			if parts := c.rewriteLinker([]string{args[i+1]}, &warnings); len(parts) > 0 {
				kept = append(kept, arg, args[i+1])
			}
			i++
			continue
		}
		r, value := applies(compilerRules, c, arg)
		if r == nil {
			kept = append(kept, arg)
			continue
		}
		dropped := arg
		if value && i+1 < len(args) {
			i++
			dropped += " " + args[i]
			if (arg == "-I" || arg == "-L" || arg == "-isystem") && !hostDir(args[i]) {
				kept = append(kept, arg, args[i])
				continue
			}
		}
		if r.action == dropWarn {
			warnings = append(warnings, fmt.Sprintf("dropped %s: %s", dropped, r.why))
		}
	}
	return kept, warnings
}

func (c Config) rewriteLinker(parts []string, warnings *[]string) []string {
	var kept []string
	for i := 0; i < len(parts); i++ {
		r, value := applies(linkerRules, c, parts[i])
		if r == nil {
			kept = append(kept, parts[i])
			continue
		}
		dropped := parts[i]
		if value && i+1 < len(parts) {
			i++
			dropped += " " + parts[i]
		}
		if r.action == dropWarn {
			*warnings = append(*warnings, fmt.Sprintf("dropped -Wl,%s: %s", dropped, r.why))
		}
	}
	return kept
}

// linkFlags are added to every command that links an executable.
func (c Config) linkFlags(args []string) []string {
	if hasArg(args, "-shared") {
		return nil // a shared library; it cannot reach dist/, which takes executables only
	}
	var flags []string
	switch {
	case !c.PIE && c.Dialect == Zig:
		// zig links a PIE whenever -fPIE is on the link line, which projects and
		// distribution hardening flags put there.
		flags = []string{"-static", "-fno-PIE"}
	case !c.PIE:
		flags = []string{"-static"}
	case c.Dialect == Zig:
		// zig 0.11 ignores -static-pie; -static with -pie gives a static-pie executable.
		flags = []string{"-static", "-pie"}
	default:
		// gcc makes a plain static executable of -static -pie; it needs -static-pie.
		flags = []string{"-static-pie"}
	}
	if c.LinkOpt != "" && !hasOpt(args) {
		flags = append(flags, c.LinkOpt)
	}
	if !setsStackSize(args) {
		flags = append(flags, fmt.Sprintf("-Wl,-z,stack-size=%d", stackSize))
	}
	return append(flags, c.LinkFlags...)
}

func hasOpt(args []string) bool {
	for _, a := range args {
		if strings.HasPrefix(a, "-O") {
			return true
		}
	}
	return false
}

func setsStackSize(args []string) bool {
	for _, a := range args {
		if strings.Contains(a, "stack-size=") {
			return true
		}
	}
	return false
}

// splitLinkerArg splits "-Wl,a,b" into its parts.
func splitLinkerArg(arg string) ([]string, bool) {
	rest, ok := strings.CutPrefix(arg, "-Wl,")
	if !ok {
		return nil, false
	}
	return strings.Split(rest, ","), true
}

// links reports whether a compiler command links, as opposed to compiling or preprocessing only.
func links(args []string) bool {
	for _, a := range args {
		switch a {
		case "-c", "-S", "-E", "-M", "-MM", "-fsyntax-only":
			return false
		}
	}
	return true
}

// queryOnly reports a command that asks the driver about itself (--version, -print-search-dirs);
// those pass through untouched.
func queryOnly(args []string) bool {
	if len(args) == 0 {
		return true
	}
	for _, a := range args {
		switch {
		case a == "--version", a == "-v" && len(args) == 1, a == "-###" && len(args) == 1,
			strings.HasPrefix(a, "-print-"), strings.HasPrefix(a, "-dump"):
			return true
		}
	}
	return false
}

func hasArg(args []string, want string) bool {
	for _, a := range args {
		if a == want {
			return true
		}
	}
	return false
}

func join(prefix, args []string) []string {
	return append(append([]string(nil), prefix...), args...)
}
