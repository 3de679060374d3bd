package ccwrap

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/portabin/portabin/internal/sbom"
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
	drop       action = iota // remove silently: the toolchain rejects it or it is meaningless for static musl
	dropWarn                 // remove and tell the user: the result would otherwise not be what they think
	linkInputs               // replace a shared library by what it was linked from, as the wrapper recorded it
)

// rule rewrites one kind of argument. Compiler rules see driver arguments; linker rules see the
// parts of -Wl,a,b,c and -Xlinker values.
type rule struct {
	// flag is the argument as people write it, for messages and tests.
	flag string
	// match reports whether arg is this rule's; value says the flag takes the next argument too.
	match func(arg string) (ok, value bool)
	// when limits the rule to some configurations; nil means always.
	when func(Config) bool
	// exeLink limits the rule to commands that link an executable.
	exeLink bool
	action  action
	why     string
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

// sharedLibrary matches a shared library named by its path, libNAME.so or libNAME.so.VERSION.
var sharedLibrary = regexp.MustCompile(`^lib[^/]*\.so(\.[0-9]+)*$`)

// inputsSuffix names the file that the wrapper writes beside each shared library it links: the
// library's own link inputs, one a line, which executables then link instead of the library.
const inputsSuffix = ".portabin-inputs"

// recordedInputs returns the link inputs recorded for the shared library at path.
func recordedInputs(path string) ([]string, bool) {
	if !sharedLibrary.MatchString(filepath.Base(path)) {
		return nil, false
	}
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real // libz.so -> libz.so.1 -> libz.so.1.2.13, the file that was linked
	}
	data, err := os.ReadFile(path + inputsSuffix)
	if err != nil {
		return nil, false
	}
	return strings.Fields(string(data)), true
}

func hasRecordedInputs(arg string) (bool, bool) {
	_, ok := recordedInputs(arg)
	return ok, false
}

// recordInputs writes the inputs of a shared-library link (args after rewriting) beside its
// output, with paths made absolute: executables link from other folders.
func recordInputs(args []string) error {
	var out string
	var inputs []string
	abs := func(path string) string {
		if p, err := filepath.Abs(path); err == nil {
			return p
		}
		return path
	}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch {
		case arg == "-o" && i+1 < len(args):
			i++
			out = args[i]
		case takesValue(arg):
			i++
		case arg == "-L" && i+1 < len(args):
			i++
			inputs = append(inputs, "-L"+abs(args[i]))
		case strings.HasPrefix(arg, "-L"):
			inputs = append(inputs, "-L"+abs(arg[2:]))
		case strings.HasPrefix(arg, "-l"), arg == "-pthread":
			inputs = append(inputs, arg)
		case isSource(arg):
			return nil // compiled on the way: there are no objects to record
		case strings.HasPrefix(arg, "-"):
		default:
			if nested, ok := recordedInputs(arg); ok {
				inputs = append(inputs, nested...)
			} else {
				inputs = append(inputs, abs(arg))
			}
		}
	}
	if out == "" || !sharedLibrary.MatchString(filepath.Base(out)) {
		return nil
	}
	record := out + inputsSuffix
	if err := os.WriteFile(record+".tmp", []byte(strings.Join(inputs, "\n")+"\n"), 0o644); err != nil {
		return fmt.Errorf("recording the inputs of %s: %w", out, err)
	}
	return os.Rename(record+".tmp", record)
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

