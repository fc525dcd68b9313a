package campaign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/alto/alto/shared/store"
)

// List returns one page of the tenant's campaigns, in ID order, and the
// cursor of the next page ("" on the last). Exports walk every campaign
// with it.
func (s *Service) List(ctx context.Context, cursor string, limit int) ([]Campaign, string, error) {
	page, err := s.Store.Query(ctx, store.Query{PK: campaignsPK, Cursor: cursor, Limit: limit})
	if err != nil {
		return nil, "", fmt.Errorf("campaign: list: %w", err)
	}
	out := make([]Campaign, 0, len(page.Items))
	for _, it := range page.Items {
		var c Campaign
		if err := json.Unmarshal(it.Data, &c); err != nil {
			return nil, "", fmt.Errorf("campaign: decode %s: %w", it.SK, err)
		}
		out = append(out, c)
	}
	return out, page.Next, nil
}

// DraftOf returns the draft of campaign id for contact, opened. Returns
// ErrNotFound if there is none (never drafted, or expired).
func (s *Service) DraftOf(ctx context.Context, id, contact string) (Draft, error) {
	it, err := s.Store.Get(ctx, store.Key{PK: draftPK(id), SK: contact})
	if errors.Is(err, store.ErrNotFound) {
		return Draft{}, ErrNotFound
	}
	if err != nil {
		return Draft{}, fmt.Errorf("campaign: get draft: %w", err)
	}
	return s.openDraft(ctx, it)
}

// openDraft decodes a stored draft and opens its sealed body and footer.
func (s *Service) openDraft(ctx context.Context, it store.Item) (Draft, error) {
	var sd storedDraft
	if err := json.Unmarshal(it.Data, &sd); err != nil {
		return Draft{}, fmt.Errorf("campaign: decode draft: %w", err)
	}
	pt, err := s.Keys.Open(ctx, it.PK+"#"+it.SK, "draft", sd.Sealed)
	if err != nil {
		return Draft{}, fmt.Errorf("campaign: open draft: %w", err)
	}
	var secret struct{ Body, Footer string }
	err = json.Unmarshal(pt, &secret)
	clear(pt)
	if err != nil {
		return Draft{}, fmt.Errorf("campaign: decode draft: %w", err)
	}
	d := sd.Draft
	d.Body, d.Footer = secret.Body, secret.Footer
	return d, nil
}

// DeleteDrafts removes every draft of contactID, in every campaign, and
// returns how many it removed (an erasure, PRG-01).
func (s *Service) DeleteDrafts(ctx context.Context, contactID string) (int, error) {
	n, cursor := 0, ""
	for {
		camps, next, err := s.List(ctx, cursor, store.MaxLimit)
		if err != nil {
			return n, err
		}
		for _, c := range camps {
			k := store.Key{PK: draftPK(c.ID), SK: contactID}
			if _, err := s.Store.Get(ctx, k); errors.Is(err, store.ErrNotFound) {
				continue
			} else if err != nil {
				return n, fmt.Errorf("campaign: erase draft: %w", err)
			}
			if err := s.Store.Delete(ctx, k); err != nil {
				return n, fmt.Errorf("campaign: erase draft: %w", err)
			}
			n++
		}
		if cursor = next; cursor == "" {
			return n, nil
		}
	}
}

// DraftPartitions calls fn with the store partition of every campaign's
// drafts, for the retention sweep (RET-02), and stops at fn's first error.
func (s *Service) DraftPartitions(ctx context.Context, fn func(pk string) error) error {
	for cursor := ""; ; {
		camps, next, err := s.List(ctx, cursor, store.MaxLimit)
		if err != nil {
			return err
		}
		for _, c := range camps {
			if err := fn(draftPK(c.ID)); err != nil {
				return err
			}
		}
		if cursor = next; cursor == "" {
			return nil
		}
	}
}
