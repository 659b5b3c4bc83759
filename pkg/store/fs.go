package store

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// Names under the root that contain '~' can never be keys (ValidateKey rejects the
	// character), so the store's own files cannot collide with objects and List can
	// recognise and skip them by name alone.
	tmpPrefix = "~tmp-"
	lockDir   = "~locks"

	// lockStripes bounds both the in-process mutexes and the lock files on disk: keys
	// hash onto a fixed set of stripes instead of getting a lock file each, so lock
	// files never accumulate and never need deleting (deleting a lock file that another
	// process holds open would silently split the lock in two).
	lockStripes = 64

	// Objects may hold secrets (tfvars, state), so only the owner may read them.
	fileMode = 0o600
	dirMode  = 0o700

	// maxTempAttempts bounds retries when a concurrent Delete prunes the directory a
	// Put is about to write into.
	maxTempAttempts = 8
)

// errNotRegular reports a path that holds something other than a regular file or a
// directory (a device, a FIFO, a socket, a link to one): never an object.
var errNotRegular = errors.New("not a regular file")

// FS is a Store kept in a directory of the local file system: the embedded,
// single-machine default. Each object is one regular file at <root>/<key>.
//
// ETags are the lowercase hexadecimal MD5 of the content, unquoted: the value S3 gives
// a single-part upload, so an ETag means the same thing in both stores. Like S3's, it
// depends on the content only: writing A, then B, then A again brings back the first
// ETag, and an If-Match taken at the first A succeeds.
//
// A Put writes a temporary file in the object's directory, fsyncs it, and renames it
// over the key, so readers see the old or the new content, never a mix. The check of a
// condition (IfNoneMatch, IfMatch) and the rename happen under a per-key lock: a mutex
// within the process and, on Unix, an flock(2) on a file under <root>/~locks, so
// several processes sharing one root also serialise their conditional writes.
//
// Every path is resolved through an os.Root, so neither a key nor a symbolic link
// planted in the directory can reach outside the root; links that stay inside are
// followed by Get and Stat but List does not descend into them. Files whose names could
// not be keys (temporary files, the lock directory) are invisible.
//
// Unlike S3, a key cannot be both an object and a prefix of other objects ("a" and
// "a/b"), and each key segment must fit the file system's name limit (usually 255
// bytes). Empty directories are removed when their last object is deleted.
type FS struct {
	root    *os.Root
	stripes [lockStripes]sync.Mutex
	etags   etagCache
	dirs    dirNames
}

// etagCache remembers content hashes by file identity (path, size, modification and
// change times, inode), so that List and Stat hash a file only when it changed: listing
// a tenant's objects used to read every byte of every job record.
type etagCache struct {
	mu sync.Mutex
	m  map[fileIdentity]string
}

type fileIdentity struct {
	key          string
	size         int64
	mtime, ctime int64
	ino          uint64
}

// maxETags bounds the cache; it starts over when full (entries of replaced files are
// never looked up again).
const maxETags = 1 << 16

func identityOf(key string, fi fs.FileInfo) fileIdentity {
	ctime, ino := fileChange(fi)
	return fileIdentity{key: key, size: fi.Size(), mtime: fi.ModTime().UnixNano(), ctime: ctime, ino: ino}
}

func (c *etagCache) get(id fileIdentity) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[id]
	return e, ok
}

func (c *etagCache) put(id fileIdentity, etag string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxETags {
		c.m = map[fileIdentity]string{}
	}
	c.m[id] = etag
}

var _ Store = (*FS)(nil)

// NewFS opens (creating it if needed) a file-system store rooted at the directory root.
func NewFS(root string) (*FS, error) {
	if root == "" {
		return nil, errors.New("store: NewFS: empty root directory")
	}
	if err := os.MkdirAll(root, dirMode); err != nil {
		return nil, fmt.Errorf("store: create root directory: %w", err)
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("store: open root directory: %w", err)
	}
	if err := r.Mkdir(lockDir, dirMode); err != nil && !errors.Is(err, fs.ErrExist) {
		_ = r.Close()
		return nil, fmt.Errorf("store: create lock directory: %w", err)
	}
	return &FS{root: r}, nil
}