func orMatch(matches ...func(string) (bool, bool)) func(string) (bool, bool) {
	return func(arg string) (bool, bool) {
		for _, m := range matches {
			if ok, value := m(arg); ok {
				return true, value
			}
		}
		return false, false
	}
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
	{flag: "-rdynamic", match: exact("-rdynamic", "-export-dynamic"), action: drop,
		why: "a static executable has no dynamic loader to export symbols to; zig's linker would give it a dynamic section " +
			"(CMake adds -rdynamic to every executable of projects that predate policy CMP0065, zlib's among them)"},
	{flag: "libNAME.so", match: hasRecordedInputs, exeLink: true, action: linkInputs,
		why: "projects that always build a shared library (zlib's CMake and configure) link their own programs " +
			"with it by path; the objects it was linked from keep them static (a static archive beside it may " +
			"not be built yet)"},
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
	{flag: "-rpath DIR", match: orMatch(withValue("-rpath"), withValue("--rpath")), exeLink: true, action: drop,
		why: "a static executable has no dynamic loader to search it; zig's linker would give it a dynamic section " +
			"(CMake and libtool add the build folder's run path)"},
	{flag: "--export-dynamic", match: exact("--export-dynamic", "-export-dynamic", "-E"), action: drop,
		why: "a static executable has no dynamic loader to export symbols to; zig's linker would give it a dynamic section"},
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

// applies returns the first rule of rules that matches arg under c, in a command that links an
// executable if exeLink.
func applies(rules []rule, c Config, exeLink bool, arg string) (*rule, bool) {
	for i := range rules {
		r := &rules[i]
		if (r.when != nil && !r.when(c)) || (r.exeLink && !exeLink) {
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
// A command that links a shared library also records the library's inputs beside it, for the
// executables that link it later.
func (c Config) Command(tool Tool, args []string) ([]string, []string, error) {
	switch tool {
	case AR:
		return join(c.AR, arOperation(args)), nil, nil
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
	if sources := compiledSources(args); c.Dialect == Zig && len(sources) > 1 {
		return c.eachSource(tool, args, sources)
	}
	kept, warnings := c.rewrite(args)
	out := join(driver, c.CompileFlags)
	if c.PIE {
		out = append(out, "-fPIE")
	}
	if links(args) && !hasArg(args, "-shared") && !hasArg(args, "-r") {
		// First, before any -x the project gives, which would make them sources.
		objects, err := c.exeObjects(tool, args)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, objects...)
	}
	out = append(out, kept...)
	if links(args) {
		out = append(out, c.linkFlags(args)...)
	}
	if links(args) && hasArg(args, "-shared") {
		if err := recordInputs(kept); err != nil {
			return nil, nil, err
		}
	}
	if c.Dialect == Zig && discardsOutput(out) {
		return discardOutput(out), warnings, nil
	}
	return out, warnings, nil
}

// exeObjects are the files portabin adds to every executable: the allocator and the note
// that says what the executable is made of.
func (c Config) exeObjects(tool Tool, args []string) ([]string, error) {
	var objects []string
	if c.Malloc != "" {
		objects = append(objects, c.Malloc)
	}
	if c.Package == nil {
		return objects, nil
	}
	p := *c.Package
	if tool == CXX || hasArg(args, "-lc++") || hasArg(args, "-lstdc++") {
		p.Components = append(append([]sbom.Component(nil), p.Components...), c.CXXRuntime...)
	}
	note, err := p.WriteObject(c.NoteDir)
	if err != nil {
		return nil, err
	}
	return append(objects, note), nil
}

// devNull is where probes that only want the exit status send the output.
const devNull = "/dev/null"

func discardsOutput(args []string) bool {
	for i, arg := range args {
		if arg == "-o"+devNull || (arg == "-o" && i+1 < len(args) && args[i+1] == devNull) {
			return true
		}
	}
	return false
}

// discardOutput runs a command that writes to /dev/null with a temporary output instead: zig
// 0.11 ignores -o /dev/null and writes a.out (or NAME.o, NAME.s) into the current folder, where
// a probe's a.out looks like one of the project's executables and a probe's foo.o replaces the
// project's own (zstd's Makefiles probe so).
func discardOutput(cmd []string) []string {
	quoted := make([]string, 0, len(cmd))
	for i, arg := range cmd {
		switch {
		case arg == "-o"+devNull:
			quoted = append(quoted, `-o"$d/out"`)
		case arg == devNull && i > 0 && cmd[i-1] == "-o":
			quoted = append(quoted, `"$d/out"`)
		default:
			quoted = append(quoted, shellQuote(arg))
		}
	}
	return []string{"/bin/sh", "-c", `d=$(mktemp -d) || exit; ` + strings.Join(quoted, " ") + `; s=$?; rm -rf "$d"; exit $s`}
}

// arOperation gives back the operation of an ar command whose Makefile wrote it into AR itself
// (Lua's `AR= ar rcu`): portabin's AR replaces the whole variable, and then the archive comes
// first, where the operation belongs.
func arOperation(args []string) []string {
	if len(args) > 0 && strings.HasSuffix(args[0], ".a") {
		return append([]string{"rc"}, args...)
	}
	return args
}

// eachSource runs a compile of several sources as one command per source: zig 0.11 writes
// `-c a.c b.c` as a single a.o that holds both, where gcc and clang write a.o and b.o (lz4's
// Makefile compiles so, and then links a.o and b.o: every symbol of b.c twice).
func (c Config) eachSource(tool Tool, args []string, sources map[int]bool) ([]string, []string, error) {
	var script, warnings []string
	for i := range args {
		if !sources[i] {
			continue
		}
		var one []string
		for j, arg := range args {
			if !sources[j] || j == i {
				one = append(one, arg)
			}
		}
		cmd, w, err := c.Command(tool, one)
		if err != nil {
			return nil, nil, err
		}
		if len(warnings) == 0 {
			warnings = w // the same for every source
		}
		quoted := make([]string, len(cmd))
		for j, arg := range cmd {
			quoted[j] = shellQuote(arg)
		}
		script = append(script, strings.Join(quoted, " "))
	}
	return []string{"/bin/sh", "-c", strings.Join(script, " && ")}, warnings, nil
}

// sourceSuffixes are the files a driver compiles, as opposed to objects and libraries it links.
var sourceSuffixes = []string{".c", ".cc", ".cp", ".cpp", ".cxx", ".c++", ".C", ".CPP", ".m", ".mm", ".s", ".S", ".sx", ".i", ".ii"}

// compiledSources returns the positions of the source files of a command that compiles each to
// an object file of its own (-c without -o).
func compiledSources(args []string) map[int]bool {
	if !hasArg(args, "-c") || hasArg(args, "-o") {
		return nil
	}
	sources := map[int]bool{}
	for i, arg := range args {
		if strings.HasPrefix(arg, "-") || (i > 0 && takesValue(args[i-1])) {
			continue
		}
		if isSource(arg) {
			sources[i] = true
		}
	}
	return sources
}

func isSource(path string) bool {
	for _, suffix := range sourceSuffixes {
		if strings.HasSuffix(path, suffix) {
			return true
		}
	}
	return false
}

// takesValue reports a driver flag whose value is the next argument, never a file to compile or link.
func takesValue(flag string) bool {
	switch flag {
	case "-o", "-I", "-D", "-U", "-x", "-include", "-imacros", "-isystem", "-iquote", "-idirafter",
		"-MF", "-MT", "-MQ", "-Xclang", "-Xpreprocessor", "-Xassembler", "-Xlinker", "-z", "-u", "-e", "-T",
		"-target", "--sysroot", "-arch":
		return true
	}
	return false
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=+,./:@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func (c Config) rewrite(args []string) (kept, warnings []string) {
	exeLink := links(args) && !hasArg(args, "-shared")
	// linkerValue is set when a dropped linker flag's value comes in the next -Wl, or -Xlinker
	// argument, the way libtool writes them: -Wl,-rpath -Wl,DIR.
	linkerValue := false
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if linkerArgs, ok := splitLinkerArg(arg); ok {
			if linkerValue {
				linkerArgs, linkerValue = linkerArgs[1:], false
			}
			var parts []string
			parts, linkerValue = c.rewriteLinker(linkerArgs, exeLink, &warnings)
			if len(parts) > 0 {
				kept = append(kept, "-Wl,"+strings.Join(parts, ","))
			}
			continue
		}
		if arg == "-Xlinker" && i+1 < len(args) {
			i++
			if linkerValue {
				linkerValue = false
				continue
			}
			var parts []string
			if parts, linkerValue = c.rewriteLinker([]string{args[i]}, exeLink, &warnings); len(parts) > 0 {
				kept = append(kept, arg, args[i])
			}
			continue
		}
		linkerValue = false
		if arg == "-o" && i+1 < len(args) {
			kept = append(kept, arg, args[i+1]) // the output is never a rule's, whatever its name
			i++
			continue
		}
		r, value := applies(compilerRules, c, exeLink, arg)
		if r == nil {
			kept = append(kept, arg)
			continue
		}
		if r.action == linkInputs {
			inputs, _ := recordedInputs(arg)
			kept = append(kept, inputs...)
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

// rewriteLinker rewrites the parts of one -Wl, or -Xlinker argument. needsValue says that the
// last part was a dropped flag whose value is still to come.
func (c Config) rewriteLinker(parts []string, exeLink bool, warnings *[]string) (kept []string, needsValue bool) {
	for i := 0; i < len(parts); i++ {
		r, value := applies(linkerRules, c, exeLink, parts[i])
		if r == nil {
			kept = append(kept, parts[i])
			continue
		}
		dropped := parts[i]
		if value {
			if i+1 == len(parts) {
				needsValue = true
			} else {
				i++
				dropped += " " + parts[i]
			}
		}
		if r.action == dropWarn {
			*warnings = append(*warnings, fmt.Sprintf("dropped -Wl,%s: %s", dropped, r.why))
		}
	}
	return kept, needsValue
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
	if c.Dialect == Zig && !asksLTO(args) {
		// zig 0.11 turns on link-time optimisation by itself for optimised links, which gcc
		// and clang never do: it made a one-file compile-and-link five times slower
		// (docs/benchmarks.md) and changes what the project asked for.
		flags = append(flags, "-fno-lto")
	}
	if !setsStackSize(args) {
		flags = append(flags, fmt.Sprintf("-Wl,-z,stack-size=%d", stackSize))
	}
	return append(flags, c.LinkFlags...)
}

func asksLTO(args []string) bool {
	for _, a := range args {
		if strings.HasPrefix(a, "-flto") {
			return true
		}
	}
	return false
}

// ExecutableOutput returns the file a compiler command links into an executable, relative
// to the command's folder, or false when it compiles, queries or links a shared library.
func ExecutableOutput(args []string) (string, bool) {
	if queryOnly(args) || !links(args) || hasArg(args, "-shared") || hasArg(args, "-r") {
		return "", false
	}
	for i, a := range args {
		if a == "-o" && i+1 < len(args) {
			return args[i+1], args[i+1] != devNull
		}
		if out, ok := strings.CutPrefix(a, "-o"); ok && out != "" {
			return out, out != devNull
		}
	}
	return "a.out", true
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
