package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/portabin/portabin/internal/atomicfile"
)

// store is the cache of flattened roots under Cache/images:
//
//	roots/KEY/rootfs      a flattened root, KEY being the manifest digest ("sha256-HEX") or for a
//	roots/KEY/meta.json   plain tarball the digest of its content; meta.json names KEY again
//	refs/NAME.json        what a reference (+ platform, + file identity for tar:) resolved to
//	locks/KEY.lock        held while KEY is flattened, so two processes do it once
//	tmp/                  roots being flattened; renamed into roots/ when complete
type store struct{ dir string }

// entry is what the cache knows about a root; it is meta.json and the body of refs/NAME.json.
type entry struct {
	Key      string `json:"key"`
	Digest   string `json:"digest,omitempty"`
	ImageID  string `json:"image_id,omitempty"`
	Platform string `json:"platform,omitempty"`
	// Source identifies the input a refs entry was made from (a tar file's size, time, inode),
	// so that a changed file is read again.
	Source string `json:"source,omitempty"`
}

func newStore(cacheDir string) store { return store{dir: filepath.Join(cacheDir, "images")} }

// keyOf names a root folder after a digest such as "sha256:ab12...".
func keyOf(digest string) string { return strings.ReplaceAll(digest, ":", "-") }

func (s store) rootfs(key string) string { return filepath.Join(s.dir, "roots", key, "rootfs") }

// lookup returns the entry that refs/name.json records, if its root is complete.
func (s store) lookup(name, source string) (entry, bool) {
	var e entry
	b, err := os.ReadFile(filepath.Join(s.dir, "refs", name+".json"))
	if err != nil || json.Unmarshal(b, &e) != nil || e.Source != source {
		return entry{}, false
	}
	meta, ok := s.meta(e.Key)
	if !ok {
		return entry{}, false
	}
	meta.Source = e.Source
	return meta, true
}

// meta reads a root's meta.json; a root whose meta.json is missing or names another key is
// not trusted.
func (s store) meta(key string) (entry, bool) {
	if key == "" || strings.ContainsAny(key, `/\`) || key == "." || key == ".." {
		return entry{}, false
	}
	var e entry
	b, err := os.ReadFile(filepath.Join(s.dir, "roots", key, "meta.json"))
	if err != nil || json.Unmarshal(b, &e) != nil || e.Key != key {
		return entry{}, false
	}
	return e, true
}

// record writes refs/name.json atomically.
func (s store) record(name string, e entry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(s.dir, "refs", name+".json"), b)
}

func writeAtomic(file string, b []byte) error {
	// The cache's folders are private: made here before atomicfile would make them 0755.
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	return atomicfile.Write(file, b, 0o600)
}

// ensure returns the root cached under key, making it with fill first when it is missing.
// fill gets an empty folder to flatten the root into and returns the root's details. The root
// appears in roots/ complete or not at all; a lock keeps two processes from making it twice.
func (s store) ensure(key string, fill func(rootfs string) (entry, error)) (entry, error) {
	if e, ok := s.meta(key); ok {
		return e, nil
	}
	unlock, err := s.lock(key)
	if err != nil {
		return entry{}, err
	}
	defer unlock()
	if e, ok := s.meta(key); ok {
		return e, nil // made by another process while this one waited
	}
	// A root without a valid meta.json is damaged (a crash, a hand edit): make it again.
	removeTree(filepath.Join(s.dir, "roots", key))
	e, tmp, err := s.fillTemp(func(tmp string) (entry, error) {
		e, err := fill(filepath.Join(tmp, "rootfs"))
		e.Key = key
		return e, err
	})
	if err != nil {
		return entry{}, err
	}
	return e, s.install(tmp, key)
}

// fillTemp runs fill in a fresh folder under tmp/ holding an empty rootfs folder, then writes
// meta.json there, and returns the folder. On failure the folder is removed.
func (s store) fillTemp(fill func(tmp string) (entry, error)) (entry, string, error) {
	tmp, err := s.newTemp("root")
	if err != nil {
		return entry{}, "", err
	}
	e, err := func() (entry, error) {
		if err := os.Mkdir(filepath.Join(tmp, "rootfs"), 0o755); err != nil {
			return entry{}, err
		}
		e, err := fill(tmp)
		if err != nil {
			return entry{}, err
		}
		b, err := json.Marshal(e)
		if err != nil {
			return entry{}, err
		}
		return e, os.WriteFile(filepath.Join(tmp, "meta.json"), b, 0o644)
	}()
	if err != nil {
		removeTree(tmp)
		return entry{}, "", err
	}
	return e, tmp, nil
}

// newTemp makes a folder under tmp/, named after this process so that the folders of
// processes that died (killed while flattening) can be told apart and removed.
func (s store) newTemp(prefix string) (string, error) {
	dir := filepath.Join(s.dir, "tmp")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	if entries, err := os.ReadDir(dir); err == nil {
		for _, e := range entries {
			pid, _, _ := strings.Cut(e.Name(), "-")
			if n, err := strconv.Atoi(pid); err == nil && n != os.Getpid() && unix.Kill(n, 0) == unix.ESRCH {
				removeTree(filepath.Join(dir, e.Name()))
			}
		}
	}
	return os.MkdirTemp(dir, fmt.Sprintf("%d-%s-*", os.Getpid(), prefix))
}

// install renames tmp, a folder fillTemp made, to roots/key. When key is already there (the
// same content reached through another reference), tmp is dropped.
func (s store) install(tmp, key string) error {
	if err := os.MkdirAll(filepath.Join(s.dir, "roots"), 0o700); err != nil {
		return err
	}
	err := os.Rename(tmp, filepath.Join(s.dir, "roots", key))
	if err != nil {
		removeTree(tmp)
		if _, ok := s.meta(key); ok {
			return nil
		}
		return fmt.Errorf("storing root %s: %w", key, err)
	}
	return nil
}

// lock takes the lock file of key, waiting for another holder.
func (s store) lock(key string) (unlock func(), err error) {
	dir := filepath.Join(s.dir, "locks")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, key+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, nil
}

// removeTree deletes dir even when an unprivileged extraction left folders without write
// permission in it.
func removeTree(dir string) {
	if os.RemoveAll(dir) == nil {
		return
	}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o700)
		}
		return nil
	})
	os.RemoveAll(dir)
}
