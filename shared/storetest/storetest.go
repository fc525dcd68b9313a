// Package storetest checks that a store.Store honours the contract of package
// store. Every adapter's tests run it:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) storetest.Harness {
//			return storetest.Harness{Store: newEmptyStore(t), Now: clock.Now, Advance: clock.Advance}
//		})
//	}
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/tenant"
)

// Harness is one empty store under test and the clock it reads.
type Harness struct {
	Store store.Store
	// Now returns the time the store reads; nil means time.Now.
	Now func() time.Time
	// Advance moves the store's clock forward by d. Nil means the clock
	// cannot be controlled: subtests that wait for time to pass are skipped,
	// and expiry is checked with items that are expired when written.
	Advance func(d time.Duration)
}

// The tenants of the suite. B's ID extends A's, so a key scheme that only
// prefixes the tenant's name would mix them up.
const (
	tenantA tenant.ID = "acme"
	tenantB tenant.ID = "acme-b"
)

// Run runs the contract suite as subtests of t. newHarness is called once
// per subtest and must return an empty store.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	tests := []struct {
		name  string
		run   func(t *testing.T, h Harness)
		waits bool // needs Harness.Advance
	}{
		{name: "PutGetRoundTrip", run: testPutGet},
		{name: "GetMissing", run: testGetMissing},
		{name: "Version", run: testVersion},
		{name: "IfAbsent", run: testIfAbsent},
		{name: "IfAbsentAfterExpiry", run: testIfAbsentAfterExpiry, waits: true},
		{name: "IfVersion", run: testIfVersion},
		{name: "Delete", run: testDelete},
		{name: "QueryOrder", run: testQueryOrder},
		{name: "Pagination", run: testPagination},
		{name: "QueryLimits", run: testQueryLimits},
		{name: "QueryIndex", run: testQueryIndex},
		{name: "ExpiredInvisible", run: testExpiredInvisible},
		{name: "ExpiresWithTime", run: testExpiresWithTime, waits: true},
		{name: "Batch", run: testBatch},
		{name: "Invalid", run: testInvalid},
		{name: "NoTenant", run: testNoTenant},
		{name: "KeysAreOpaque", run: testKeysAreOpaque},
		{name: "ACC03_TenantIsolation", run: testTenantIsolation},
		{name: "ConcurrentIfVersion", run: testConcurrentIfVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			if tt.waits && h.Advance == nil {
				t.Skip("the store's clock cannot be advanced")
			}
			if h.Now == nil {
				h.Now = time.Now
			}
			tt.run(t, h)
		})
	}
}

func testPutGet(t *testing.T, h Harness) {
	ctx := as(t, tenantA)
	tests := []struct {
		name string
		item store.Item
	}{
		{"all fields", store.Item{
			PK: "CONTACT#1", SK: "PROFILE", Index: "hmac:1f2e", Data: []byte(`{"name":"sealed"}`),
			// Whole seconds: DynamoDB's TTL has no finer grain.
			ExpiresAt: h.Now().Add(time.Hour).Truncate(time.Second),
		}},
		{"keys only", store.Item{PK: "CONTACT#2", SK: "PROFILE"}},
		{"unicode and binary", store.Item{PK: "ÄÖÜ/ü", SK: "日本#語", Data: []byte{0, 1, 2, 0xff}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.item
			want.Version = 1
			checkItem(t, "Put", put(t, h.Store, ctx, tt.item, store.Always), want)
			got, err := h.Store.Get(ctx, keyOf(tt.item))
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			checkItem(t, "Get", got, want)
		})
	}
}

func testGetMissing(t *testing.T, h Harness) {
	ctx := as(t, tenantA)
	put(t, h.Store, ctx, store.Item{PK: "P", SK: "s"}, store.Always)
	for _, k := range []store.Key{{PK: "P", SK: "t"}, {PK: "Q", SK: "s"}, {PK: "P", SK: "s#"}, {PK: "P", SK: "S"}} {
		if _, err := h.Store.Get(ctx, k); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get(%+v) error = %v, want ErrNotFound", k, err)
		}
	}
}

func testVersion(t *testing.T, h Harness) {
	ctx := as(t, tenantA)
	// The Version passed to an unconditional Put is ignored.
	it := store.Item{PK: "P", SK: "s", Version: 42}
	for want := int64(1); want <= 3; want++ {
		it.Data = fmt.Appendf(nil, "v%d", want)
		if got := put(t, h.Store, ctx, it, store.Always); got.Version != want {
			t.Errorf("Put #%d: Version = %d, want %d", want, got.Version, want)
		}
	}
	got := get(t, h.Store, ctx, keyOf(it))
	if got.Version != 3 || string(got.Data) != "v3" {
		t.Errorf("Get = version %d data %q, want version 3 data %q", got.Version, got.Data, "v3")
	}
}

