package distro

import (
	"bufio"
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/portabin/portabin/internal/ctest"
)

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in   string
		want Version
		bad  bool
	}{
		{in: "2.17", want: Version{2, 17, 0}},
		{in: "2.2.5", want: Version{2, 2, 5}},
		{in: "3.4", want: Version{3, 4, 0}},
		{in: "2", want: Version{2, 0, 0}},
		{in: "", bad: true},
		{in: "PRIVATE", bad: true},
		{in: "1.2.3.4", bad: true},
		{in: "2.-1", bad: true},
		{in: "2.99999999999999999999", bad: true},
	}
	for _, tt := range tests {
		got, err := ParseVersion(tt.in)
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v (error %v)", tt.in, got, err, tt.want, tt.bad)
		}
	}
	if MustParse("2.2.5").Compare(MustParse("2.17")) >= 0 || MustParse("2.36").String() != "2.36" || MustParse("2.2.5").String() != "2.2.5" {
		t.Error("Compare or String is wrong")
	}
}

// TestTable pins the glibc versions portabin's documentation relies on and checks the table's shape.
func TestTable(t *testing.T) {
	want := map[string]string{
		"CentOS 5 / RHEL 5": "2.5", "CentOS 6 / RHEL 6": "2.12", "CentOS 7 / RHEL 7": "2.17",
		"RHEL 8 (Rocky, Alma 8)": "2.28", "RHEL 9 (Rocky, Alma 9)": "2.34", "RHEL 10 (Rocky, Alma 10)": "2.39",
		"Debian 8 jessie": "2.19", "Debian 9 stretch": "2.24", "Debian 10 buster": "2.28",
		"Debian 11 bullseye": "2.31", "Debian 12 bookworm": "2.36", "Debian 13 trixie": "2.41",
		"Ubuntu 14.04 LTS trusty": "2.19", "Ubuntu 16.04 LTS xenial": "2.23", "Ubuntu 18.04 LTS bionic": "2.27",
		"Ubuntu 20.04 LTS focal": "2.31", "Ubuntu 22.04 LTS jammy": "2.35", "Ubuntu 24.04 LTS noble": "2.39",
	}
	got := map[string]string{}
	for i, d := range All() {
		if want[d.Name] != "" {
			got[d.Name] = d.LibcVersion.String()
		}
		if !strings.HasPrefix(d.Source, "https://") || d.Family == "" || d.Release == "" || (d.Libc != "glibc" && d.Libc != "musl") {
			t.Errorf("row %d is incomplete: %+v", i, d)
		}
		if prev := All()[max(i-1, 0)]; i > 0 && prev.Family == d.Family && prev.LibcVersion.Compare(d.LibcVersion) > 0 {
			t.Errorf("%s comes after %s but has an older C library", d.Name, prev.Name)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("glibc versions (-want +got):\n%s", diff)
	}
}

// TestTableMatchesHost checks the table against the machine the tests run on, where it is listed.
func TestTableMatchesHost(t *testing.T) {
	release, err := os.ReadFile("/etc/os-release")
	if err != nil {
		t.Skip(err)
	}
	fields := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(release))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			fields[k] = strings.Trim(v, `"`)
		}
	}
	family := map[string]string{"debian": "Debian", "ubuntu": "Ubuntu", "rhel": "RHEL", "centos": "RHEL",
		"rocky": "RHEL", "almalinux": "RHEL", "amzn": "Amazon Linux"}[fields["ID"]]
	version := fields["VERSION_ID"]
	if family == "RHEL" {
		version, _, _ = strings.Cut(version, ".")
	}
	i := slices.IndexFunc(All(), func(d Distro) bool { return d.Family == family && d.Release == version })
	if i < 0 {
		t.Skipf("%s %s is not in the table", fields["ID"], fields["VERSION_ID"])
	}
	out, err := exec.Command("getconf", "GNU_LIBC_VERSION").Output()
	if err != nil {
		t.Skip(err)
	}
	if got, want := strings.TrimSpace(string(out)), "glibc "+All()[i].LibcVersion.String(); got != want {
		t.Errorf("this %s has %s, the table says %s", All()[i].Name, got, want)
	}
}

