package bolt

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"go.etcd.io/bbolt"

	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/tenant"
)

// Buckets of the store. Item and index keys start with the tenant and the
// partition (or index value), each prefixed with its length, so no pk or
// index value can reach into another tenant or partition:
//
//	items:  len tenant len pk sk         → item value
//	index:  len tenant len index sk 0 pk → items key
//	expiry: expiry time, items key       → nothing
//
// Sort keys cannot contain NUL, so in the index the NUL after sk keeps
// sort-key order and separates sk from pk.
var (
	itemsBucket  = []byte("items")
	indexBucket  = []byte("index")
	expiryBucket = []byte("expiry")
)

// never is the stored expiry time of an item that does not expire.
const never = math.MaxInt64

var errCorrupt = errors.New("bolt: corrupt record")

// Store is the store.Store kept in a DB. Keys may hold any bytes but NUL
// (rejected with store.ErrInvalid); ExpiresAt is kept to the millisecond.
// A Store may be used concurrently.
type Store struct {
	db  *bbolt.DB
	now func() time.Time
}

var _ store.Store = (*Store)(nil)

// Get returns the live item at k of the context's tenant. Returns
// store.ErrNotFound if there is none, tenant.ErrNoTenant without a tenant and
// store.ErrInvalid for a malformed key.
func (s *Store) Get(ctx context.Context, k store.Key) (store.Item, error) {
	t, err := tenant.From(ctx)
	if err == nil {
		err = store.CheckKey(k)
	}
	if err != nil {
		return store.Item{}, fmt.Errorf("bolt: get: %w", err)
	}
	var it store.Item
	err = s.db.View(func(tx *bbolt.Tx) error {
		var found bool
		it, found, err = itemsOf(tx).load(itemKey(t, k.PK, k.SK))
		if err == nil && (!found || !live(it, s.now())) {
			err = store.ErrNotFound
		}
		return err
	})
	if err != nil {
		return store.Item{}, fmt.Errorf("bolt: get: %w", err)
	}
	return it, nil
}

// Put writes it for the context's tenant under cond and returns the stored
// item. Returns store.ErrConditionFailed if cond does not hold,
// tenant.ErrNoTenant without a tenant and store.ErrInvalid for a malformed
// item.
func (s *Store) Put(ctx context.Context, it store.Item, cond store.Cond) (store.Item, error) {
	t, err := tenant.From(ctx)
	if err == nil {
		err = store.CheckPut(it, cond)
	}
	if err != nil {
		return store.Item{}, fmt.Errorf("bolt: put: %w", err)
	}
	err = s.db.Update(func(tx *bbolt.Tx) error {
		it, err = itemsOf(tx).put(t, it, cond, s.now())
		return err
	})
	if err != nil {
		return store.Item{}, fmt.Errorf("bolt: put: %w", err)
	}
	return it, nil
}

// Delete removes the item at k of the context's tenant; deleting a missing
// item is not an error. Returns tenant.ErrNoTenant without a tenant and
// store.ErrInvalid for a malformed key.
func (s *Store) Delete(ctx context.Context, k store.Key) error {
	return s.BatchDelete(ctx, []store.Key{k})
}

