// Package deps builds a project's third-party C libraries from source, by recipes, into a static
// per-target sysroot that the project's own build finds.
package deps

import (
	"embed"
	"fmt"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"github.com/portabin/portabin/internal/uerr"
)

//go:embed recipes/*.toml
var recipeFiles embed.FS

// Recipe says how to build one library: where its source comes from and which commands turn it
// into static archives, headers and pkg-config files.
type Recipe struct {
	Name     string `toml:"name"`
	Summary  string `toml:"summary"`
	License  string `toml:"license"` // an SPDX identifier
	Homepage string `toml:"homepage"`
	// Libs are the archives' -l names, each before those it needs.
	Libs []string `toml:"libs"`
	// Deps are the recipes this one links against.
	Deps []string `toml:"deps"`
	// Build is autotools, cmake or steps.
	Build string `toml:"build"`
	// Args go to configure or cmake.
	Args []string `toml:"args"`
	// Make and Install replace the default build and install commands of autotools and cmake;
	// Steps are all the commands of a steps build.
	Make    [][]string `toml:"make"`
	Install [][]string `toml:"install"`
	Steps   [][]string `toml:"steps"`
	// InSource runs the commands in the unpacked source instead of a build folder beside it,
	// for Makefiles that build only there.
	InSource bool `toml:"in_source"`
	// Files are written into the installed tree (path → content), for what a release lacks,
	// such as a pkg-config file.
	Files map[string]string `toml:"files"`
	// Arch holds template variables per target architecture (OpenSSL's target names).
	Arch     map[string]map[string]string `toml:"arch"`
	Versions []Version                    `toml:"versions"`

	// text is the recipe file, part of every cache key: a changed recipe rebuilds.
	text string
}

// Version is one release of a library.
type Version struct {
	Version string   `toml:"version"`
	Sources []Source `toml:"sources"`
}

// Source is a tarball of the release. The first is upstream's; later ones are copies of the same
// release elsewhere (Debian's, sometimes repacked), each accepted only with its own sha256.
type Source struct {
	URL    string `toml:"url"`
	SHA256 string `toml:"sha256"`
	Note   string `toml:"note"`
}

// FileName is the name the source is downloaded as.
func (s Source) FileName() string { return path.Base(s.URL) }

// Package is a recipe at one version: what a sysroot holds and an SBOM lists.
type Package struct {
	*Recipe
	Version Version
}

// ID is name-version, e.g. zlib-1.2.13.
func (p Package) ID() string { return p.Name + "-" + p.Version.Version }

// Recipes returns every recipe portabin has, by name.
func Recipes() (map[string]*Recipe, error) {
	entries, err := recipeFiles.ReadDir("recipes")
	if err != nil {
		return nil, err
	}
	all := map[string]*Recipe{}
	for _, e := range entries {
		data, err := recipeFiles.ReadFile("recipes/" + e.Name())
		if err != nil {
			return nil, err
		}
		r, err := parseRecipe(data)
		if err != nil {
			return nil, fmt.Errorf("recipe %s: %w", e.Name(), err)
		}
		if r.Name+".toml" != e.Name() {
			return nil, fmt.Errorf("recipe %s is named %q", e.Name(), r.Name)
		}
		all[r.Name] = r
	}
	return all, nil
}

func parseRecipe(data []byte) (*Recipe, error) {
	var r Recipe
	dec := toml.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, err
	}
	r.text = string(data)
	switch {
	case r.Name == "" || r.License == "" || len(r.Libs) == 0 || len(r.Versions) == 0:
		return nil, fmt.Errorf("name, license, libs and versions are required")
	case r.Build != "autotools" && r.Build != "cmake" && r.Build != "steps":
		return nil, fmt.Errorf("build is %q, not autotools, cmake or steps", r.Build)
	case r.Build == "steps" && len(r.Steps) == 0:
		return nil, fmt.Errorf("a steps build needs steps")
	}
	for _, v := range r.Versions {
		if len(v.Sources) == 0 {
			return nil, fmt.Errorf("version %s has no source", v.Version)
		}
		for _, s := range v.Sources {
			if len(s.SHA256) != 64 || s.URL == "" {
				return nil, fmt.Errorf("version %s: every source needs a url and a sha256", v.Version)
			}
		}
	}
	r.Versions = sortedVersions(r.Versions)
	return &r, nil
}

