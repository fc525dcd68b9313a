// Package bolt provides the embedded adapters of the one-machine runtime: a
// store.Store and a queue (queue.Sender and queue.Consumer) kept together in
// one bbolt file.
//
// bbolt allows one process per file: Open fails with ErrInUse while another
// process holds it. Within the process, a DB and the Store and Queue it
// returns may be used concurrently; writes are serialized by bbolt.
package bolt

import (
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// ErrInUse is returned by Open when another process holds the data file.
var ErrInUse = errors.New("bolt: data file is in use by another process")

// lockTimeout bounds how long Open waits for the file lock.
const lockTimeout = time.Second

// Options configure Open.
type Options struct {
	// Now is the clock for item expiry and for queue delays, visibility and
	// retention; nil means time.Now.
	Now func() time.Time
	// NoSync skips the fsync after each transaction: a crash of the
	// machine may then lose the last transactions. For tests that do not
	// exercise power loss; never for data anyone keeps.
	NoSync bool
}

// DB is one open data file.
type DB struct {
	db  *bbolt.DB
	now func() time.Time
}

// Open opens the data file at path, creating it with mode 0600 if needed.
// Returns an error wrapping ErrInUse if another process holds the file.
func Open(path string, opts Options) (*DB, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: lockTimeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s", ErrInUse, path)
	}
	if err != nil {
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{itemsBucket, indexBucket, expiryBucket, queuesBucket} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	db.NoSync = opts.NoSync
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &DB{db: db, now: now}, nil
}

// Close closes the data file. Calls on its Store and Queues fail afterwards.
func (db *DB) Close() error {
	if err := db.db.Close(); err != nil {
		return fmt.Errorf("bolt: close: %w", err)
	}
	return nil
}

// Store returns the store kept in db.
func (db *DB) Store() *Store {
	return &Store{db: db.db, now: db.now}
}