func TestOldestWith(t *testing.T) {
	tests := []struct {
		glibc string
		want  []string
	}{
		{"2.36", []string{"RHEL 10 (Rocky, Alma 10)", "Debian 12 bookworm", "Ubuntu 24.04 LTS noble"}},
		{"2.35", []string{"RHEL 10 (Rocky, Alma 10)", "Debian 12 bookworm", "Ubuntu 22.04 LTS jammy"}},
		{"2.34", []string{"RHEL 9 (Rocky, Alma 9)", "Debian 12 bookworm", "Ubuntu 22.04 LTS jammy", "Amazon Linux 2023"}},
		{"2.17", []string{"CentOS 7 / RHEL 7", "Debian 8 jessie", "Ubuntu 14.04 LTS trusty", "Amazon Linux 2"}},
		{"2.2.5", []string{"CentOS 5 / RHEL 5", "Debian 8 jessie", "Ubuntu 14.04 LTS trusty", "Amazon Linux 2"}},
		{"2.99", nil},
	}
	for _, tt := range tests {
		var got []string
		for _, d := range OldestWith(MustParse(tt.glibc)) {
			got = append(got, d.Name)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("OldestWith(%s) (-want +got):\n%s", tt.glibc, diff)
		}
	}
}

func TestGCCFor(t *testing.T) {
	tests := []struct {
		label, version, gcc string
		ok                  bool
	}{
		{"GLIBCXX", "3.4.30", "12.1", true},
		{"GLIBCXX", "3.4.21", "5.1", true},
		{"GLIBCXX", "3.4", "3.4", true},
		{"CXXABI", "1.3.13", "11.1", true},
		{"GLIBCXX", "3.4.99", "0.0", false},
	}
	for _, tt := range tests {
		got, ok := GCCFor(tt.label, MustParse(tt.version))
		if got.String() != tt.gcc || ok != tt.ok {
			t.Errorf("GCCFor(%s, %s) = %v, %v; want %s, %v", tt.label, tt.version, got, ok, tt.gcc, tt.ok)
		}
	}
}