// Close releases the handle on the root directory; the FS must not be used afterwards.
func (s *FS) Close() error { return s.root.Close() }

// Get implements Store.
func (s *FS) Get(ctx context.Context, key string) ([]byte, Object, error) {
	if err := begin(ctx, key); err != nil {
		return nil, Object{}, err
	}
	f, fi, err := s.openObject(key)
	if err != nil {
		return nil, Object{}, readError("get", key, err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, Object{}, fmt.Errorf("store: get %q: %w", key, err)
	}
	return data, Object{Key: key, ETag: etagOf(data), Size: int64(len(data)), Modified: fi.ModTime().UTC()}, nil
}

// Stat implements Store. It reads the whole object, since the ETag is a content hash.
func (s *FS) Stat(ctx context.Context, key string) (Object, error) {
	if err := begin(ctx, key); err != nil {
		return Object{}, err
	}
	obj, err := s.stat(key)
	if err != nil {
		return Object{}, readError("stat", key, err)
	}
	return obj, nil
}

// Put implements Store.
func (s *FS) Put(ctx context.Context, key string, data []byte, opts PutOptions) (Object, error) {
	if err := begin(ctx, key); err != nil {
		return Object{}, err
	}
	if err := opts.Check(); err != nil {
		return Object{}, fmt.Errorf("put %q: %w", key, err)
	}
	// The slow part (writing and syncing the data) happens before taking the lock, so
	// writers of one key only serialise on the check and the rename.
	tmp, fi, err := s.writeTemp(key, data)
	if err != nil {
		return Object{}, fmt.Errorf("store: put %q: %w", key, err)
	}
	committed := false
	defer func() {
		if !committed {
			_ = s.root.Remove(tmp)
		}
	}()

	unlock, err := s.lock(key)
	if err != nil {
		return Object{}, fmt.Errorf("store: put %q: %w", key, err)
	}
	defer unlock()
	if err := s.checkCondition(key, opts); err != nil {
		return Object{}, err
	}
	if err := s.replace(tmp, key); err != nil {
		return Object{}, fmt.Errorf("store: put %q: %w", key, err)
	}
	committed = true
	if err := syncDir(s.root, path.Dir(key)); err != nil {
		return Object{}, fmt.Errorf("store: put %q: written but its directory could not be synced: %w", key, err)
	}
	return Object{Key: key, ETag: etagOf(data), Size: int64(len(data)), Modified: fi.ModTime().UTC()}, nil
}

// Delete implements Store.
func (s *FS) Delete(ctx context.Context, key string) error {
	if err := begin(ctx, key); err != nil {
		return err
	}
	unlock, err := s.lock(key)
	if err != nil {
		return fmt.Errorf("store: delete %q: %w", key, err)
	}
	defer unlock()
	fi, err := s.root.Lstat(key)
	switch {
	case isNotExist(err):
		return nil
	case err != nil:
		return fmt.Errorf("store: delete %q: %w", key, err)
	case fi.IsDir():
		// A prefix of other objects, not an object: nothing to delete.
		return nil
	}
	if err := s.root.Remove(key); err != nil && !isNotExist(err) {
		return fmt.Errorf("store: delete %q: %w", key, err)
	}
	dir := path.Dir(key)
	// Remove only succeeds on an empty directory, so pruning stops at the first
	// ancestor that still holds something (including another writer's temp file).
	for ; dir != "."; dir = path.Dir(dir) {
		if s.root.Remove(dir) != nil {
			break
		}
	}
	if err := syncDir(s.root, dir); err != nil && !isNotExist(err) {
		return fmt.Errorf("store: delete %q: removed but its directory could not be synced: %w", key, err)
	}
	return nil
}

// List implements Store.
func (s *FS) List(ctx context.Context, prefix string) ([]Object, error) {
	if err := ValidatePrefix(prefix); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Walk only the deepest directory the prefix fully names: "clients/c1" may match
	// "clients/c10/x", so it starts at "clients"; "clients/c1/" starts at "clients/c1".
	start := "."
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		start = prefix[:i]
	}
	objs := []Object{}
	walk := func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if isNotExist(err) {
				// The start does not exist, or an entry vanished under a concurrent Delete.
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == start {
			if !d.IsDir() {
				return fs.SkipAll
			}
			return nil
		}
		if validSegment(d.Name()) != nil {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if !strings.HasPrefix(p+"/", prefix) && !strings.HasPrefix(prefix, p+"/") {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !strings.HasPrefix(p, prefix) {
			return nil
		}
		// The entry's own lstat (relative to its directory), not another walk of the path.
		fi, err := d.Info()
		var obj Object
		if err == nil {
			obj, err = s.object(p, fi)
		}
		if isNotExist(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%q: %w", p, err)
		}
		objs = append(objs, obj)
		return nil
	}
	if err := fs.WalkDir(s.root.FS(), start, walk); err != nil {
		return nil, fmt.Errorf("store: list %q: %w", prefix, err)
	}
	// A directory walk orders "a/b" before "a-c", byte order (S3's) does not.
	slices.SortFunc(objs, func(a, b Object) int { return strings.Compare(a.Key, b.Key) })
	return objs, nil
}

// checkCondition runs under the key's lock.
func (s *FS) checkCondition(key string, opts PutOptions) error {
	switch {
	case opts.IfNoneMatch:
		fi, err := s.root.Lstat(key)
		switch {
		case isNotExist(err), err == nil && fi.IsDir():
			return nil
		case err != nil:
			return fmt.Errorf("store: put %q: %w", key, err)
		}
		return fmt.Errorf("put %q: %w: the key already exists", key, ErrPreconditionFailed)
	case opts.IfMatch != "":
		want := NormalizeETag(opts.IfMatch)
		cur, err := s.stat(key)
		switch {
		case isNotExist(err):
			return fmt.Errorf("put %q: %w: IfMatch %s but the key does not exist", key, ErrPreconditionFailed, want)
		case err != nil:
			return fmt.Errorf("store: put %q: %w", key, err)
		case cur.ETag != want:
			return fmt.Errorf("put %q: %w: IfMatch %s but the current ETag is %s", key, ErrPreconditionFailed, want, cur.ETag)
		}
	}
	return nil
}

// writeTemp writes data to a new temporary file in key's directory and syncs it.
func (s *FS) writeTemp(key string, data []byte) (string, fs.FileInfo, error) {
	dir := path.Dir(key)
	for attempt := 1; ; attempt++ {
		name := path.Join(dir, tmpPrefix+rand.Text())
		f, err := s.createIn(dir, name)
		if isNotExist(err) && attempt < maxTempAttempts {
			// A concurrent Delete pruned the directory between MkdirAll and create.
			continue
		}
		if errors.Is(err, syscall.ENOTDIR) {
			return "", nil, errors.New("a prefix of the key is an object, so it cannot also be a directory")
		}
		if err != nil {
			return "", nil, err
		}
		fi, err := writeSyncClose(f, data)
		if err != nil {
			_ = s.root.Remove(name)
			return "", nil, err
		}
		return name, fi, nil
	}
}

func (s *FS) createIn(dir, name string) (*os.File, error) {
	if dir != "." {
		if err := s.root.MkdirAll(dir, dirMode); err != nil {
			return nil, err
		}
	}
	return s.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
}

func writeSyncClose(f *os.File, data []byte) (fs.FileInfo, error) {
	_, err := f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	var fi fs.FileInfo
	if err == nil {
		fi, err = f.Stat()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return fi, err
}

// replace renames tmp over key.
func (s *FS) replace(tmp, key string) error {
	err := s.root.Rename(tmp, key)
	if err == nil {
		return nil
	}
	fi, lerr := s.root.Lstat(key)
	if lerr != nil || !fi.IsDir() {
		return err
	}
	// A directory sits where the object goes. If it is empty (left by a process that
	// crashed between deleting an object and pruning), clear it; otherwise it holds
	// other objects and this key cannot exist beside them.
	if s.root.Remove(key) == nil {
		return s.root.Rename(tmp, key)
	}
	return errors.New("the key is a prefix of other objects, so it cannot also be an object")
}

// openObject opens key for reading; a directory at key reads as fs.ErrNotExist.
func (s *FS) openObject(key string) (*os.File, fs.FileInfo, error) {
	f, err := s.root.OpenFile(key, openReadFlags, 0)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	switch {
	case err != nil:
	case fi.IsDir():
		err = fs.ErrNotExist
	case !fi.Mode().IsRegular():
		err = errNotRegular
	default:
		return f, fi, nil
	}
	_ = f.Close()
	return nil, nil, err
}

func (s *FS) stat(key string) (Object, error) {
	fi, _ := s.root.Lstat(key) // nil on error: opening the object reports it
	return s.object(key, fi)
}

// object describes key given its lstat (nil when unknown): from the ETag cache when the
// file is the one hashed before, else by hashing it.
func (s *FS) object(key string, fi fs.FileInfo) (Object, error) {
	if fi != nil && fi.Mode().IsRegular() {
		if etag, ok := s.etags.get(identityOf(key, fi)); ok {
			return Object{Key: key, ETag: etag, Size: fi.Size(), Modified: fi.ModTime().UTC()}, nil
		}
	}
	f, fi, err := s.openObject(key)
	if err != nil {
		return Object{}, err
	}
	defer f.Close()
	h := md5.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return Object{}, err
	}
	etag := hex.EncodeToString(h.Sum(nil))
	if n == fi.Size() {
		s.etags.put(identityOf(key, fi), etag)
	}
	return Object{Key: key, ETag: etag, Size: n, Modified: fi.ModTime().UTC()}, nil
}

// lock takes key's stripe lock and returns its release.
func (s *FS) lock(key string) (func(), error) {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	i := h.Sum32() % lockStripes
	mu := &s.stripes[i]
	mu.Lock()
	release, err := lockFile(s.root, path.Join(lockDir, fmt.Sprintf("%02d", i)))
	if err != nil {
		mu.Unlock()
		return nil, fmt.Errorf("lock: %w", err)
	}
	return func() {
		release()
		mu.Unlock()
	}, nil
}

// begin holds the checks every keyed operation starts with.
func begin(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	return ctx.Err()
}

// readError turns a failure to open key into the error Get and Stat return.
func readError(op, key string, err error) error {
	if isNotExist(err) {
		return fmt.Errorf("%s %q: %w", op, key, ErrNotFound)
	}
	return fmt.Errorf("store: %s %q: %w", op, key, err)
}

// isNotExist also counts ENOTDIR: when a prefix of the key is an object ("a" for
// "a/b"), the key does not exist.
func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// etagOf is the FS ETag: lowercase hex MD5 of the content (see FS).
func etagOf(data []byte) string {
	sum := md5.Sum(data)
	return hex.EncodeToString(sum[:])
}

var _ Pager = (*FS)(nil)

// ListPage implements Pager. A prefix naming a directory of objects (ending in "/") is
// read as that directory's names, sorted, with only the page's objects looked at (a
// listing of 10,000 objects reads names, not 10,000 inodes); a subdirectory among the
// names the page could hold, or any other prefix, falls back to a whole listing, cut.
func (s *FS) ListPage(ctx context.Context, prefix, startAfter string, limit int) ([]Object, error) {
	if err := ValidatePrefix(prefix); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	full := func() ([]Object, error) {
		objs, err := s.List(ctx, prefix)
		if err != nil {
			return nil, err
		}
		return pageOf(objs, startAfter, limit), nil
	}
	dir, ok := strings.CutSuffix(prefix, "/")
	if !ok || limit <= 0 {
		return full()
	}
	names, err := s.sortedNames(dir)
	if isNotExist(err) {
		return []Object{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: list %q: %w", prefix, err)
	}
	after := strings.TrimPrefix(startAfter, prefix)
	if !strings.HasPrefix(startAfter, prefix) {
		after = ""
		if startAfter > prefix {
			return []Object{}, nil // past every key under prefix
		}
	}
	i, _ := slices.BinarySearch(names, after)
	// A folder's keys ("x/y") sort after names that extend its own ("x-1"): the name
	// before the page may be a folder whose keys belong in it.
	if i > 0 && strings.HasPrefix(after, names[i-1]) {
		i--
	}
	// One handle on the folder: each name is then one fstatat, not a walk of the path.
	folder, err := s.root.OpenRoot(dir)
	if isNotExist(err) {
		return []Object{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: list %q: %w", prefix, err)
	}
	defer folder.Close()
	objs := []Object{}
	for _, name := range names[i:] {
		if len(objs) == limit {
			break
		}
		key := prefix + name
		fi, err := folder.Lstat(name)
		if isNotExist(err) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("store: list %q: %w", prefix, err)
		}
		if fi.IsDir() {
			return full()
		}
		if key <= startAfter || !fi.Mode().IsRegular() {
			continue
		}
		obj, err := s.object(key, fi)
		if isNotExist(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("store: list %q: %w", prefix, err)
		}
		objs = append(objs, obj)
	}
	return objs, nil
}

// dirNames caches the sorted names of the folders ListPage read, by the folder's
// identity (inode, size, modification and change times): adding, renaming or removing
// an entry, which every Put and Delete does, changes the folder's times. File system
// clocks tick coarsely (a few milliseconds), so a listing read less than
// settledAfter after the folder's last change is not kept: a change within the same
// tick would leave the folder's times as they were ("racy" entries, as git calls them).
type dirNames struct {
	mu sync.Mutex
	m  map[string]cachedNames
}

type cachedNames struct {
	id    fileIdentity
	names []string
}

const settledAfter = 2 * time.Second

// maxCachedDirs bounds the cache; it starts over when full.
const maxCachedDirs = 1024

// sortedNames returns the valid names in dir, sorted.
func (s *FS) sortedNames(dir string) ([]string, error) {
	fi, err := s.root.Lstat(dir)
	if err != nil {
		return nil, err
	}
	id := identityOf(dir, fi)
	s.dirs.mu.Lock()
	c, ok := s.dirs.m[dir]
	s.dirs.mu.Unlock()
	if ok && c.id == id {
		return c.names, nil
	}
	f, err := s.root.Open(dir)
	if err != nil {
		return nil, err
	}
	names, err := f.Readdirnames(-1)
	_ = f.Close()
	if err != nil {
		return nil, err
	}
	names = slices.DeleteFunc(names, func(n string) bool { return validSegment(n) != nil })
	slices.Sort(names)
	// Kept only when the folder had not changed for a while before it was read, and
	// is still the folder that was read.
	if time.Since(fi.ModTime()) > settledAfter {
		if after, err := s.root.Lstat(dir); err == nil && identityOf(dir, after) == id {
			s.dirs.mu.Lock()
			if s.dirs.m == nil || len(s.dirs.m) >= maxCachedDirs {
				s.dirs.m = map[string]cachedNames{}
			}
			s.dirs.m[dir] = cachedNames{id: id, names: names}
			s.dirs.mu.Unlock()
		}
	}
	return names, nil
}
