package check

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// rustCases are the Rust counterparts of libcCases: standard library calls that make system
// calls newer than 2.6. Each is an expression of type std::io::Result<()>.
var rustCases = []libcCase{
	{"startup", "", "Ok(())"},
	{"hash", "", "{ let mut m = std::collections::HashMap::new(); m.insert(1, 2); Ok(()) }"},
	{"stat", "", `std::fs::metadata(".").map(|_| ())`},
	{"copy", "", `std::fs::copy("/proc/self/exe", "copied").map(|_| ())`},
	{"iocopy", "", `{ let mut i = std::fs::File::open("/proc/self/exe")?; let mut o = std::fs::File::create("out")?; std::io::copy(&mut std::io::Read::take(&mut i, 1 << 16), &mut o).map(|_| ()) }`},
	{"spawn", "", `std::process::Command::new("/proc/self/exe").arg("startup").status().map(|_| ())`},
	{"output", "", `std::process::Command::new("/proc/self/exe").arg("startup").output().map(|_| ())`},
	{"thread", "", "{ std::thread::spawn(|| 1).join().unwrap(); Ok(()) }"},
	{"readdir", "", `std::fs::read_dir("/proc/self").map(|d| { d.count(); })`},
	{"pipe", "", `{ let l = std::net::TcpListener::bind("127.0.0.1:0")?; let a = l.local_addr()?; std::thread::spawn(move || std::net::TcpStream::connect(a)); l.accept().map(|_| ()) }`},
	{"sleep", "", "{ std::thread::sleep(std::time::Duration::from_millis(1)); Ok(()) }"},
}

// rustc finds the Rust compiler: on PATH, else where rustup puts it.
func rustc() (string, bool) {
	candidates := []string{"rustc", filepath.Join(os.Getenv("HOME"), ".cargo", "bin", "rustc")}
	if home := os.Getenv("CARGO_HOME"); home != "" {
		candidates = append(candidates, filepath.Join(home, "bin", "rustc"))
	}
	for _, c := range candidates {
		if path, err := exec.LookPath(c); err == nil && exec.Command(path, "--version").Run() == nil {
			return path, true
		}
	}
	return "", false
}

// buildRustCases builds the Rust cases into one program with the machine's Rust toolchain (a
// dynamic glibc program, with Rust's standard library linked in); ok is false, with a log
// line, when there is no working rustc.
func buildRustCases(t *testing.T) (libcProgram, bool) {
	t.Helper()
	compiler, ok := rustc()
	if !ok {
		t.Log("no working rustc: Rust's standard library is not traced")
		return libcProgram{}, false
	}
	var src strings.Builder
	src.WriteString("fn run(case: &str) -> std::io::Result<()> {\n\tmatch case {\n")
	for _, c := range rustCases {
		fmt.Fprintf(&src, "\t\t%q => %s,\n", c.name, c.code)
	}
	src.WriteString("\t\t_ => std::process::exit(2),\n\t}\n}\n\n")
	src.WriteString("fn main() {\n\tlet args: Vec<String> = std::env::args().collect();\n\tif args.len() != 2 {\n\t\tstd::process::exit(2);\n\t}\n")
	src.WriteString("\tif let Err(e) = run(&args[1]) {\n\t\teprintln!(\"{e}\");\n\t\tstd::process::exit(1);\n\t}\n}\n")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.rs"), []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "rustcases")
	cmd := exec.Command(compiler, "-O", "-o", exe, "main.rs")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rustc: %v\n%s\n%s", err, out, src.String())
	}
	version, _ := exec.Command(compiler, "--version").Output()
	p := scanProgram(t, strings.TrimSpace(string(version)), exe, rustCases)
	p.family = "rust"
	// The fallback list names std's functions by rustKey.
	for call, fns := range p.sites {
		keyed := map[string]bool{}
		for fn := range fns {
			if k := rustKey(fn); k != "" {
				keyed[k] = true
			} else {
				keyed[fn] = true
			}
		}
		p.sites[call] = keyed
	}
	return p, true
}

// A Rust program gets, like a Go one, the kernel of the calls its standard library cannot do
// without: the Rust cases must report no call newer than their minimum that counts, and every
// case must still succeed when every newer call it holds fails at once.
func TestRustProgram(t *testing.T) {
	if _, err := exec.LookPath("strace"); err != nil {
		t.Skip("strace is not installed (scripts/install-deps.sh installs it)")
	}
	p, ok := buildRustCases(t)
	if !ok {
		t.Skip("no working rustc")
	}
	rep, err := File(p.path, Requirements{})
	if err != nil {
		t.Fatal(err)
	}
	minimum := mustVersion(rep.Kernel.Minimum)
	var newer []string
	for _, s := range rep.Kernel.Syscalls {
		if s.Since == "" || !minimum.Less(mustVersion(s.Since)) {
			continue
		}
		newer = append(newer, s.Name)
		if !s.Fallback {
			t.Errorf("%s (%s) counts, above the minimum %s?", s.Name, s.Since, rep.Kernel.Minimum)
		}
	}
	if len(newer) == 0 || rep.Kernel.DecidedBy != "ABI tag" {
		t.Fatalf("kernel %s (%s), newer calls %v: the test proves nothing", rep.Kernel.Minimum, rep.Kernel.DecidedBy, newer)
	}
	for _, c := range rustCases {
		if _, ok := strace(t, p, c.name, strings.Join(newer, ",")); !ok {
			t.Errorf("case %s fails when %v fail with ENOSYS", c.name, newer)
		}
	}
	t.Logf("%s: Linux %s; every case ran with ENOSYS for %v", p.libc, rep.Kernel.Minimum, newer)
}