func testIfAbsent(t *testing.T, h Harness) {
	ctx := as(t, tenantA)
	first := store.Item{PK: "P", SK: "s", Data: []byte("first")}
	if got := put(t, h.Store, ctx, first, store.IfAbsent); got.Version != 1 {
		t.Errorf("IfAbsent on a missing item: Version = %d, want 1", got.Version)
	}
	second := store.Item{PK: "P", SK: "s", Data: []byte("second")}
	if _, err := h.Store.Put(ctx, second, store.IfAbsent); !errors.Is(err, store.ErrConditionFailed) {
		t.Errorf("IfAbsent on a live item: error = %v, want ErrConditionFailed", err)
	}
	if got := get(t, h.Store, ctx, keyOf(first)); string(got.Data) != "first" {
		t.Errorf("after a failed IfAbsent: Data = %q, want %q", got.Data, "first")
	}

	expired := store.Item{PK: "P", SK: "old", Data: []byte("old"), ExpiresAt: h.Now().Add(-time.Minute)}
	put(t, h.Store, ctx, expired, store.Always)
	fresh := store.Item{PK: "P", SK: "old", Data: []byte("new")}
	got, err := h.Store.Put(ctx, fresh, store.IfAbsent)
	if err != nil {
		t.Fatalf("IfAbsent on an expired item: %v", err)
	}
	if got.Version != 1 {
		t.Errorf("IfAbsent on an expired item: Version = %d, want 1", got.Version)
	}
}

func testIfAbsentAfterExpiry(t *testing.T, h Harness) {
	ctx := as(t, tenantA)
	it := store.Item{PK: "P", SK: "s", ExpiresAt: h.Now().Add(time.Minute)}
	put(t, h.Store, ctx, it, store.IfAbsent)
	if _, err := h.Store.Put(ctx, it, store.IfAbsent); !errors.Is(err, store.ErrConditionFailed) {
		t.Errorf("IfAbsent before expiry: error = %v, want ErrConditionFailed", err)
	}
	h.Advance(2 * time.Minute)
	if _, err := h.Store.Put(ctx, store.Item{PK: "P", SK: "s"}, store.IfAbsent); err != nil {
		t.Errorf("IfAbsent after expiry: %v", err)
	}
}

func testIfVersion(t *testing.T, h Harness) {
	ctx := as(t, tenantA)
	put(t, h.Store, ctx, store.Item{PK: "P", SK: "s"}, store.Always)
	put(t, h.Store, ctx, store.Item{PK: "P", SK: "old", ExpiresAt: h.Now().Add(-time.Minute)}, store.Always)

	got, err := h.Store.Put(ctx, store.Item{PK: "P", SK: "s", Version: 1, Data: []byte("two")}, store.IfVersion)
	if err != nil {
		t.Fatalf("IfVersion on a match: %v", err)
	}
	if got.Version != 2 {
		t.Errorf("IfVersion on a match: Version = %d, want 2", got.Version)
	}

	tests := []struct {
		name string
		item store.Item
	}{
		{"stale version", store.Item{PK: "P", SK: "s", Version: 1}},
		{"future version", store.Item{PK: "P", SK: "s", Version: 3}},
		{"missing item", store.Item{PK: "P", SK: "none", Version: 1}},
		{"missing item, version 0", store.Item{PK: "P", SK: "none"}},
		{"expired item", store.Item{PK: "P", SK: "old", Version: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := h.Store.Put(ctx, tt.item, store.IfVersion); !errors.Is(err, store.ErrConditionFailed) {
				t.Errorf("Put error = %v, want ErrConditionFailed", err)
			}
		})
	}
	if got := get(t, h.Store, ctx, store.Key{PK: "P", SK: "s"}); got.Version != 2 || string(got.Data) != "two" {
		t.Errorf("after failed puts: version %d data %q, want version 2 data %q", got.Version, got.Data, "two")
	}
}

func testDelete(t *testing.T, h Harness) {
	ctx := as(t, tenantA)
	k := store.Key{PK: "P", SK: "s"}
	if err := h.Store.Delete(ctx, k); err != nil {
		t.Fatalf("Delete of a missing item: %v", err)
	}
	put(t, h.Store, ctx, store.Item{PK: "P", SK: "s", Index: "h"}, store.Always)
	put(t, h.Store, ctx, store.Item{PK: "P", SK: "s2", Index: "h"}, store.Always)
	for i := range 2 {
		if err := h.Store.Delete(ctx, k); err != nil {
			t.Fatalf("Delete #%d: %v", i+1, err)
		}
	}
	if _, err := h.Store.Get(ctx, k); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get after Delete: error = %v, want ErrNotFound", err)
	}
	checkKeys(t, "Query", query(t, h.Store, ctx, store.Query{PK: "P"}), "P/s2")
	checkKeys(t, "Query by Index", query(t, h.Store, ctx, store.Query{Index: "h"}), "P/s2")
}