// sortedVersions puts the newest first, so that a version prefix picks the newest release it names.
func sortedVersions(vs []Version) []Version {
	sort.Slice(vs, func(i, j int) bool { return versionLess(vs[j].Version, vs[i].Version) })
	return vs
}

// Pick returns the release that want names: an exact version, a prefix of one at a dot
// ("1.2" → 1.2.13), or "*" and "" for the newest.
func (r *Recipe) Pick(want string) (Version, bool) {
	for _, v := range r.Versions {
		if want == "" || want == "*" || v.Version == want || strings.HasPrefix(v.Version, want+".") {
			return v, true
		}
	}
	return Version{}, false
}

func (r *Recipe) versionList() string {
	var vs []string
	for _, v := range r.Versions {
		vs = append(vs, v.Version)
	}
	return strings.Join(vs, ", ")
}

// Resolve turns a project's declared dependencies (name → version) into the packages to build,
// each after the packages it needs. Recipes that others need are added at their newest version
// unless declared.
func Resolve(want map[string]string) ([]Package, error) {
	all, err := Recipes()
	if err != nil {
		return nil, err
	}
	return resolve(all, want)
}

func resolve(all map[string]*Recipe, want map[string]string) ([]Package, error) {
	names := make([]string, 0, len(want))
	for name := range want {
		names = append(names, name)
	}
	sort.Strings(names)
	var (
		order []Package
		state = map[string]int{} // 1: being visited, 2: done
		visit func(name string, chain []string) error
	)
	visit = func(name string, chain []string) error {
		r, ok := all[name]
		if !ok {
			known := make([]string, 0, len(all))
			for n := range all {
				known = append(known, n)
			}
			sort.Strings(known)
			if len(chain) > 0 {
				return fmt.Errorf("recipe %s needs %s, which has no recipe", chain[len(chain)-1], name)
			}
			return uerr.Usage("libraries with recipes: "+strings.Join(known, ", "), "unknown library %q", name)
		}
		switch state[name] {
		case 2:
			return nil
		case 1:
			return uerr.Usage("", "dependency cycle: %s", strings.Join(append(chain, name), " → "))
		}
		state[name] = 1
		for _, d := range r.Deps {
			if err := visit(d, append(chain, name)); err != nil {
				return err
			}
		}
		v, ok := r.Pick(want[name])
		if !ok {
			return uerr.Usage(fmt.Sprintf("%s versions: %s", name, r.versionList()), "no version %q of %s", want[name], name)
		}
		state[name] = 2
		order = append(order, Package{Recipe: r, Version: v})
		return nil
	}
	for _, name := range names {
		if err := visit(name, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// linkOrder lists the -l names of pkgs so that each library comes before those it needs.
func linkOrder(pkgs []Package) []string {
	var libs []string
	for _, p := range slices.Backward(pkgs) {
		libs = append(libs, p.Libs...)
	}
	return libs
}

// versionLess compares dotted versions numerically where both parts are numbers.
func versionLess(a, b string) bool {
	as, bs := strings.FieldsFunc(a, isSep), strings.FieldsFunc(b, isSep)
	for i := 0; i < len(as) && i < len(bs); i++ {
		ai, aerr := strconv.Atoi(as[i])
		bi, berr := strconv.Atoi(bs[i])
		if aerr == nil && berr == nil {
			if ai != bi {
				return ai < bi
			}
			continue
		}
		if as[i] != bs[i] {
			return as[i] < bs[i]
		}
	}
	return len(as) < len(bs)
}

func isSep(r rune) bool { return r == '.' || r == '-' }
