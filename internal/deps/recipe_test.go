package deps

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portabin/portabin/internal/uerr"
)

func TestRecipesLoad(t *testing.T) {
	all, err := Recipes()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"zlib", "bzip2", "xz", "zstd", "libpng", "sqlite3", "openssl", "curl", "libevent", "ncurses", "pcre2"} {
		r, ok := all[name]
		if !ok {
			t.Errorf("no recipe for %s", name)
			continue
		}
		for _, d := range r.Deps {
			if all[d] == nil {
				t.Errorf("%s needs %s, which has no recipe", name, d)
			}
		}
	}
}

func TestResolve(t *testing.T) {
	pkgs, err := Resolve(map[string]string{"curl": "7.88", "zlib": "1.2.13"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range pkgs {
		got = append(got, p.ID())
	}
	// Dependencies first; openssl was not declared and comes at its newest version.
	want := []string{"openssl-3.0.20", "zlib-1.2.13", "curl-7.88.1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"curl", "z", "ssl", "crypto"}, linkOrder(pkgs)); diff != "" {
		t.Errorf("link order (-want +got):\n%s", diff)
	}
}

func TestResolveBadInput(t *testing.T) {
	cycle := map[string]*Recipe{
		"a": {Name: "a", Deps: []string{"b"}, Versions: []Version{{Version: "1"}}},
		"b": {Name: "b", Deps: []string{"a"}, Versions: []Version{{Version: "1"}}},
	}
	for _, tc := range []struct {
		name    string
		recipes map[string]*Recipe
		want    map[string]string
		msg     string
	}{
		{"unknown library", nil, map[string]string{"libfoo": "1"}, `unknown library "libfoo"`},
		{"unknown version", nil, map[string]string{"zlib": "9.9"}, `no version "9.9" of zlib`},
		{"version prefix at a dot only", nil, map[string]string{"zlib": "1.2.1"}, `no version "1.2.1" of zlib`},
		{"cycle", cycle, map[string]string{"a": "1"}, "dependency cycle: a → b → a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recipes := tc.recipes
			if recipes == nil {
				var err error
				if recipes, err = Recipes(); err != nil {
					t.Fatal(err)
				}
			}
			_, err := resolve(recipes, tc.want)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want %q", err, tc.msg)
			}
			if uerr.Code(err) != uerr.ExitUsage {
				t.Errorf("exit code %d, want %d", uerr.Code(err), uerr.ExitUsage)
			}
		})
	}
}

func TestVersionPick(t *testing.T) {
	r := &Recipe{Versions: []Version{{Version: "1.2.9"}, {Version: "1.2.13"}, {Version: "1.3"}}}
	r.Versions = sortedVersions(r.Versions)
	for want, got := range map[string]string{"": "1.3", "*": "1.3", "1.2": "1.2.13", "1.2.9": "1.2.9", "1": "1.3"} {
		v, ok := r.Pick(want)
		if !ok || v.Version != got {
			t.Errorf("Pick(%q) = %q, want %q", want, v.Version, got)
		}
	}
}