// Query returns one page of the context's tenant's items that q selects.
// Returns store.ErrInvalid for a malformed query or a cursor that another
// query returned, and tenant.ErrNoTenant without a tenant.
func (s *Store) Query(ctx context.Context, q store.Query) (store.Page, error) {
	t, err := tenant.From(ctx)
	if err == nil {
		err = store.CheckQuery(q)
	}
	if err != nil {
		return store.Page{}, fmt.Errorf("bolt: query: %w", err)
	}
	limit := q.Limit
	if limit == 0 {
		limit = store.DefaultLimit
	}
	// A cursor is the kind of query ('p' partition, 'x' index) and the last
	// key read.
	bucket, kind, prefix := itemsBucket, byte('p'), itemKey(t, q.PK, q.Prefix)
	if q.Index != "" {
		bucket, kind, prefix = indexBucket, 'x', append(partition(t, q.Index), q.Prefix...)
	}
	var after []byte
	if q.Cursor != "" {
		c, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		if err != nil || len(c) == 0 || c[0] != kind || !bytes.HasPrefix(c[1:], prefix) {
			return store.Page{}, fmt.Errorf("bolt: query: cursor does not belong to this query: %w", store.ErrInvalid)
		}
		after = c[1:]
	}
	var page store.Page
	err = s.db.View(func(tx *bbolt.Tx) error {
		x, now := itemsOf(tx), s.now()
		c := tx.Bucket(bucket).Cursor()
		for k, v := start(c, prefix, after, q.Reverse); bytes.HasPrefix(k, prefix); k, v = step(c, q.Reverse) {
			if len(page.Items) == limit {
				page.Next = base64.RawURLEncoding.EncodeToString(append([]byte{kind}, after...))
				break
			}
			it, found, err := x.at(q.Index != "", k, v)
			if err != nil {
				return err
			}
			if found && live(it, now) {
				page.Items = append(page.Items, it)
				after = k
			}
		}
		return nil
	})
	if err != nil {
		return store.Page{}, fmt.Errorf("bolt: query: %w", err)
	}
	return page, nil
}

// start positions c on the first key of the range with prefix that follows
// after (if set) in the direction of reading.
func start(c *bbolt.Cursor, prefix, after []byte, reverse bool) (k, v []byte) {
	if !reverse {
		if after == nil {
			return c.Seek(prefix)
		}
		if k, v = c.Seek(after); bytes.Equal(k, after) {
			return c.Next()
		}
		return k, v
	}
	bound := after
	if bound == nil {
		bound = prefixEnd(prefix)
	}
	if bound == nil {
		return c.Last()
	}
	if k, _ = c.Seek(bound); k == nil {
		return c.Last()
	}
	return c.Prev()
}

func step(c *bbolt.Cursor, reverse bool) (k, v []byte) {
	if reverse {
		return c.Prev()
	}
	return c.Next()
}

