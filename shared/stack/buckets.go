package stack

import (
	"context"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/alto/alto/shared/blob"
	"github.com/alto/alto/shared/imports"
)

// maxListLimit is the most objects one List of buckets returns: S3's page.
const maxListLimit = 1000

// buckets is the blob.Store over the AWS stack's two buckets: uploaded
// import files (keys under imports.KeyPrefix) in the imports bucket, whose
// uploads start a parse and whose objects expire within a day (RET-01),
// and every other object (exports) in the exports bucket. A listing spans
// both, in key order; its cursor is the last key listed, which both
// stores must take as a position (s3blob's is). It may be used
// concurrently.
type buckets struct {
	imports, exports blob.Store
}

var _ blob.Store = buckets{}

func (b buckets) route(key string) blob.Store {
	if strings.HasPrefix(key, imports.KeyPrefix) {
		return b.imports
	}
	return b.exports
}

// Put stores r under key in its bucket (see blob.Store).
func (b buckets) Put(ctx context.Context, key string, r io.Reader) (blob.Object, error) {
	return b.route(key).Put(ctx, key, r)
}

// Get opens the object at key in its bucket (see blob.Store).
func (b buckets) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	return b.route(key).Get(ctx, key)
}

// Delete removes the object at key from its bucket (see blob.Store).
func (b buckets) Delete(ctx context.Context, key string) error {
	return b.route(key).Delete(ctx, key)
}

// SignURL signs a URL of key's bucket (see blob.Store).
func (b buckets) SignURL(ctx context.Context, method, key string, ttl time.Duration) (string, error) {
	return b.route(key).SignURL(ctx, method, key, ttl)
}

// List returns up to limit objects whose key starts with prefix and sorts
// after cursor, in key order, from whichever buckets may hold such keys.
// A limit of zero or less, or above 1,000, means 1,000. Returns the
// stores' errors.
func (b buckets) List(ctx context.Context, prefix, cursor string, limit int) (blob.Page, error) {
	if strings.HasPrefix(prefix, imports.KeyPrefix) {
		return b.imports.List(ctx, prefix, cursor, limit)
	}
	if !strings.HasPrefix(imports.KeyPrefix, prefix) {
		return b.exports.List(ctx, prefix, cursor, limit)
	}
	if limit <= 0 || limit > maxListLimit {
		limit = maxListLimit
	}
	var pages [2]blob.Page
	for i, s := range []blob.Store{b.imports, b.exports} {
		var err error
		if pages[i], err = s.List(ctx, prefix, cursor, limit); err != nil {
			return blob.Page{}, err
		}
	}
	objs := slices.Concat(pages[0].Objects, pages[1].Objects)
	slices.SortFunc(objs, func(x, y blob.Object) int { return strings.Compare(x.Key, y.Key) })
	more := pages[0].Next != "" || pages[1].Next != ""
	if len(objs) > limit {
		objs, more = objs[:limit], true
	}
	page := blob.Page{Objects: objs}
	if more && len(objs) > 0 {
		page.Next = objs[len(objs)-1].Key
	}
	return page, nil
}
