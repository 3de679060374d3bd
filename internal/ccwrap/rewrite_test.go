package ccwrap

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var zigConfig = Config{
	Dialect:          Zig,
	CC:               []string{"zig", "cc", "-target", "x86_64-linux-musl"},
	CXX:              []string{"zig", "c++", "-target", "x86_64-linux-musl"},
	AR:               []string{"zig", "ar"},
	RANLIB:           []string{"zig", "ranlib"},
	LinkFlags:        []string{"-Wl,--build-id=sha1"},
	HostPathsForeign: true,
}

var gccContainerConfig = Config{
	Dialect: GCC,
	CC:      []string{"cc"},
	CXX:     []string{"c++"},
	AR:      []string{"ar"},
	RANLIB:  []string{"ranlib"},
}

// ruleCases has one case per row of compilerRules and linkerRules, keyed by the row's flag.
var ruleCases = map[string]struct {
	config   Config
	args     []string
	wantArgs []string // what remains of args; link flags are added to the commands that link
	warns    bool
}{
	"-march=native":   {zigConfig, []string{"-c", "-march=native", "a.c"}, []string{"-c", "a.c"}, true},
	"--target=TRIPLE": {zigConfig, []string{"-c", "--target=x86_64-pc-linux-gnu", "a.c"}, []string{"-c", "a.c"}, false},
	"-target TRIPLE":  {zigConfig, []string{"-c", "-target", "x86_64-pc-linux-gnu", "a.c"}, []string{"-c", "a.c"}, false},
	"-m32/-m64":       {zigConfig, []string{"-c", "-m64", "a.c"}, []string{"-c", "a.c"}, false},
	"-lgcc_s":         {zigConfig, []string{"-c", "a.c", "-lgcc_s", "-lgcc"}, []string{"-c", "a.c"}, false},
	"-latomic":        {zigConfig, []string{"-c", "a.c", "-latomic"}, []string{"-c", "a.c"}, false},
	"-lssp_nonshared": {zigConfig, []string{"-c", "a.c", "-lssp_nonshared"}, []string{"-c", "a.c"}, false},
	"-static-libgcc":  {zigConfig, []string{"-c", "a.c", "-static-libgcc", "-static-libstdc++"}, []string{"-c", "a.c"}, false},
	"-fuse-ld=LINKER": {zigConfig, []string{"-c", "a.c", "-fuse-ld=gold"}, []string{"-c", "a.c"}, false},
	"-static-pie":     {zigConfig, []string{"-c", "a.c", "-static-pie"}, []string{"-c", "a.c"}, false},
	"-pie":            {zigConfig, []string{"-c", "a.c", "-pie"}, []string{"-c", "a.c"}, false},
	"-rdynamic":       {zigConfig, []string{"-c", "a.c", "-rdynamic"}, []string{"-c", "a.c"}, false},
	// testdata holds the inputs the wrapper recorded when it linked libz.so.1.2.13.
	"libNAME.so": {zigConfig, []string{"example.o", "-o", "example", "testdata/libz.so.1.2.13", "testdata/libnone.so", "-lm"},
		[]string{"example.o", "-o", "example", "/build/adler32.o", "/build/zutil.o", "-L/build/deps", "-ldep",
			"testdata/libnone.so", "-lm"}, false},
	"-I/usr/include":        {zigConfig, []string{"-c", "-I/usr/include", "-I", "/usr/include/x86_64-linux-gnu", "-Iinclude", "-I", "gen", "a.c"}, []string{"-c", "-Iinclude", "-I", "gen", "a.c"}, true},
	"-isystem /usr/include": {zigConfig, []string{"-c", "-isystem", "/usr/local/include", "-isystem", "vendor", "a.c"}, []string{"-c", "-isystem", "vendor", "a.c"}, true},
	"-L/usr/lib":            {zigConfig, []string{"-c", "a.c", "-L/usr/lib/x86_64-linux-gnu", "-Lbuild"}, []string{"-c", "a.c", "-Lbuild"}, true},
	"-rpath-link DIR":       {zigConfig, []string{"-c", "a.c", "-Wl,-rpath-link,/usr/lib", "-Wl,-rpath-link=/x,-O1"}, []string{"-c", "a.c", "-Wl,-O1"}, false},
	"-rpath DIR": {zigConfig, []string{"a.o", "-o", "a", "-Wl,-rpath,/build:/lib", "-Wl,-rpath", "-Wl,/build", "-Xlinker", "--rpath=/x", "-Xlinker", "-rpath", "-Xlinker", "/y", "-Wl,--as-needed"},
		[]string{"a.o", "-o", "a", "-Wl,--as-needed"}, false},
	"--export-dynamic":      {zigConfig, []string{"-c", "a.c", "-Wl,--export-dynamic", "-Wl,-E,-O1"}, []string{"-c", "a.c", "-Wl,-O1"}, false},
	"--enable-new-dtags":    {zigConfig, []string{"-c", "a.c", "-Wl,--enable-new-dtags,--as-needed"}, []string{"-c", "a.c", "-Wl,--as-needed"}, false},
	"-Bsymbolic-functions":  {zigConfig, []string{"-c", "a.c", "-Wl,-Bsymbolic-functions"}, []string{"-c", "a.c"}, false},
	"-Bdynamic":             {zigConfig, []string{"-c", "a.c", "-Wl,-Bdynamic", "-lz"}, []string{"-c", "a.c", "-lz"}, false},
	"-dynamic-linker PATH":  {zigConfig, []string{"-c", "a.c", "-Wl,-dynamic-linker,/lib/ld.so"}, []string{"-c", "a.c"}, false},
	"--dynamic-linker=PATH": {zigConfig, []string{"-c", "a.c", "-Wl,--dynamic-linker=/lib/ld.so"}, []string{"-c", "a.c"}, false},
	"-Map FILE":             {zigConfig, []string{"-c", "a.c", "-Wl,-Map,out.map", "-Xlinker", "-Map=x.map"}, []string{"-c", "a.c"}, false},
	"--icf=MODE":            {zigConfig, []string{"-c", "a.c", "-Wl,--icf=all"}, []string{"-c", "a.c"}, false},
	"--warn-common":         {zigConfig, []string{"-c", "a.c", "-Wl,--warn-common,--fatal-warnings"}, []string{"-c", "a.c"}, false},
	"--exclude-libs LIBS":   {zigConfig, []string{"-c", "a.c", "-Wl,--exclude-libs,ALL"}, []string{"-c", "a.c"}, false},
}

