package sbom

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// CycloneDX 1.5 JSON (https://cyclonedx.org/docs/1.5/json/), the parts portabin fills.
type cdxBOM struct {
	BOMFormat    string          `json:"bomFormat"`
	SpecVersion  string          `json:"specVersion"`
	SerialNumber string          `json:"serialNumber"`
	Version      int             `json:"version"`
	Metadata     cdxMetadata     `json:"metadata"`
	Components   []cdxComponent  `json:"components"`
	Dependencies []cdxDependency `json:"dependencies"`
}

type cdxMetadata struct {
	Tools     cdxTools     `json:"tools"`
	Component cdxComponent `json:"component"`
}

type cdxTools struct {
	Components []cdxComponent `json:"components"`
}

type cdxComponent struct {
	Type               string        `json:"type"`
	BOMRef             string        `json:"bom-ref,omitempty"`
	Name               string        `json:"name"`
	Version            string        `json:"version,omitempty"`
	Hashes             []cdxHash     `json:"hashes,omitempty"`
	Licenses           []cdxLicense  `json:"licenses,omitempty"`
	PURL               string        `json:"purl,omitempty"`
	ExternalReferences []cdxExtRef   `json:"externalReferences,omitempty"`
	Properties         []cdxProperty `json:"properties,omitempty"`
}

type cdxHash struct {
	Alg     string `json:"alg"`
	Content string `json:"content"`
}

// cdxLicense is either a single SPDX id or an SPDX expression; CycloneDX keeps them apart.
type cdxLicense struct {
	License    *cdxLicenseID `json:"license,omitempty"`
	Expression string        `json:"expression,omitempty"`
}

type cdxLicenseID struct {
	ID string `json:"id"`
}

type cdxExtRef struct {
	Type   string    `json:"type"`
	URL    string    `json:"url"`
	Hashes []cdxHash `json:"hashes,omitempty"`
}

type cdxProperty struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type cdxDependency struct {
	Ref       string   `json:"ref"`
	DependsOn []string `json:"dependsOn"`
}

// Executable is what the CycloneDX document describes: one shipped file and its note.
type Executable struct {
	// Path is the file; its base name names the document's subject.
	Path   string
	SHA256 string
	// Package is the executable's package note.
	Package Package
	// Tool is the program that made the file, e.g. "portabin" and its version.
	Tool, ToolVersion string
}

// CycloneDX returns the CycloneDX 1.5 document of e. The same executable always gives the
// same bytes: the serial number derives from its hash, and there is no timestamp.
func CycloneDX(e Executable) ([]byte, error) {
	name := filepath.Base(e.Path)
	subject := cdxComponent{
		Type: "application", BOMRef: "executable:" + name, Name: name, Version: e.Package.Version,
		Hashes: []cdxHash{{Alg: "SHA-256", Content: e.SHA256}},
		Properties: []cdxProperty{
			{Name: "portabin:project", Value: e.Package.Name},
			{Name: "portabin:architecture", Value: e.Package.Architecture},
		},
	}
	bom := cdxBOM{
		BOMFormat: "CycloneDX", SpecVersion: "1.5", SerialNumber: serial(e.SHA256), Version: 1,
		Metadata: cdxMetadata{
			Tools:     cdxTools{Components: []cdxComponent{{Type: "application", Name: e.Tool, Version: e.ToolVersion}}},
			Component: subject,
		},
		Components: []cdxComponent{},
	}
	dep := cdxDependency{Ref: subject.BOMRef, DependsOn: []string{}}
	for _, c := range e.Package.Components {
		ref := c.PackageURL()
		cc := cdxComponent{Type: "library", BOMRef: ref, Name: c.Name, Version: c.Version, PURL: ref}
		if c.License != "" {
			if strings.ContainsAny(c.License, " ()") {
				cc.Licenses = []cdxLicense{{Expression: c.License}}
			} else {
				cc.Licenses = []cdxLicense{{License: &cdxLicenseID{ID: c.License}}}
			}
		}
		if c.URL != "" {
			ext := cdxExtRef{Type: "distribution", URL: c.URL}
			if c.SHA256 != "" {
				ext.Hashes = []cdxHash{{Alg: "SHA-256", Content: c.SHA256}}
			}
			cc.ExternalReferences = []cdxExtRef{ext}
		}
		bom.Components = append(bom.Components, cc)
		dep.DependsOn = append(dep.DependsOn, ref)
	}
	bom.Dependencies = []cdxDependency{dep}
	out, err := json.MarshalIndent(bom, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding the CycloneDX document: %w", err)
	}
	return append(out, '\n'), nil
}

// serial makes an RFC 4122 URN from the executable's hash (version 8: custom).
func serial(sum string) string {
	h := sha256.Sum256([]byte("portabin sbom " + sum))
	h[6] = h[6]&0x0f | 0x80
	h[8] = h[8]&0x3f | 0x80
	x := hex.EncodeToString(h[:16])
	return "urn:uuid:" + x[:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// SuffixCycloneDX is added to an executable's path to name its CycloneDX file.
const SuffixCycloneDX = ".cdx.json"

// WriteCycloneDX reads the package note of the executable at e.Path and writes its CycloneDX
// document beside it, atomically. The note is the single source, so the file beside the
// executable and the note inside it cannot disagree. It returns the document's path.
func WriteCycloneDX(e Executable) (string, error) {
	p, err := ReadNoteFile(e.Path)
	if err != nil {
		return "", fmt.Errorf("writing the SBOM of %s: %w", e.Path, err)
	}
	e.Package = *p
	doc, err := CycloneDX(e)
	if err != nil {
		return "", err
	}
	path := e.Path + SuffixCycloneDX
	if old, err := os.ReadFile(path); err == nil && string(old) == string(doc) {
		return path, nil // unchanged: keep its mtime, as dist.Install does for executables
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, doc, 0o644); err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	return path, nil
}
