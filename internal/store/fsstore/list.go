package fsstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/logkeeper/logkeeper/internal/store"
)

// walkSorted calls fn for every object below the folder rel whose key
// starts with prefix, in ascending key order, holding one folder's names
// at a time (a million objects are listed in the memory of a few
// folders). Within a folder, a subfolder sorts as its name followed by
// "/", so that the order of the walk is the order of the whole keys.
// Nothing is followed: a link is listed as what it is (listInfo reports
// it).
func (s *Store) walkSorted(ctx context.Context, rel, prefix string, fn func(store.ObjectInfo) error) error {
	entries, err := os.ReadDir(filepath.Join(s.root, filepath.FromSlash(rel)))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("list %s: %w", prefix, err)
	}
	type item struct {
		key  string // the entry's key, with "/" after a folder
		name string
		mode fs.FileMode
	}
	items := make([]item, 0, len(entries))
	for _, e := range entries {
		key := e.Name()
		if rel != "" {
			key = rel + "/" + key
		}
		if key == internalDir {
			continue
		}
		if e.IsDir() {
			key += "/"
		}
		items = append(items, item{key, e.Name(), e.Type()})
	}
	entries = nil
	sort.Slice(items, func(i, j int) bool { return items[i].key < items[j].key })
	for _, it := range items {
		if err := ctx.Err(); err != nil {
			return err
		}
		if it.mode.IsDir() {
			// Only folders that can hold a key with the prefix.
			if strings.HasPrefix(it.key, prefix) || strings.HasPrefix(prefix, it.key) {
				if err := s.walkSorted(ctx, strings.TrimSuffix(it.key, "/"), prefix, fn); err != nil {
					return err
				}
			}
			continue
		}
		if !strings.HasPrefix(it.key, prefix) {
			continue
		}
		info, err := s.listInfo(ctx, it.key, it.mode)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("list %s: %w", prefix, err)
		}
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
}