func TestEveryRuleHasACase(t *testing.T) {
	for _, rules := range [][]rule{compilerRules, linkerRules} {
		for _, r := range rules {
			if _, ok := ruleCases[r.flag]; !ok {
				t.Errorf("rule %q has no case in ruleCases", r.flag)
			}
		}
	}
}

func TestRuleCases(t *testing.T) {
	for name, tc := range ruleCases {
		t.Run(name, func(t *testing.T) {
			got, warnings, err := tc.config.Command(CC, tc.args)
			if err != nil {
				t.Fatal(err)
			}
			want := append(append([]string(nil), tc.config.CC...), tc.wantArgs...)
			if links(tc.args) {
				want = append(want, tc.config.linkFlags(tc.args)...)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("rewrite of %q (-want +got):\n%s", tc.args, diff)
			}
			if (len(warnings) > 0) != tc.warns {
				t.Errorf("warnings = %q, want some: %v", warnings, tc.warns)
			}
		})
	}
}

func TestRulesLimitedToTheirToolchain(t *testing.T) {
	// Inside a container the image's gcc accepts these and /usr/include is musl's own.
	args := []string{"-c", "-I/usr/include", "-Wl,-rpath-link,/usr/lib", "-lgcc", "a.c"}
	got, _, err := gccContainerConfig.Command(CC, args)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(append([]string{"cc"}, args...), got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestLinkFlags(t *testing.T) {
	tests := []struct {
		name   string
		config Config
		args   []string
		want   []string
	}{
		{"link adds static, stack size and the toolchain's flags", zigConfig,
			[]string{"a.o", "-o", "a"},
			[]string{"a.o", "-o", "a", "-static", "-fno-PIE", "-fno-lto", fmt.Sprintf("-Wl,-z,stack-size=%d", 8<<20), "-Wl,--build-id=sha1"}},
		{"the project's own stack size wins", zigConfig,
			[]string{"a.o", "-Wl,-z,stack-size=65536", "-o", "a"},
			[]string{"a.o", "-Wl,-z,stack-size=65536", "-o", "a", "-static", "-fno-PIE", "-fno-lto", "-Wl,--build-id=sha1"}},
		{"compile only adds nothing", zigConfig,
			[]string{"-c", "a.c", "-o", "a.o"},
			[]string{"-c", "a.c", "-o", "a.o"}},
		{"shared library is left alone", zigConfig,
			[]string{"-shared", "a.o", "-o", "liba.so"},
			[]string{"-shared", "a.o", "-o", "liba.so"}},
		{"link without -O gets the default optimisation", withLinkOpt(zigConfig),
			[]string{"a.o", "-o", "a"},
			[]string{"a.o", "-o", "a", "-static", "-fno-PIE", "-O2", "-fno-lto", fmt.Sprintf("-Wl,-z,stack-size=%d", 8<<20), "-Wl,--build-id=sha1"}},
		{"link with -O keeps its own", withLinkOpt(zigConfig),
			[]string{"-Os", "a.o", "-o", "a"},
			[]string{"-Os", "a.o", "-o", "a", "-static", "-fno-PIE", "-fno-lto", fmt.Sprintf("-Wl,-z,stack-size=%d", 8<<20), "-Wl,--build-id=sha1"}},
		{"pie compiles position-independent and links static-pie", withPIE(zigConfig),
			[]string{"a.c", "-pie", "-o", "a"},
			[]string{"-fPIE", "a.c", "-pie", "-o", "a", "-static", "-pie", "-fno-lto", fmt.Sprintf("-Wl,-z,stack-size=%d", 8<<20), "-Wl,--build-id=sha1"}},
		{"gcc links static-pie with its own flag", withPIE(gccContainerConfig),
			[]string{"a.c", "-o", "a"},
			[]string{"-fPIE", "a.c", "-o", "a", "-static-pie", fmt.Sprintf("-Wl,-z,stack-size=%d", 8<<20)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Chdir(t.TempDir()) // a shared-library link records its inputs beside the library
			got, _, err := tt.config.Command(CC, tt.args)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(append(append([]string(nil), tt.config.CC...), tt.want...), got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func withLinkOpt(c Config) Config {
	c.LinkOpt = "-O2"
	return c
}

func withPIE(c Config) Config {
	c.PIE = true
	return c
}

func TestQueriesPassThrough(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"-print-search-dirs"}, {"-dumpmachine"}, {"-v"}, {}} {
		got, _, err := zigConfig.Command(CXX, args)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(append(append([]string(nil), zigConfig.CXX...), args...), got); diff != "" {
			t.Errorf("%q (-want +got):\n%s", args, diff)
		}
	}
}

func TestCompileFlagsComeFirst(t *testing.T) {
	c := zigConfig
	c.CompileFlags = []string{"-ffile-prefix-map=/src=."}
	got, _, err := c.Command(CC, []string{"-c", "a.c"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"zig", "cc", "-target", "x86_64-linux-musl", "-ffile-prefix-map=/src=.", "-c", "a.c"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestNoCXX(t *testing.T) {
	c := Config{Dialect: GCC, CC: []string{"musl-gcc"}, NoCXX: "musl-gcc has no C++ compiler; use --toolchain zig"}
	_, _, err := c.Command(CXX, []string{"-c", "a.cc"})
	if err == nil || !strings.Contains(err.Error(), "--toolchain zig") {
		t.Errorf("err = %v, want the NoCXX message", err)
	}
	if _, _, err := c.Command(CC, []string{"-c", "a.c"}); err != nil {
		t.Errorf("cc: %v", err)
	}
}

func TestArchiver(t *testing.T) {
	tests := []struct {
		name       string
		args, want []string
	}{
		{"passes through", []string{"qc", "libx.a", "a.o"}, []string{"zig", "ar", "qc", "libx.a", "a.o"}},
		{"questions pass through", []string{"--version"}, []string{"zig", "ar", "--version"}},
		{"a lost operation comes back", []string{"liblua.a", "lapi.o", "lcode.o"}, []string{"zig", "ar", "rc", "liblua.a", "lapi.o", "lcode.o"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := zigConfig.Command(AR, tt.args)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestSaveLoad(t *testing.T) {
	path := t.TempDir() + "/wrap.json"
	if err := zigConfig.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(zigConfig, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestLinkerVersionAnswer(t *testing.T) {
	got, ok := zigConfig.Answer(CC, []string{"-Wl,--version"})
	if !ok || !strings.HasPrefix(got, "LLD ") {
		t.Errorf("Answer = %q, %v; want an LLD version line", got, ok)
	}
	if _, ok := gccContainerConfig.Answer(CC, []string{"-Wl,--version"}); ok {
		t.Error("gcc's own answer must not be replaced")
	}
	if _, ok := zigConfig.Answer(CC, []string{"-c", "a.c"}); ok {
		t.Error("a compile is not a question")
	}
}

func TestExecutableLinkRulesSpareSharedLibraries(t *testing.T) {
	// A shared library the project insists on building keeps its run path and its own libraries;
	// it cannot reach dist/ anyway.
	t.Chdir(t.TempDir())
	args := []string{"-shared", "a.o", "-o", "libfoo.so.1", "-Wl,-rpath,/build", "libbar.so.1"}
	got, _, err := zigConfig.Command(CC, args)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(append(append([]string(nil), zigConfig.CC...), args...), got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestSeveralSourcesCompileOneByOne(t *testing.T) {
	tests := []struct {
		name   string
		config Config
		args   []string
		want   []string
	}{
		{"zig compiles each source alone", zigConfig,
			[]string{"-O2", "-DX=a b", "-c", "a.c", "-include", "pre.c", "dir/b.cc", "-march=native"},
			[]string{"/bin/sh", "-c", "zig cc -target x86_64-linux-musl -O2 '-DX=a b' -c a.c -include pre.c && " +
				"zig cc -target x86_64-linux-musl -O2 '-DX=a b' -c -include pre.c dir/b.cc"}},
		{"one source is one command", zigConfig,
			[]string{"-c", "a.c"},
			[]string{"zig", "cc", "-target", "x86_64-linux-musl", "-c", "a.c"}},
		{"an output file means a single object", zigConfig,
			[]string{"-c", "a.c", "b.c", "-o", "ab.o"},
			[]string{"zig", "cc", "-target", "x86_64-linux-musl", "-c", "a.c", "b.c", "-o", "ab.o"}},
		{"gcc writes an object per source itself", gccContainerConfig,
			[]string{"-c", "a.c", "b.c"},
			[]string{"cc", "-c", "a.c", "b.c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := tt.config.Command(CC, tt.args)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestSharedLibraryInputsReachExecutables(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	_, _, err := zigConfig.Command(CC, []string{"-fPIC", "-D", "FOO", "-shared", "-Xlinker", "-soname", "-Xlinker", "libfoo.so.1",
		"-o", "libfoo.so.1.0", "a.o", "sub/b.o", "-L", "dep", "-lbar", "-L/usr/lib/x86_64-linux-gnu"})
	if err != nil {
		t.Fatal(err)
	}
	// What the link itself would have written.
	if err := os.WriteFile("libfoo.so.1.0", nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("libfoo.so.1.0", "libfoo.so"); err != nil {
		t.Fatal(err)
	}
	// A library linked straight from sources leaves no objects to link instead.
	if _, _, err := zigConfig.Command(CC, []string{"-shared", "-o", "libsrc.so", "a.c"}); err != nil {
		t.Fatal(err)
	}
	got, _, err := zigConfig.Command(CC, []string{"main.o", "-o", "main", "./libfoo.so", "libsrc.so"})
	if err != nil {
		t.Fatal(err)
	}
	inputs := []string{"main.o", "-o", "main", dir + "/a.o", dir + "/sub/b.o", "-L" + dir + "/dep", "-lbar", "libsrc.so"}
	want := append(append(append([]string(nil), zigConfig.CC...), inputs...), zigConfig.linkFlags(inputs)...)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestDiscardedOutputGoesToATemporaryFile(t *testing.T) {
	got, _, err := zigConfig.Command(CC, []string{"-Werror", "-x", "c", "-", "-o", "/dev/null"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/bin/sh", "-c", `d=$(mktemp -d) || exit; zig cc -target x86_64-linux-musl -Werror -x c - -o "$d/out" ` +
		fmt.Sprintf("-static -fno-PIE -fno-lto -Wl,-z,stack-size=%d -Wl,--build-id=sha1", 8<<20) + `; s=$?; rm -rf "$d"; exit $s`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// gcc writes nothing when told /dev/null.
	args := []string{"-c", "a.c", "-o", "/dev/null"}
	if got, _, _ := gccContainerConfig.Command(CC, args); !cmp.Equal(got, append([]string{"cc"}, args...)) {
		t.Errorf("gcc: got %q", got)
	}
}

func TestExecutableOutput(t *testing.T) {
	tests := []struct {
		args []string
		want string
		ok   bool
	}{
		{[]string{"a.o", "-o", "prog"}, "prog", true},
		{[]string{"a.o", "-obin/prog"}, "bin/prog", true},
		{[]string{"a.c"}, "a.out", true},
		{[]string{"-c", "a.c", "-o", "a.o"}, "", false},
		{[]string{"-shared", "a.o", "-o", "liba.so"}, "", false},
		{[]string{"a.c", "-o", "/dev/null"}, "/dev/null", false},
		{[]string{"--version"}, "", false},
	}
	for _, tt := range tests {
		got, ok := ExecutableOutput(tt.args)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ExecutableOutput(%q) = %q, %v; want %q, %v", tt.args, got, ok, tt.want, tt.ok)
		}
	}
}
