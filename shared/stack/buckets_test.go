package stack

import (
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/alto/alto/shared/awstest"
	"github.com/alto/alto/shared/blob"
	"github.com/alto/alto/shared/s3blob"
	"github.com/alto/alto/shared/tenant"
)

// TestBucketsRouteImportsAndListBoth checks the AWS stack's blob store:
// import files land in the imports bucket and everything else in the
// exports bucket, each is read back through the router, and a listing of
// the whole tenant (what a workspace purge deletes) spans both buckets in
// key order, page after page.
func TestBucketsRouteImportsAndListBoth(t *testing.T) {
	client := s3.NewFromConfig(awstest.Config(t), func(o *s3.Options) { o.UsePathStyle = true })
	key := awstest.KMSKey(t)
	bucket := func() *s3blob.Store {
		name := awstest.Name(t)
		if err := s3blob.CreateBucket(t.Context(), client, name, key); err != nil {
			t.Fatal(err)
		}
		s, err := s3blob.New(client, s3blob.Options{Bucket: name, KMSKeyID: key})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	imp, exp := bucket(), bucket()
	b := buckets{imports: imp, exports: exp}
	ctx := tenant.With(t.Context(), "acme")
	keys := []string{"a", "exports/e1/x.zip", "imports/i1.csv", "imports/i2.csv", "j", "z"}
	for _, k := range keys {
		if _, err := b.Put(ctx, k, strings.NewReader(k)); err != nil {
			t.Fatalf("Put %s: %v", k, err)
		}
	}
	for _, k := range keys {
		want, other := exp, imp
		if strings.HasPrefix(k, "imports/") {
			want, other = imp, exp
		}
		if _, err := want.Get(ctx, k); err != nil {
			t.Errorf("%s is not in its bucket: %v", k, err)
		}
		if _, err := other.Get(ctx, k); err == nil {
			t.Errorf("%s is in the other bucket too", k)
		}
		r, err := b.Get(ctx, k)
		if err != nil {
			t.Fatalf("Get %s: %v", k, err)
		}
		got, _ := io.ReadAll(r)
		r.Close()
		if string(got) != k {
			t.Errorf("Get %s = %q", k, got)
		}
	}
	for _, tc := range []struct {
		prefix string
		limit  int
		want   []string
	}{
		{"", 2, keys},
		{"", 0, keys},
		{"i", 1, []string{"imports/i1.csv", "imports/i2.csv"}},
		{"imports/", 1, []string{"imports/i1.csv", "imports/i2.csv"}},
		{"exports/", 5, []string{"exports/e1/x.zip"}},
		{"j", 5, []string{"j"}},
	} {
		var got []string
		pages := 0
		for cursor := ""; ; pages++ {
			page, err := b.List(ctx, tc.prefix, cursor, tc.limit)
			if err != nil {
				t.Fatalf("List(%q): %v", tc.prefix, err)
			}
			if tc.limit > 0 && len(page.Objects) > tc.limit {
				t.Errorf("List(%q, limit %d) returned %d objects", tc.prefix, tc.limit, len(page.Objects))
			}
			for _, o := range page.Objects {
				got = append(got, o.Key)
			}
			if cursor = page.Next; cursor == "" || pages > 10 {
				break
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("List(%q, limit %d) = %q, want %q", tc.prefix, tc.limit, got, tc.want)
		}
	}
	for _, k := range keys {
		if err := b.Delete(ctx, k); err != nil {
			t.Fatalf("Delete %s: %v", k, err)
		}
	}
	if page, err := b.List(ctx, "", "", 0); err != nil || len(page.Objects) != 0 {
		t.Errorf("List after deleting all = %+v %v, want nothing", page, err)
	}
	if _, err := b.Get(ctx, "imports/i1.csv"); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Get of a deleted import = %v, want not found", err)
	}
}
