package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/alto/alto/shared/blob"
	"github.com/alto/alto/shared/store"
)

// Vault keeps the chain's digests where nobody can change or delete them
// (AUD-02): on AWS an S3 bucket with Object Lock in compliance mode,
// locally a folder of its own. Keys are relative to the tenant, as in the
// blob port.
type Vault interface {
	Put(ctx context.Context, key string, r io.Reader) (blob.Object, error)
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	List(ctx context.Context, prefix, cursor string, limit int) (blob.Page, error)
}

// Digest is the chain's head at one moment, kept in the vault.
type Digest struct {
	Seq  int64     `json:"seq"`
	Hash string    `json:"hash"`
	At   time.Time `json:"at"`
}

const (
	digestPfx = "audit-digests/"
	anchorPfx = "audit-anchors/"
)

func digestKey(seq int64) string { return digestPfx + fmt.Sprintf("%020d.json", seq) }

// WriteDigest writes the tenant's head to the vault, unless the vault
// holds it already, and returns it. The sweep calls it hourly for every
// tenant, so a removed or rewritten stretch of the chain, its tail
// included, is caught by Verify. An empty chain writes nothing and
// returns the zero Digest.
func (l *Log) WriteDigest(ctx context.Context) (Digest, error) {
	if l.Vault == nil {
		return Digest{}, errors.New("audit: write digest: no vault")
	}
	head, err := l.Head(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return Digest{}, nil
	}
	if err != nil {
		return Digest{}, err
	}
	d := Digest{Seq: head.Seq, Hash: head.Hash, At: l.now().UTC()}
	if _, err := l.Vault.Get(ctx, digestKey(d.Seq)); err == nil {
		return d, nil // written by an earlier run: a vault object is never rewritten
	} else if !errors.Is(err, blob.ErrNotFound) {
		return Digest{}, fmt.Errorf("audit: write digest: %w", err)
	}
	data, _ := json.Marshal(d)
	if _, err := l.Vault.Put(ctx, digestKey(d.Seq), bytes.NewReader(data)); err != nil {
		return Digest{}, fmt.Errorf("audit: write digest: %w", err)
	}
	return d, nil
}

// digests returns the tenant's digests in the vault, oldest first.
func (l *Log) digests(ctx context.Context) ([]Digest, error) {
	if l.Vault == nil {
		return nil, nil
	}
	var out []Digest
	for cursor := ""; ; {
		page, err := l.Vault.List(ctx, digestPfx, cursor, 1000)
		if err != nil {
			return nil, err
		}
		for _, o := range page.Objects {
			rc, err := l.Vault.Get(ctx, o.Key)
			if err != nil {
				return nil, err
			}
			var d Digest
			err = json.NewDecoder(io.LimitReader(rc, 4096)).Decode(&d)
			rc.Close()
			if err != nil || o.Key != digestKey(d.Seq) {
				return nil, fmt.Errorf("digest %s unreadable", o.Key)
			}
			out = append(out, d)
		}
		if cursor = page.Next; cursor == "" {
			return out, nil
		}
	}
}

// sealed returns the vault's digests by sequence number.
func (l *Log) sealed(ctx context.Context) (map[int64]string, error) {
	ds, err := l.digests(ctx)
	if err != nil {
		return nil, err
	}
	m := make(map[int64]string, len(ds))
	for _, d := range ds {
		m[d.Seq] = d.Hash
	}
	return m, nil
}

// vaultAnchor records a in the vault before the store's anchor moves to it,
// so an anchor moved by anyone but the retention sweep is caught.
func (l *Log) vaultAnchor(ctx context.Context, a anchor) error {
	if l.Vault == nil {
		return nil
	}
	data, _ := json.Marshal(a)
	_, err := l.Vault.Put(ctx, anchorPfx+fmt.Sprintf("%020d.json", a.Seq), bytes.NewReader(data))
	return err
}

// lastVaultAnchor returns the newest anchor recorded in the vault, or the
// zero anchor.
func (l *Log) lastVaultAnchor(ctx context.Context) (anchor, error) {
	var last anchor
	if l.Vault == nil {
		return last, nil
	}
	for cursor := ""; ; {
		page, err := l.Vault.List(ctx, anchorPfx, cursor, 1000)
		if err != nil {
			return last, err
		}
		if n := len(page.Objects); n > 0 {
			rc, err := l.Vault.Get(ctx, page.Objects[n-1].Key)
			if err != nil {
				return last, err
			}
			err = json.NewDecoder(io.LimitReader(rc, 4096)).Decode(&last)
			rc.Close()
			if err != nil {
				return last, fmt.Errorf("anchor %s unreadable", page.Objects[n-1].Key)
			}
		}
		if cursor = page.Next; cursor == "" {
			return last, nil
		}
	}
}
