//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package store

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// O_NONBLOCK keeps an open of a FIFO planted at a key from blocking forever; for
// regular files it changes nothing.
const openReadFlags = os.O_RDONLY | syscall.O_NONBLOCK

// lockFile takes an exclusive flock(2) on name, which also excludes other processes
// using the same root. The kernel drops it if the process dies, so a crash never
// leaves a stale lock behind.
func lockFile(root *os.Root, name string) (func(), error) {
	f, err := root.OpenFile(name, os.O_RDWR|os.O_CREATE, fileMode)
	if errors.Is(err, fs.ErrNotExist) {
		// Someone removed the lock directory by hand; it holds no state, recreate it.
		if err := root.MkdirAll(lockDir, dirMode); err != nil {
			return nil, err
		}
		f, err = root.OpenFile(name, os.O_RDWR|os.O_CREATE, fileMode)
	}
	if err != nil {
		return nil, err
	}
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	var lockErr error
	if err := rc.Control(func(fd uintptr) {
		for {
			lockErr = syscall.Flock(int(fd), syscall.LOCK_EX)
			if lockErr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		lockErr = err
	}
	if lockErr != nil {
		_ = f.Close()
		return nil, lockErr
	}
	// Closing the descriptor releases the lock.
	return func() { _ = f.Close() }, nil
}

// syncDir makes a rename or removal in dir durable.
func syncDir(root *os.Root, dir string) error {
	d, err := root.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
