package kernels

import (
	"strings"
	"testing"

	"github.com/portabin/portabin/internal/syscalls"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in, name, version, label string
	}{
		{"rhel6", "rhel6", "2.6.32", "rhel6 (2.6.32)"},
		{"CentOS7", "centos7", "3.10", "centos7 (3.10)"},
		{"rhel5", "rhel5", "2.6.18", "rhel5 (2.6.18)"},
		{"ubuntu14.04", "ubuntu14.04", "3.13", "ubuntu14.04 (3.13)"},
		{"bookworm", "bookworm", "6.1", "bookworm (6.1)"},
		{"4.18", "4.18", "4.18", "4.18"},
		{"2.6.32", "2.6.32", "2.6.32", "2.6.32"},
		{"3.10.0", "3.10", "3.10", "3.10"},
	} {
		k, err := Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if k.Name != tc.name || k.Version.String() != tc.version || k.Label() != tc.label || k.Host {
			t.Errorf("Parse(%q) = %+v (label %q), want name %q version %s label %q", tc.in, k, k.Label(), tc.name, tc.version, tc.label)
		}
	}
}

func TestParseBad(t *testing.T) {
	for _, in := range []string{"", "rhel", "centos4", "3", "3.x", "-1.0"} {
		if _, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) succeeded", in)
		}
	}
	_, err := Parse("rhel")
	if !strings.Contains(err.Error(), "rhel6") {
		t.Errorf("the error should list the names: %v", err)
	}
}

func TestHost(t *testing.T) {
	k, err := Parse("host")
	if err != nil {
		t.Fatal(err)
	}
	if !k.Host || k.Version.Less(syscalls.Version{Major: 2, Minor: 6}) {
		t.Errorf("host kernel = %+v", k)
	}
}

func TestReleaseVersion(t *testing.T) {
	for in, want := range map[string]string{
		"6.1.0-18-amd64":           "6.1",
		"3.10.0-1160.el7.x86_64":   "3.10",
		"2.6.32-754.35.1.el6.i686": "2.6.32",
		"6.18.44-fc-v657":          "6.18.44",
		"5.15.0":                   "5.15",
		"4.4.0.1.2":                "4.4",
	} {
		v, err := releaseVersion(in)
		if err != nil || v.String() != want {
			t.Errorf("releaseVersion(%q) = %v, %v; want %s", in, v, err, want)
		}
	}
	if _, err := releaseVersion("linux"); err == nil {
		t.Error("releaseVersion(linux) succeeded")
	}
}

// Every row of the table has a source and a unique set of names.
func TestTable(t *testing.T) {
	seen := map[string]bool{}
	for _, e := range table {
		if !strings.HasPrefix(e.source, "https://") {
			t.Errorf("%v: no source", e.names)
		}
		for _, n := range e.names {
			if seen[n] {
				t.Errorf("name %q appears twice", n)
			}
			seen[n] = true
		}
	}
}