// TestGCCTableMatchesHost checks the libstdc++ table against the host's g++ and libstdc++.so.
func TestGCCTableMatchesHost(t *testing.T) {
	gxx, err := exec.LookPath("g++")
	if err != nil {
		t.Skip("g++ not found")
	}
	out, err := exec.Command(gxx, "-print-file-name=libstdc++.so.6").Output()
	if err != nil || !filepath.IsAbs(strings.TrimSpace(string(out))) {
		t.Skipf("no libstdc++.so.6 (%v)", err)
	}
	f, err := elf.Open(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	defs, err := f.DynamicVersions()
	if err != nil {
		t.Fatal(err)
	}
	var newest Version
	for _, d := range defs {
		if v, ok := strings.CutPrefix(d.Name, "GLIBCXX_"); ok {
			if pv, err := ParseVersion(v); err == nil {
				newest = newer(newest, pv)
			}
		}
	}
	gcc, ok := GCCFor("GLIBCXX", newest)
	dump, err := exec.Command(gxx, "-dumpversion").Output()
	if err != nil {
		t.Fatal(err)
	}
	major, _, _ := strings.Cut(strings.TrimSpace(string(dump)), ".")
	if !ok || gcc.String() == "" || !strings.HasPrefix(gcc.String(), major+".") {
		t.Errorf("libstdc++ has GLIBCXX_%s, which the table gives to GCC %v (%v); g++ is %s", newest, gcc, ok, major)
	}
}

const helloC = "#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }\n"

// arc4randomC needs GLIBC_2.36, where arc4random appeared.
const arc4randomC = "#include <stdio.h>\n#include <stdlib.h>\nint main(void) { printf(\"%u\\n\", arc4random()); return 0; }\n"

const helloCC = "#include <iostream>\n#include <string>\nint main() { std::string s = \"hi\"; std::cout << s << std::endl; }\n"

func TestFloorPrograms(t *testing.T) {
	gxx := func(t testing.TB) ctest.Compiler {
		c := ctest.GCC(t)
		p, err := exec.LookPath("g++")
		if err != nil {
			t.Skip("g++ not found")
		}
		c.Name, c.Args = "g++", []string{p, "-x", "c++"}
		return c
	}
	tests := []struct {
		name    string
		cc      func(testing.TB) ctest.Compiler
		src     string
		flags   []string
		static  bool
		libc    string
		glibc   string
		symbol  string   // among GLIBCSymbols
		oldest  []string // OldestWith(GLIBC)
		cxx     bool     // needs GLIBCXX
		noGLIBC bool
	}{
		{
			name: "gcc arc4random", cc: ctest.GCC, src: arc4randomC,
			libc: "glibc", glibc: "2.36", symbol: "arc4random",
			oldest: []string{"RHEL 10 (Rocky, Alma 10)", "Debian 12 bookworm", "Ubuntu 24.04 LTS noble"},
		},
		{
			name: "gcc hello needs 2.34 for __libc_start_main", cc: ctest.GCC, src: helloC,
			libc: "glibc", glibc: "2.34", symbol: "__libc_start_main",
		},
		{
			name: "zig against glibc 2.17", cc: func(t testing.TB) ctest.Compiler { return ctest.Zig(t, "x86_64-linux-gnu.2.17") },
			src: helloC, flags: []string{"-O2"},
			libc: "glibc", glibc: "2.2.5",
			oldest: []string{"CentOS 5 / RHEL 5", "Debian 8 jessie", "Ubuntu 14.04 LTS trusty", "Amazon Linux 2"},
		},
		{name: "gcc static", cc: ctest.GCC, src: helloC, flags: []string{"-static"}, static: true, noGLIBC: true},
		{name: "musl-gcc dynamic", cc: ctest.MuslGCC, src: helloC, libc: "musl", noGLIBC: true},
		{name: "g++", cc: gxx, src: helloCC, libc: "glibc", glibc: "2.34", cxx: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := ctest.Build(t, tt.cc(t), tt.src, tt.flags...)
			f, err := elf.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			n, err := Floor(f)
			if err != nil {
				t.Fatal(err)
			}
			if n.Static != tt.static || n.Libc != tt.libc {
				t.Errorf("static %v, libc %q; want %v, %q", n.Static, n.Libc, tt.static, tt.libc)
			}
			if tt.noGLIBC != n.GLIBC.IsZero() || !tt.noGLIBC && n.GLIBC.String() != tt.glibc {
				t.Errorf("GLIBC %v, want %q", n.GLIBC, tt.glibc)
			}
			if tt.symbol != "" && !slices.Contains(n.GLIBCSymbols, tt.symbol) {
				t.Errorf("GLIBCSymbols %v lack %s", n.GLIBCSymbols, tt.symbol)
			}
			if tt.oldest != nil {
				var got []string
				for _, d := range OldestWith(n.GLIBC) {
					got = append(got, d.Name)
				}
				if diff := cmp.Diff(tt.oldest, got); diff != "" {
					t.Errorf("OldestWith(%v) (-want +got):\n%s", n.GLIBC, diff)
				}
			}
			if gcc, ok := n.MinGCC(); tt.cxx != !n.GLIBCXX.IsZero() || tt.cxx && (!ok || gcc.IsZero()) {
				t.Errorf("GLIBCXX %v, CXXABI %v, MinGCC %v %v; want C++ %v", n.GLIBCXX, n.CXXABI, gcc, ok, tt.cxx)
			}
		})
	}
}

// TestHostileInput feeds truncated and corrupted programs to Floor: it must return, without a
// panic escaping, for every file that debug/elf accepts.
func TestHostileInput(t *testing.T) {
	data, err := os.ReadFile(ctest.Build(t, ctest.GCC(t), arc4randomC))
	if err != nil {
		t.Fatal(err)
	}
	for i, variant := range ctest.Mangle(data) {
		f, err := elf.NewFile(bytes.NewReader(variant))
		if err != nil {
			continue
		}
		if _, err := Floor(f); err != nil && strings.Contains(err.Error(), "malformed") {
			t.Errorf("variant %d: %v", i, err)
		}
	}
}

func FuzzFloor(f *testing.F) {
	if data, err := os.ReadFile("/bin/true"); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if file, err := elf.NewFile(bytes.NewReader(data)); err == nil {
			if _, err := Floor(file); err != nil && strings.Contains(err.Error(), "malformed") {
				t.Fatal(err)
			}
		}
	})
}