func testQueryOrder(t *testing.T, h Harness) {
	ctx := as(t, tenantA)
	for _, sk := range []string{"a#2", "b#1", "a", "a#3", "B", "a#1"} {
		put(t, h.Store, ctx, store.Item{PK: "P", SK: sk}, store.Always)
	}
	put(t, h.Store, ctx, store.Item{PK: "P2", SK: "a#0"}, store.Always)
	put(t, h.Store, ctx, store.Item{PK: "P#", SK: "a#0"}, store.Always)

	tests := []struct {
		q    store.Query
		want []string
	}{
		{store.Query{PK: "P"}, []string{"P/B", "P/a", "P/a#1", "P/a#2", "P/a#3", "P/b#1"}},
		{store.Query{PK: "P", Prefix: "a#"}, []string{"P/a#1", "P/a#2", "P/a#3"}},
		{store.Query{PK: "P", Prefix: "a"}, []string{"P/a", "P/a#1", "P/a#2", "P/a#3"}},
		{store.Query{PK: "P", Prefix: "a#2"}, []string{"P/a#2"}},
		{store.Query{PK: "P", Reverse: true}, []string{"P/b#1", "P/a#3", "P/a#2", "P/a#1", "P/a", "P/B"}},
		{store.Query{PK: "P", Prefix: "a#", Reverse: true}, []string{"P/a#3", "P/a#2", "P/a#1"}},
		{store.Query{PK: "P", Prefix: "c"}, nil},
		{store.Query{PK: "P", Prefix: "c", Reverse: true}, nil},
		{store.Query{PK: "none"}, nil},
		{store.Query{PK: "P2"}, []string{"P2/a#0"}},
	}
	for _, tt := range tests {
		t.Run(describe(tt.q), func(t *testing.T) {
			page, err := h.Store.Query(ctx, tt.q)
			if err != nil {
				t.Fatalf("Query: %v", err)
			}
			checkKeys(t, "Query", page.Items, tt.want...)
			if page.Next != "" {
				t.Errorf("Next = %q on the only page, want empty", page.Next)
			}
		})
	}
}

func testPagination(t *testing.T, h Harness) {
	ctx := as(t, tenantA)
	var all []store.Item
	for i := range 23 {
		all = append(all, store.Item{PK: "P", SK: fmt.Sprintf("item#%03d", i), Index: "h"})
	}
	all = append(all, store.Item{PK: "P", SK: "other"}, store.Item{PK: "P", SK: "item"})
	batchPut(t, h.Store, ctx, all)
	var want []string
	for i := range 23 {
		want = append(want, fmt.Sprintf("P/item#%03d", i))
	}
	reversed := slices.Clone(want)
	slices.Reverse(reversed)

	for _, limit := range []int{1, 7, 23, 100} {
		tests := []struct {
			q    store.Query
			want []string
		}{
			{store.Query{PK: "P", Prefix: "item#", Limit: limit}, want},
			{store.Query{PK: "P", Prefix: "item#", Limit: limit, Reverse: true}, reversed},
			{store.Query{Index: "h", Limit: limit}, want},
			{store.Query{Index: "h", Limit: limit, Reverse: true}, reversed},
		}
		for _, tt := range tests {
			t.Run(describe(tt.q), func(t *testing.T) {
				checkKeys(t, "all pages", queryAll(t, h.Store, ctx, tt.q), tt.want...)
			})
		}
	}
}

func testQueryLimits(t *testing.T, h Harness) {
	ctx := as(t, tenantA)
	var items []store.Item
	for i := range store.DefaultLimit + 1 {
		items = append(items, store.Item{PK: "P", SK: fmt.Sprintf("%04d", i)})
	}
	batchPut(t, h.Store, ctx, items)
	page, err := h.Store.Query(ctx, store.Query{PK: "P"})
	if err != nil {
		t.Fatalf("Query: %v", err)
	}
	if len(page.Items) != store.DefaultLimit || page.Next == "" {
		t.Errorf("Query with Limit 0 of %d items: %d items, Next %q; want %d and a cursor",
			len(items), len(page.Items), page.Next, store.DefaultLimit)
	}
	if _, err := h.Store.Query(ctx, store.Query{PK: "P", Limit: store.MaxLimit}); err != nil {
		t.Errorf("Query with Limit MaxLimit: %v", err)
	}

	tests := []struct {
		name string
		q    store.Query
	}{
		{"limit above MaxLimit", store.Query{PK: "P", Limit: store.MaxLimit + 1}},
		{"negative limit", store.Query{PK: "P", Limit: -1}},
		{"garbage cursor", store.Query{PK: "P", Cursor: "not a cursor!"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := h.Store.Query(ctx, tt.q); !errors.Is(err, store.ErrInvalid) {
				t.Errorf("Query error = %v, want ErrInvalid", err)
			}
		})
	}
}

