package check

import (
	"debug/elf"
	"fmt"
	"strings"

	"github.com/portabin/portabin/internal/sbom"
)

// packageNote reads what the file says it is made of: the ELF package note that portabin build
// (and rpm and dpkg builds that follow systemd's specification) links in. nil when there is none.
func packageNote(f *elf.File) *sbom.Package {
	p, err := sbom.ReadNote(f)
	if err != nil {
		return nil
	}
	return p
}

// Inside is one line about a package note: the project, and each component with its
// version and licence.
func Inside(p *sbom.Package) string {
	head := strings.TrimSpace(p.Name + " " + p.Version)
	if p.Type != "" {
		head += " (" + p.Type + ")"
	}
	var parts []string
	for _, c := range p.Components {
		part := strings.TrimSpace(c.Name + " " + c.Version)
		if c.License != "" {
			part += " [" + c.License + "]"
		}
		parts = append(parts, part)
	}
	if len(parts) == 0 {
		return head
	}
	return fmt.Sprintf("%s: %s", head, strings.Join(parts, ", "))
}