// prefixEnd returns the smallest key greater than every key with prefix, or
// nil if there is none.
func prefixEnd(prefix []byte) []byte {
	end := bytes.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// BatchPut writes all items for the context's tenant unconditionally, in one
// transaction: all or none. Returns store.ErrInvalid naming the first
// malformed item (before writing anything) and tenant.ErrNoTenant without a
// tenant.
func (s *Store) BatchPut(ctx context.Context, items []store.Item) error {
	t, err := tenant.From(ctx)
	if err != nil {
		return fmt.Errorf("bolt: batch put: %w", err)
	}
	for i, it := range items {
		if err := store.CheckItem(it); err != nil {
			return fmt.Errorf("bolt: batch put: item %d: %w", i, err)
		}
	}
	err = s.db.Update(func(tx *bbolt.Tx) error {
		x, now := itemsOf(tx), s.now()
		for _, it := range items {
			if _, err := x.put(t, it, store.Always, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bolt: batch put: %w", err)
	}
	return nil
}

// BatchDelete removes the items at keys of the context's tenant, in one
// transaction; missing items are not an error. Returns store.ErrInvalid
// naming the first malformed key (before deleting anything) and
// tenant.ErrNoTenant without a tenant.
func (s *Store) BatchDelete(ctx context.Context, keys []store.Key) error {
	t, err := tenant.From(ctx)
	if err != nil {
		return fmt.Errorf("bolt: delete: %w", err)
	}
	if err := store.CheckKeys(keys); err != nil {
		return fmt.Errorf("bolt: delete: %w", err)
	}
	err = s.db.Update(func(tx *bbolt.Tx) error {
		x := itemsOf(tx)
		for _, k := range keys {
			if err := x.remove(itemKey(t, k.PK, k.SK)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bolt: delete: %w", err)
	}
	return nil
}

// DeleteExpired removes up to limit expired items of every tenant, oldest
// expiry first, and returns how many it removed: the local equivalent of
// DynamoDB's TTL deletion (Get and Query hide expired items already).
// Returns store.ErrInvalid if limit is less than 1. It may be called
// concurrently with other calls.
func (s *Store) DeleteExpired(ctx context.Context, limit int) (int, error) {
	if limit < 1 {
		return 0, fmt.Errorf("bolt: delete expired: limit %d, want at least 1: %w", limit, store.ErrInvalid)
	}
	var n int
	err := s.db.Update(func(tx *bbolt.Tx) error {
		x, now := itemsOf(tx), s.now().UnixMilli()
		var keys [][]byte
		c := x.expiry.Cursor()
		for k, _ := c.First(); k != nil && len(keys) < limit && expiryOf(k) <= now; k, _ = c.Next() {
			keys = append(keys, bytes.Clone(k[8:]))
		}
		for _, k := range keys {
			if err := x.remove(k); err != nil {
				return err
			}
		}
		n = len(keys)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("bolt: delete expired: %w", err)
	}
	return n, nil
}

// itemsTx is the store's buckets in one transaction.
type itemsTx struct{ items, index, expiry *bbolt.Bucket }

func itemsOf(tx *bbolt.Tx) itemsTx {
	return itemsTx{tx.Bucket(itemsBucket), tx.Bucket(indexBucket), tx.Bucket(expiryBucket)}
}

// load returns the item at the items key, live or expired; found is false if
// there is none.
func (x itemsTx) load(key []byte) (it store.Item, found bool, err error) {
	v := x.items.Get(key)
	if v == nil {
		return store.Item{}, false, nil
	}
	it, err = decodeAt(key, v)
	return it, err == nil, err
}

// at returns the item a query reads at cursor position k, v of the index
// bucket or of the items bucket.
func (x itemsTx) at(index bool, k, v []byte) (it store.Item, found bool, err error) {
	if index {
		return x.load(v)
	}
	it, err = decodeAt(k, v)
	return it, err == nil, err
}

// put writes it for tenant t if cond holds at now and returns the stored
// item. An expired item counts as absent.
func (x itemsTx) put(t tenant.ID, it store.Item, cond store.Cond, now time.Time) (store.Item, error) {
	key := itemKey(t, it.PK, it.SK)
	old, found, err := x.load(key)
	if err != nil {
		return store.Item{}, err
	}
	exists := found && live(old, now)
	if (cond == store.IfAbsent && exists) || (cond == store.IfVersion && (!exists || old.Version != it.Version)) {
		return store.Item{}, store.ErrConditionFailed
	}
	if found {
		if err := x.unindex(key, old); err != nil {
			return store.Item{}, err
		}
	}
	it.Version = 1
	if exists {
		it.Version = old.Version + 1
	}
	if !it.ExpiresAt.IsZero() {
		it.ExpiresAt = time.UnixMilli(it.ExpiresAt.UnixMilli())
		if err := x.expiry.Put(expiryKey(it.ExpiresAt, key), nil); err != nil {
			return store.Item{}, err
		}
	}
	if it.Index != "" {
		if err := x.index.Put(indexKey(t, it.Index, it.SK, it.PK), key); err != nil {
			return store.Item{}, err
		}
	}
	return it, x.items.Put(key, encodeItem(it))
}

// remove deletes the item at the items key with its index and expiry
// entries; a missing item is not an error.
func (x itemsTx) remove(key []byte) error {
	old, found, err := x.load(key)
	if err != nil || !found {
		return err
	}
	if err := x.unindex(key, old); err != nil {
		return err
	}
	return x.items.Delete(key)
}

// unindex deletes the index and expiry entries of the item stored at key.
func (x itemsTx) unindex(key []byte, old store.Item) error {
	if old.Index != "" {
		t, _, _ := cutString(key)
		if err := x.index.Delete(indexKey(tenant.ID(t), old.Index, old.SK, old.PK)); err != nil {
			return err
		}
	}
	if !old.ExpiresAt.IsZero() {
		return x.expiry.Delete(expiryKey(old.ExpiresAt, key))
	}
	return nil
}

func live(it store.Item, now time.Time) bool {
	return it.ExpiresAt.IsZero() || now.Before(it.ExpiresAt)
}

// partition returns the key prefix of one partition (or index value) of
// tenant t.
func partition(t tenant.ID, pk string) []byte {
	b := make([]byte, 0, 2*binary.MaxVarintLen16+len(t)+len(pk))
	return appendString(appendString(b, string(t)), pk)
}

func itemKey(t tenant.ID, pk, sk string) []byte {
	return append(partition(t, pk), sk...)
}

func indexKey(t tenant.ID, index, sk, pk string) []byte {
	k := append(partition(t, index), sk...)
	return append(append(k, 0), pk...)
}

// expiryKey orders keys by expiry time: the sign bit of the milliseconds is
// flipped so times before 1970 sort first.
func expiryKey(at time.Time, key []byte) []byte {
	k := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(key)), uint64(at.UnixMilli())^1<<63)
	return append(k, key...)
}

func expiryOf(k []byte) int64 {
	return int64(binary.BigEndian.Uint64(k) ^ 1<<63)
}

// appendString appends s prefixed with its length.
func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// cutString reads what appendString wrote from the start of b.
func cutString(b []byte) (s string, rest []byte, ok bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return "", nil, false
	}
	end := k + int(n)
	return string(b[k:end]), b[end:], true
}

// encodeItem returns the item value: version (8 bytes), expiry in Unix
// milliseconds or never (8 bytes), the index with its length, then the data.
func encodeItem(it store.Item) []byte {
	b := make([]byte, 0, 16+binary.MaxVarintLen16+len(it.Index)+len(it.Data))
	b = binary.BigEndian.AppendUint64(b, uint64(it.Version))
	expires := int64(never)
	if !it.ExpiresAt.IsZero() {
		expires = it.ExpiresAt.UnixMilli()
	}
	b = binary.BigEndian.AppendUint64(b, uint64(expires))
	return append(appendString(b, it.Index), it.Data...)
}

// decodeAt decodes the item stored at the items key. The item does not
// alias key or v.
func decodeAt(key, v []byte) (store.Item, error) {
	_, rest, ok1 := cutString(key)
	pk, sk, ok2 := cutString(rest)
	if !ok1 || !ok2 || len(v) < 16 {
		return store.Item{}, errCorrupt
	}
	index, data, ok := cutString(v[16:])
	if !ok {
		return store.Item{}, errCorrupt
	}
	it := store.Item{
		PK:      pk,
		SK:      string(sk),
		Index:   index,
		Data:    bytes.Clone(data),
		Version: int64(binary.BigEndian.Uint64(v)),
	}
	if ms := int64(binary.BigEndian.Uint64(v[8:])); ms != never {
		it.ExpiresAt = time.UnixMilli(ms)
	}
	return it, nil
}

// DeleteTenant removes up to limit items of the context's tenant, whatever
// their partition, with their index and expiry entries, and returns how many
// it removed; 0 means none are left. It is the physical deletion step of a
// workspace purge. Returns store.ErrInvalid if limit is less than 1 and
// tenant.ErrNoTenant without a tenant.
func (s *Store) DeleteTenant(ctx context.Context, limit int) (int, error) {
	t, err := tenant.From(ctx)
	if err != nil {
		return 0, err
	}
	if limit < 1 {
		return 0, fmt.Errorf("bolt: delete tenant: limit %d, want at least 1: %w", limit, store.ErrInvalid)
	}
	prefix := appendString(nil, string(t))
	var n int
	err = s.db.Update(func(tx *bbolt.Tx) error {
		x := itemsOf(tx)
		var keys [][]byte
		c := x.items.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(keys) < limit; k, _ = c.Next() {
			keys = append(keys, bytes.Clone(k))
		}
		for _, k := range keys {
			if err := x.remove(k); err != nil {
				return err
			}
		}
		n = len(keys)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("bolt: delete tenant: %w", err)
	}
	return n, nil
}
