package store

import (
	"io/fs"
	"syscall"
)

// fileChange returns the file's change time and inode: together with size and
// modification time they change whenever its content can have.
func fileChange(fi fs.FileInfo) (ctime int64, ino uint64) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0
	}
	return st.Ctim.Sec*1e9 + st.Ctim.Nsec, st.Ino
}
