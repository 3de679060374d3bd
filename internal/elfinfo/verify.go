package elfinfo

import (
	"debug/elf"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/portabin/portabin/internal/target"
	"github.com/portabin/portabin/internal/uerr"
)

// VerifyStatic returns nil if info is a fully static program for want, else a *uerr.Error whose
// message names the cause.
func VerifyStatic(info *Info, want target.Target) error {
	name := filepath.Base(info.Path)
	if info.Machine != want.Machine || info.Class != want.Class {
		e := uerr.Failed("", "%s is for %s, not %s", name, archName(info.Machine, info.Class), want.Name)
		e.Hint = "the build used a compiler other than portabin's (look for a hard-coded CC, or a host-only build step)"
		return e
	}
	switch {
	case info.Linking == "":
		e := uerr.Failed("", "%s is not a program (%s)", name, info.Type)
		e.Hint = "name the executable the project builds, not an object file"
		return e
	case info.Linking == Dynamic && info.Interp == "" && len(info.Needed) == 0:
		e := uerr.Failed("", "dist would get a shared library: %s is not a program", name)
		e.Hint = "name the executable the project builds, not a library"
		return e
	case info.Linking == Dynamic:
		e := uerr.Failed("", "dist would get a dynamic executable: %s needs %s", name, needs(info))
		e.Hint = "the project forces dynamic linking (look for -shared, -Wl,-Bdynamic, -rdynamic or -ldl in its build files)"
		if strings.Contains(info.Interp, "ld-linux") {
			// glibc's loader: portabin's compilers never produce that, the host's did.
			e.Hint = "it was linked by the host's compiler, not portabin's: look for a hard-coded gcc or cc instead of $(CC) in the build files"
		}
		return e
	}
	return nil
}

func needs(info *Info) string {
	libs := strings.Join(info.Needed, ", ")
	switch {
	case info.Interp == "":
		return libs
	case libs == "":
		return info.Interp
	}
	return fmt.Sprintf("%s (%s)", info.Interp, libs)
}

// archName prefers portabin's architecture names so the message reads like the target names.
func archName(m elf.Machine, c elf.Class) string {
	bits := map[elf.Class]string{elf.ELFCLASS32: "32-bit", elf.ELFCLASS64: "64-bit"}[c]
	if t, ok := target.ForMachine(m); ok {
		if t.Class != c {
			return bits + " " + t.Arch
		}
		return t.Arch
	}
	return strings.ToLower(strings.TrimPrefix(m.String(), "EM_"))
}