func testQueryIndex(t *testing.T, h Harness) {
	a, b := as(t, tenantA), as(t, tenantB)
	batchPut(t, h.Store, a, []store.Item{
		{PK: "P2", SK: "s2", Index: "h1", Data: []byte("two")},
		{PK: "P1", SK: "s1", Index: "h1", Data: []byte("one")},
		{PK: "P3", SK: "s3", Index: "h2"},
		{PK: "P4", SK: "s4"},
		{PK: "P5", SK: "s0", Index: "h1", ExpiresAt: h.Now().Add(-time.Minute)},
		{PK: "X1", SK: "same", Index: "h3"},
		{PK: "X2", SK: "same", Index: "h3"},
	})
	put(t, h.Store, b, store.Item{PK: "P1", SK: "s0", Index: "h1"}, store.Always)

	tests := []struct {
		q    store.Query
		want []string
	}{
		{store.Query{Index: "h1"}, []string{"P1/s1", "P2/s2"}},
		{store.Query{Index: "h1", PK: "P3"}, []string{"P1/s1", "P2/s2"}},
		{store.Query{Index: "h1", Prefix: "s2"}, []string{"P2/s2"}},
		{store.Query{Index: "h1", Reverse: true}, []string{"P2/s2", "P1/s1"}},
		{store.Query{Index: "h2"}, []string{"P3/s3"}},
		{store.Query{Index: "h"}, nil},
		{store.Query{Index: "s1"}, nil},
	}
	for _, tt := range tests {
		t.Run(describe(tt.q), func(t *testing.T) {
			checkKeys(t, "Query", query(t, h.Store, a, tt.q), tt.want...)
		})
	}

	items := query(t, h.Store, a, store.Query{Index: "h1"})
	if len(items) == 2 {
		checkItem(t, "Query by Index", items[0], store.Item{PK: "P1", SK: "s1", Index: "h1", Data: []byte("one"), Version: 1})
	}

	// Equal sort keys in different partitions are distinct index entries.
	got := keys(queryAll(t, h.Store, a, store.Query{Index: "h3", Limit: 1}))
	slices.Sort(got)
	if want := []string{"X1/same", "X2/same"}; !slices.Equal(got, want) {
		t.Errorf("Query by Index h3, one item a page = %q, want %q", got, want)
	}

	// The index follows puts and deletes.
	put(t, h.Store, a, store.Item{PK: "P1", SK: "s1", Index: "h2"}, store.Always)
	put(t, h.Store, a, store.Item{PK: "P3", SK: "s3"}, store.Always)
	if err := h.Store.Delete(a, store.Key{PK: "P2", SK: "s2"}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	checkKeys(t, "Query by Index h1 after changes", query(t, h.Store, a, store.Query{Index: "h1"}))
	checkKeys(t, "Query by Index h2 after changes", query(t, h.Store, a, store.Query{Index: "h2"}), "P1/s1")
}

func testExpiredInvisible(t *testing.T, h Harness) {
	ctx := as(t, tenantA)
	past := h.Now().Add(-time.Minute)
	var items []store.Item
	for i := range 10 {
		it := store.Item{PK: "P", SK: fmt.Sprintf("s%d", i), Index: "h"}
		if i%2 == 1 {
			it.ExpiresAt = past
		}
		items = append(items, it)
	}
	batchPut(t, h.Store, ctx, items)

	if _, err := h.Store.Get(ctx, store.Key{PK: "P", SK: "s1"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get of an expired item: error = %v, want ErrNotFound", err)
	}
	live := []string{"P/s0", "P/s2", "P/s4", "P/s6", "P/s8"}
	for _, q := range []store.Query{{PK: "P", Limit: 3}, {Index: "h", Limit: 3}, {PK: "P", Limit: 2, Reverse: true}} {
		want := live
		if q.Reverse {
			want = slices.Clone(live)
			slices.Reverse(want)
		}
		checkKeys(t, fmt.Sprintf("Query(%+v)", q), queryAll(t, h.Store, ctx, q), want...)
	}
}

func testExpiresWithTime(t *testing.T, h Harness) {
	ctx := as(t, tenantA)
	it := store.Item{PK: "P", SK: "s", Index: "h", ExpiresAt: h.Now().Add(time.Minute)}
	put(t, h.Store, ctx, it, store.Always)
	get(t, h.Store, ctx, keyOf(it))
	h.Advance(2 * time.Minute)
	if _, err := h.Store.Get(ctx, keyOf(it)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get after expiry: error = %v, want ErrNotFound", err)
	}
	checkKeys(t, "Query after expiry", query(t, h.Store, ctx, store.Query{PK: "P"}))
	checkKeys(t, "Query by Index after expiry", query(t, h.Store, ctx, store.Query{Index: "h"}))
}

func testBatch(t *testing.T, h Harness) {
	ctx := as(t, tenantA)
	const n = 60 // more than DynamoDB's 25 a request
	var items []store.Item
	var want []string
	var ks []store.Key
	for i := range n {
		it := store.Item{PK: "P", SK: fmt.Sprintf("%03d", i), Index: "h", Data: fmt.Appendf(nil, "data %d", i)}
		items = append(items, it)
		want = append(want, "P/"+it.SK)
		ks = append(ks, keyOf(it))
	}
	if err := h.Store.BatchPut(ctx, nil); err != nil {
		t.Errorf("BatchPut of nothing: %v", err)
	}
	batchPut(t, h.Store, ctx, items)
	for _, it := range items {
		if got := get(t, h.Store, ctx, keyOf(it)); !bytes.Equal(got.Data, it.Data) {
			t.Errorf("Get(%s) Data = %q, want %q", it.SK, got.Data, it.Data)
		}
	}
	checkKeys(t, "Query", queryAll(t, h.Store, ctx, store.Query{PK: "P"}), want...)
	checkKeys(t, "Query by Index", queryAll(t, h.Store, ctx, store.Query{Index: "h"}), want...)

	if err := h.Store.BatchDelete(ctx, ks); err != nil {
		t.Fatalf("BatchDelete: %v", err)
	}
	checkKeys(t, "Query after BatchDelete", queryAll(t, h.Store, ctx, store.Query{PK: "P"}))
	checkKeys(t, "Query by Index after BatchDelete", queryAll(t, h.Store, ctx, store.Query{Index: "h"}))
	if err := h.Store.BatchDelete(ctx, ks); err != nil {
		t.Errorf("BatchDelete of missing items: %v", err)
	}

	bad := slices.Clone(items)
	bad[n-1].SK = ""
	if err := h.Store.BatchPut(ctx, bad); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("BatchPut with an invalid item: error = %v, want ErrInvalid", err)
	}
	checkKeys(t, "Query after a rejected BatchPut", queryAll(t, h.Store, ctx, store.Query{PK: "P"}))
}

func testInvalid(t *testing.T, h Harness) {
	ctx := as(t, tenantA)
	long := strings.Repeat("k", store.MaxKeyLen+1)
	tests := []struct {
		name string
		op   func() error
	}{
		{"Put with empty PK", putOp(h.Store, ctx, store.Item{SK: "s"})},
		{"Put with empty SK", putOp(h.Store, ctx, store.Item{PK: "P"})},
		{"Put with long PK", putOp(h.Store, ctx, store.Item{PK: long, SK: "s"})},
		{"Put with long SK", putOp(h.Store, ctx, store.Item{PK: "P", SK: long})},
		{"Put with long Index", putOp(h.Store, ctx, store.Item{PK: "P", SK: "s", Index: long})},
		{"Put with large Data", putOp(h.Store, ctx, store.Item{PK: "P", SK: "s", Data: make([]byte, store.MaxItemSize+1)})},
		{"Put with unknown Cond", func() error {
			_, err := h.Store.Put(ctx, store.Item{PK: "P", SK: "s"}, store.Cond(99))
			return err
		}},
		{"Get with empty PK", func() error { _, err := h.Store.Get(ctx, store.Key{SK: "s"}); return err }},
		{"Get with empty SK", func() error { _, err := h.Store.Get(ctx, store.Key{PK: "P"}); return err }},
		{"Get with long SK", func() error { _, err := h.Store.Get(ctx, store.Key{PK: "P", SK: long}); return err }},
		{"Delete with empty SK", func() error { return h.Store.Delete(ctx, store.Key{PK: "P"}) }},
		{"Delete with long PK", func() error { return h.Store.Delete(ctx, store.Key{PK: long, SK: "s"}) }},
		{"BatchDelete with empty PK", func() error { return h.Store.BatchDelete(ctx, []store.Key{{PK: "P", SK: "s"}, {SK: "s"}}) }},
		{"Query without PK or Index", func() error { _, err := h.Store.Query(ctx, store.Query{}); return err }},
		{"Query with long PK", func() error { _, err := h.Store.Query(ctx, store.Query{PK: long}); return err }},
		{"Query with long Prefix", func() error { _, err := h.Store.Query(ctx, store.Query{PK: "P", Prefix: long}); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.op(); !errors.Is(err, store.ErrInvalid) {
				t.Errorf("error = %v, want ErrInvalid", err)
			}
		})
	}

	limit := strings.Repeat("k", store.MaxKeyLen)
	for _, it := range []store.Item{
		{PK: limit, SK: limit, Index: limit},
		{PK: "P", SK: "s", Data: make([]byte, store.MaxItemSize)},
	} {
		if _, err := h.Store.Put(ctx, it, store.Always); err != nil {
			t.Errorf("Put of an item at the limits: %v", err)
		}
	}
}

func testNoTenant(t *testing.T, h Harness) {
	ctx := t.Context()
	k := store.Key{PK: "P", SK: "s"}
	tests := []struct {
		name string
		op   func() error
	}{
		{"Get", func() error { _, err := h.Store.Get(ctx, k); return err }},
		{"Put", putOp(h.Store, ctx, store.Item{PK: "P", SK: "s"})},
		{"Delete", func() error { return h.Store.Delete(ctx, k) }},
		{"Query", func() error { _, err := h.Store.Query(ctx, store.Query{PK: "P"}); return err }},
		{"BatchPut", func() error { return h.Store.BatchPut(ctx, []store.Item{{PK: "P", SK: "s"}}) }},
		{"BatchDelete", func() error { return h.Store.BatchDelete(ctx, []store.Key{k}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.op(); !errors.Is(err, tenant.ErrNoTenant) {
				t.Errorf("error = %v, want tenant.ErrNoTenant", err)
			}
		})
	}
}

// testKeysAreOpaque checks that "#" in keys is an ordinary byte: the store's
// own separators cannot be forged within a tenant either.
func testKeysAreOpaque(t *testing.T, h Harness) {
	ctx := as(t, tenantA)
	batchPut(t, h.Store, ctx, []store.Item{
		{PK: "a#b", SK: "c", Index: "h#1", Data: []byte("1")},
		{PK: "a", SK: "b#c", Index: "h", Data: []byte("2")},
		{PK: "a", SK: "#1", Index: "h", Data: []byte("3")},
	})
	tests := []struct {
		q    store.Query
		want []string
	}{
		{store.Query{PK: "a"}, []string{"a/#1", "a/b#c"}},
		{store.Query{PK: "a", Prefix: "b"}, []string{"a/b#c"}},
		{store.Query{PK: "a#b"}, []string{"a#b/c"}},
		{store.Query{PK: "a#"}, nil},
		{store.Query{Index: "h"}, []string{"a/#1", "a/b#c"}},
		{store.Query{Index: "h#1"}, []string{"a#b/c"}},
		{store.Query{Index: "h", Prefix: "#"}, []string{"a/#1"}},
	}
	for _, tt := range tests {
		t.Run(describe(tt.q), func(t *testing.T) {
			checkKeys(t, "Query", query(t, h.Store, ctx, tt.q), tt.want...)
		})
	}
	if got := get(t, h.Store, ctx, store.Key{PK: "a#b", SK: "c"}); string(got.Data) != "1" {
		t.Errorf("Get(a#b, c) Data = %q, want %q", got.Data, "1")
	}
}

// testTenantIsolation proves ACC-03: one tenant can neither read nor change
// another's items, whatever keys it builds.
func testTenantIsolation(t *testing.T, h Harness) {
	a, b := as(t, tenantA), as(t, tenantB)
	batchPut(t, h.Store, a, []store.Item{
		{PK: "P", SK: "s1", Index: "h", Data: []byte("secret 1")},
		{PK: "P", SK: "s2", Index: "h", Data: []byte("secret 2")},
		{PK: "P", SK: "s3", Data: []byte("secret 3")},
	})
	aKeys := []store.Key{{PK: "P", SK: "s1"}, {PK: "P", SK: "s2"}, {PK: "P", SK: "s3"}}
	others := map[string]context.Context{"tenant B": b, "platform": tenant.WithPlatform(t.Context())}

	for name, ctx := range others {
		t.Run(name+" reads", func(t *testing.T) {
			for _, k := range aKeys {
				if _, err := h.Store.Get(ctx, k); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("Get(%+v) error = %v, want ErrNotFound", k, err)
				}
			}
			checkKeys(t, "Query", query(t, h.Store, ctx, store.Query{PK: "P"}))
			checkKeys(t, "Query by Index", query(t, h.Store, ctx, store.Query{Index: "h"}))
		})
	}

	// Forged keys: the tenant's own key scheme spelled out, separators,
	// prefixes of the other tenant's ID.
	forged := []string{"ORG#acme#P", "ORG#acme", "acme#P", "acme", "#P", "P#", "ORG#other#P", "ORG#acme#P#"}
	t.Run("tenant B forges keys", func(t *testing.T) {
		for _, pk := range forged {
			for _, sk := range []string{"s1", "P#s1", "#s1"} {
				if it, err := h.Store.Get(b, store.Key{PK: pk, SK: sk}); err == nil {
					t.Errorf("Get(%q, %q) = item with %q, want an error", pk, sk, it.Data)
				}
			}
			checkKeys(t, "Query PK "+pk, query(t, h.Store, b, store.Query{PK: pk}))
			checkKeys(t, "Query Index "+pk, query(t, h.Store, b, store.Query{Index: pk}))
			checkKeys(t, "Query Index "+pk+"#h", query(t, h.Store, b, store.Query{Index: pk + "#h"}))
		}
	})

	t.Run("tenant B writes", func(t *testing.T) {
		if err := h.Store.Delete(b, aKeys[0]); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if err := h.Store.BatchDelete(b, aKeys); err != nil {
			t.Fatalf("BatchDelete: %v", err)
		}
		for _, pk := range forged {
			if err := h.Store.Delete(b, store.Key{PK: pk, SK: "s1"}); err != nil {
				t.Errorf("Delete(%q, s1): %v", pk, err)
			}
		}
		// B's item under the same relative key is B's own: version 1.
		mine := put(t, h.Store, b, store.Item{PK: "P", SK: "s1", Index: "h", Data: []byte("B's")}, store.Always)
		if mine.Version != 1 {
			t.Errorf("B's Put at A's key: Version = %d, want 1", mine.Version)
		}
		if _, err := h.Store.Put(b, store.Item{PK: "P", SK: "s2", Version: 1}, store.IfVersion); !errors.Is(err, store.ErrConditionFailed) {
			t.Errorf("B's IfVersion at A's key: error = %v, want ErrConditionFailed", err)
		}
		for i, k := range aKeys {
			got := get(t, h.Store, a, k)
			if want := fmt.Sprintf("secret %d", i+1); string(got.Data) != want || got.Version != 1 {
				t.Errorf("A's Get(%+v) = version %d data %q, want version 1 data %q", k, got.Version, got.Data, want)
			}
		}
		checkKeys(t, "B's Query by Index", query(t, h.Store, b, store.Query{Index: "h"}), "P/s1")
		checkKeys(t, "A's Query by Index", query(t, h.Store, a, store.Query{Index: "h"}), "P/s1", "P/s2")
	})

	t.Run("tenant B replays A's cursor", func(t *testing.T) {
		for _, q := range []store.Query{{PK: "P", Limit: 1}, {Index: "h", Limit: 1}} {
			page, err := h.Store.Query(a, q)
			if err != nil || page.Next == "" {
				t.Fatalf("A's Query(%+v) = Next %q, error %v; want a cursor", q, page.Next, err)
			}
			q.Cursor = page.Next
			got, err := h.Store.Query(b, q)
			if err != nil && !errors.Is(err, store.ErrInvalid) {
				t.Errorf("B's Query with A's cursor: error = %v, want ErrInvalid or B's own items", err)
			}
			for _, it := range got.Items {
				if string(it.Data) != "B's" {
					t.Errorf("B's Query with A's cursor returned %s/%s with %q", it.PK, it.SK, it.Data)
				}
			}
		}
	})
}

func testConcurrentIfVersion(t *testing.T, h Harness) {
	ctx := as(t, tenantA)
	const workers, each = 20, 5
	k := store.Key{PK: "COUNTER", SK: "c"}
	put(t, h.Store, ctx, store.Item{PK: k.PK, SK: k.SK, Data: []byte("0")}, store.IfAbsent)

	increment := func() error {
		for {
			it, err := h.Store.Get(ctx, k)
			if err != nil {
				return err
			}
			var n int
			if _, err := fmt.Sscan(string(it.Data), &n); err != nil {
				return err
			}
			it.Data = fmt.Append(nil, n+1)
			_, err = h.Store.Put(ctx, it, store.IfVersion)
			if !errors.Is(err, store.ErrConditionFailed) {
				return err
			}
		}
	}
	errs := make(chan error, workers)
	for range workers {
		go func() {
			for range each {
				if err := increment(); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Errorf("increment: %v", err)
		}
	}
	got := get(t, h.Store, ctx, k)
	if want := fmt.Sprint(workers * each); string(got.Data) != want || got.Version != workers*each+1 {
		t.Errorf("counter = %s at version %d, want %s at version %d", got.Data, got.Version, want, workers*each+1)
	}
}

// as returns a context of the test scoped to tenant id.
func as(t *testing.T, id tenant.ID) context.Context {
	return tenant.With(t.Context(), id)
}

func keyOf(it store.Item) store.Key { return store.Key{PK: it.PK, SK: it.SK} }

func put(t *testing.T, s store.Store, ctx context.Context, it store.Item, cond store.Cond) store.Item {
	t.Helper()
	got, err := s.Put(ctx, it, cond)
	if err != nil {
		t.Fatalf("Put(%s/%s): %v", it.PK, it.SK, err)
	}
	return got
}

func putOp(s store.Store, ctx context.Context, it store.Item) func() error {
	return func() error {
		_, err := s.Put(ctx, it, store.Always)
		return err
	}
}

func get(t *testing.T, s store.Store, ctx context.Context, k store.Key) store.Item {
	t.Helper()
	it, err := s.Get(ctx, k)
	if err != nil {
		t.Fatalf("Get(%s/%s): %v", k.PK, k.SK, err)
	}
	return it
}

func batchPut(t *testing.T, s store.Store, ctx context.Context, items []store.Item) {
	t.Helper()
	if err := s.BatchPut(ctx, items); err != nil {
		t.Fatalf("BatchPut: %v", err)
	}
}

// query returns the first page of q, which must be the only one.
func query(t *testing.T, s store.Store, ctx context.Context, q store.Query) []store.Item {
	t.Helper()
	page, err := s.Query(ctx, q)
	if err != nil {
		t.Fatalf("Query(%+v): %v", q, err)
	}
	if page.Next != "" {
		t.Errorf("Query(%+v): Next = %q, want the only page", q, page.Next)
	}
	return page.Items
}

// queryAll follows the cursors of q to the last page and returns the items
// of all pages. A page may come back short, or even empty, but never longer
// than the limit.
func queryAll(t *testing.T, s store.Store, ctx context.Context, q store.Query) []store.Item {
	t.Helper()
	limit := q.Limit
	if limit == 0 {
		limit = store.DefaultLimit
	}
	var all []store.Item
	for range 1000 {
		page, err := s.Query(ctx, q)
		if err != nil {
			t.Fatalf("Query(%+v): %v", q, err)
		}
		if len(page.Items) > limit {
			t.Fatalf("Query(%+v) returned %d items, want at most %d", q, len(page.Items), limit)
		}
		all = append(all, page.Items...)
		if page.Next == "" {
			return all
		}
		q.Cursor = page.Next
	}
	t.Fatalf("Query(%+v): more than 1000 pages", q)
	return nil
}

// describe names a query by its fields that are set.
func describe(q store.Query) string {
	var parts []string
	for _, f := range []struct{ name, value string }{{"PK", q.PK}, {"Index", q.Index}, {"Prefix", q.Prefix}} {
		if f.value != "" {
			parts = append(parts, f.name+"="+f.value)
		}
	}
	if q.Limit != 0 {
		parts = append(parts, fmt.Sprintf("Limit=%d", q.Limit))
	}
	if q.Reverse {
		parts = append(parts, "Reverse")
	}
	return strings.Join(parts, ",")
}

// keys returns "PK/SK" of each item.
func keys(items []store.Item) []string {
	var ks []string
	for _, it := range items {
		ks = append(ks, it.PK+"/"+it.SK)
	}
	return ks
}

// checkKeys checks that items are exactly those of want ("PK/SK"), in order.
func checkKeys(t *testing.T, op string, items []store.Item, want ...string) {
	t.Helper()
	if got := keys(items); !slices.Equal(got, want) {
		t.Errorf("%s = %q, want %q", op, got, want)
	}
}

func checkItem(t *testing.T, op string, got, want store.Item) {
	t.Helper()
	if got.PK != want.PK || got.SK != want.SK || got.Index != want.Index || !bytes.Equal(got.Data, want.Data) ||
		got.Version != want.Version || !got.ExpiresAt.Equal(want.ExpiresAt) {
		t.Errorf("%s = %s, want %s", op, show(got), show(want))
	}
}

func show(it store.Item) string {
	return fmt.Sprintf("{PK:%q SK:%q Index:%q Data:%q Version:%d ExpiresAt:%v}",
		it.PK, it.SK, it.Index, it.Data, it.Version, it.ExpiresAt)
}
