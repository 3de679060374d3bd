// Package cache locates portabin's cache folder and derives content keys for what it stores there.
package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
)

// Dir returns portabin's cache folder: $PORTABIN_CACHE, else $XDG_CACHE_HOME/portabin, else ~/.cache/portabin.
func Dir() (string, error) {
	if d := os.Getenv("PORTABIN_CACHE"); d != "" {
		return filepath.Abs(d)
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "portabin"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding the cache folder: %w (set XDG_CACHE_HOME)", err)
	}
	return filepath.Join(home, ".cache", "portabin"), nil
}

// Sub returns a folder below the cache, created if needed.
func Sub(parts ...string) (string, error) {
	dir, err := Dir()
	if err != nil {
		return "", err
	}
	p := filepath.Join(append([]string{dir}, parts...)...)
	if err := os.MkdirAll(p, 0o755); err != nil {
		return "", fmt.Errorf("creating cache folder %s: %w", p, err)
	}
	return p, nil
}

// Key hashes its parts into a short hexadecimal name; parts are separated so that ("ab","c") != ("a","bc").
func Key(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s\n", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))[:20]
}
