//go:build !linux

package store

import "io/fs"

// fileChange offers nothing beyond size and modification time here; the ETag cache
// keys on those and the path.
func fileChange(fs.FileInfo) (ctime int64, ino uint64) { return 0, 0 }
