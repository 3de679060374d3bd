package image

import "testing"

func TestSplitLabel(t *testing.T) {
	for _, tc := range []struct{ spec, name, ref string }{
		{"centos7=tar:/srv/centos7.tar", "centos7", "tar:/srv/centos7.tar"},
		{"debian-12.1_x=debian:bookworm", "debian-12.1_x", "debian:bookworm"},
		{"scratch", "", "scratch"},
		{"tar:/srv/a=b.tar", "", "tar:/srv/a=b.tar"},
		{"dir:/x=y", "", "dir:/x=y"},
		{"=scratch", "", "=scratch"},
		{"name=", "", "name="},
		{"localhost:5000/a=b", "", "localhost:5000/a=b"},
		{"my root=scratch", "", "my root=scratch"},
	} {
		name, ref := SplitLabel(tc.spec)
		if name != tc.name || ref != tc.ref {
			t.Errorf("SplitLabel(%q) = %q, %q; want %q, %q", tc.spec, name, ref, tc.name, tc.ref)
		}
	}
}
