package store

import (
	"context"
	"slices"
	"strings"
)

// Pager is implemented by stores that can list one page of keys without listing the
// whole prefix: both stores of this module do (S3 through ListObjectsV2's StartAfter
// and MaxKeys, the file store by reading one directory's sorted names). ListPage uses
// it when a store has it.
type Pager interface {
	// ListPage returns at most limit objects whose key starts with prefix and sorts
	// after startAfter (every one when startAfter is ""), sorted by key.
	ListPage(ctx context.Context, prefix, startAfter string, limit int) ([]Object, error)
}

// ListPage lists one page of prefix: at most limit objects sorted after startAfter. A
// store without Pager lists the whole prefix and cuts the page out of it.
func ListPage(ctx context.Context, s Store, prefix, startAfter string, limit int) ([]Object, error) {
	if limit <= 0 {
		return []Object{}, nil
	}
	if p, ok := s.(Pager); ok {
		return p.ListPage(ctx, prefix, startAfter, limit)
	}
	objs, err := s.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	return pageOf(objs, startAfter, limit), nil
}

// pageOf cuts the page after startAfter out of objs, sorted by key.
func pageOf(objs []Object, startAfter string, limit int) []Object {
	i, found := slices.BinarySearchFunc(objs, startAfter, func(o Object, k string) int { return strings.Compare(o.Key, k) })
	if found {
		i++
	}
	objs = objs[i:]
	return slices.Clip(objs[:min(limit, len(objs))])
}
