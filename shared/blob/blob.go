// Package blob declares the object-storage port: whole objects written
// atomically, read as streams, listed by prefix, and reachable by signed,
// time-limited URLs.
//
// Keys are relative to the tenant: adapters prefix the tenant from the
// context (see package tenant). The contract is checked by the suite in
// package blobtest.
package blob

import (
	"context"
	"errors"
	"io"
	"time"
)

// Errors returned by blob adapters.
var (
	ErrNotFound = errors.New("blob: object not found")
	ErrInvalid  = errors.New("blob: invalid key")
)

// Object describes a stored object.
type Object struct {
	Key      string // relative to the tenant
	Size     int64
	Modified time.Time
}

// Page is one page of a listing. Next is empty on the last page.
type Page struct {
	Objects []Object
	Next    string
}

// Store is the object-storage port. Implementations may be called
// concurrently.
type Store interface {
	// Put stores everything read from r under key, replacing any object
	// there. Readers never see a partial object: on error nothing is stored.
	Put(ctx context.Context, key string, r io.Reader) (Object, error)
	// Get opens the object at key. Returns ErrNotFound if there is none.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Delete removes the object; deleting a missing object is not an error.
	Delete(ctx context.Context, key string) error
	// List returns objects whose key starts with prefix, in key order.
	List(ctx context.Context, prefix, cursor string, limit int) (Page, error)
	// SignURL returns a URL that allows method ("GET" or "PUT") on key until
	// ttl from now, with no other credential.
	SignURL(ctx context.Context, method, key string, ttl time.Duration) (string, error)
}
