package subject

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/alto/alto/shared/store"
)

// DropArchives deletes the export archives that may hold any of the
// contacts ids, for their erasure (PRG-01): every workspace export's, and
// those of the subject requests that matched one of them. The requests
// keep their history and result, without a download. Running it again
// deletes nothing more. Returns how many archives it deleted.
func (s *Service) DropArchives(ctx context.Context, ids []string) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	n := 0
	for _, pk := range []string{requestsPK, exportsPK} {
		for cursor := ""; ; {
			page, err := s.Store.Query(ctx, store.Query{PK: pk, Cursor: cursor, Limit: store.MaxLimit})
			if err != nil {
				return n, fmt.Errorf("subject: drop archives: %w", err)
			}
			for _, it := range page.Items {
				var r record
				if err := json.Unmarshal(it.Data, &r); err != nil {
					return n, fmt.Errorf("subject: decode %s: %w", it.SK, err)
				}
				holds := pk == exportsPK || slices.ContainsFunc(r.ContactIDs, func(id string) bool { return slices.Contains(ids, id) })
				if r.Archive == "" || !holds {
					continue
				}
				if err := s.Blobs.Delete(ctx, r.Archive); err != nil {
					return n, fmt.Errorf("subject: drop archive of %s: %w", r.ID, err)
				}
				_, err := s.update(ctx, pk, r.ID, func(r *record) error {
					r.Archive, r.ArchiveExpiresAt = "", time.Time{}
					return nil
				})
				if err != nil {
					return n, err
				}
				n++
			}
			if cursor = page.Next; cursor == "" {
				break
			}
		}
	}
	return n, nil
}
