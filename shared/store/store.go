// Package store declares the DynamoDB-shaped storage port every adapter
// honours: items addressed by partition key and sort key, conditional puts,
// queries by key prefix with cursors, one secondary index (the blind index),
// batch writes and expiry.
//
// Keys are relative to the tenant: an adapter takes the tenant from the
// context (see package tenant) and prefixes it to every key itself, so no
// caller can build a key for another tenant (ACC-03). A context without a
// tenant fails with tenant.ErrNoTenant.
//
// The contract is checked by the suite in package storetest.
package store

import (
	"context"
	"errors"
	"time"
)

// Errors returned by every Store.
var (
	ErrNotFound        = errors.New("store: item not found")
	ErrConditionFailed = errors.New("store: condition failed")
	ErrInvalid         = errors.New("store: invalid request")
)

// Limits shared by every adapter.
const (
	MaxKeyLen    = 512       // bytes in PK or SK (relative to the tenant)
	MaxItemSize  = 350 << 10 // bytes of Data; DynamoDB allows 400 KB per item
	MaxLimit     = 1000      // items per query page
	DefaultLimit = 100
)

// Item is one stored record. Keys, index and prefix are UTF-8 without NUL
// bytes; anything else is ErrInvalid.
type Item struct {
	PK string // partition key, relative to the tenant; required
	SK string // sort key; required
	// Index is an optional secondary key (a blind index), queried with
	// Query{Index: ...}. Empty means the item is not indexed.
	// At most MaxKeyLen bytes.
	Index string
	Data  []byte
	// Version is the stored version: 1 after the first put, one more after
	// each put. A Put sets it; callers pass back what they read for IfVersion.
	Version int64
	// ExpiresAt is when the item stops existing; zero means never. Adapters
	// keep at least whole seconds. An expired item is invisible to Get and
	// Query even before it is removed.
	ExpiresAt time.Time
}

// Key addresses one item.
type Key struct{ PK, SK string }

// Cond is the condition a Put must meet.
type Cond int

const (
	// Always writes unconditionally.
	Always Cond = iota
	// IfAbsent writes only if no live item has the key.
	IfAbsent
	// IfVersion writes only if the live item's Version equals the Version
	// of the item being put.
	IfVersion
)

// Query selects items of one partition (or of one index value), in sort-key
// order.
type Query struct {
	PK     string // the partition to read; ignored when Index is set
	Index  string // when set, read the items whose Index equals it instead
	Prefix string // only sort keys with this prefix
	Cursor string // from a previous Page.Next; empty starts at the beginning
	Limit  int    // 0 means DefaultLimit; more than MaxLimit is ErrInvalid
	// Reverse reads in descending sort-key order.
	Reverse bool
}

// Page is one page of a query. Next is empty on the last page. A page may
// hold fewer than Limit items, or none, while Next is set (expired items are
// filtered after the read, as DynamoDB filters); callers follow Next.
type Page struct {
	Items []Item
	Next  string
}

// Store is the storage port. Implementations may be called concurrently.
type Store interface {
	// Get returns the live item at k. Returns ErrNotFound if there is none.
	Get(ctx context.Context, k Key) (Item, error)
	// Put writes it under cond and returns the stored item (with its new
	// Version). Returns ErrConditionFailed if cond does not hold.
	Put(ctx context.Context, it Item, cond Cond) (Item, error)
	// Delete removes the item at k; deleting a missing item is not an error.
	Delete(ctx context.Context, k Key) error
	// Query returns one page of the items q selects.
	Query(ctx context.Context, q Query) (Page, error)
	// BatchPut writes all items unconditionally, each with Version 1 more
	// than the item's Version field. It validates every item before writing
	// any; a write failure after that may leave part of the batch written
	// (DynamoDB batches are not atomic), and the error says so: retrying the
	// whole batch is safe.
	BatchPut(ctx context.Context, items []Item) error
	// BatchDelete removes all keys.
	BatchDelete(ctx context.Context, keys []Key) error
}
