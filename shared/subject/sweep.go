package subject

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/alto/alto/shared/notify"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/tenant"
)

// Alarm names the sweep raises (OPS-04).
const (
	AlarmDueSoon = "dsr.due_soon" // an open request is due within NearDue
	AlarmOverdue = "dsr.overdue"  // an open request is past its due date
)

// MaxSweep bounds the index entries one sweep reads, per index; the rest
// waits for the next run.
const MaxSweep = 1000

// dueEntry is an open subject request in the platform's due index, sorted
// by due date across tenants. It leaves the index when the request is done
// or once its overdue alarm is raised.
type dueEntry struct {
	Org   tenant.ID `json:"org"`
	ID    string    `json:"id"`
	DueAt time.Time `json:"dueAt"`
	Near  bool      `json:"near,omitempty"` // AlarmDueSoon was raised
}

// archiveEntry is a stored export archive in the platform's expiry index.
type archiveEntry struct {
	Org tenant.ID `json:"org"`
	ID  string    `json:"id"`
	Key string    `json:"key"`
}

const sortableTime = "20060102T150405.000Z"

func dueKey(org tenant.ID, r Request) store.Key {
	return store.Key{PK: duePK, SK: r.DueAt.UTC().Format(sortableTime) + "#" + string(org) + "#" + r.ID}
}

// putDue adds r to the due index.
func (s *Service) putDue(ctx context.Context, org tenant.ID, r Request, near bool) error {
	data, _ := json.Marshal(dueEntry{Org: org, ID: r.ID, DueAt: r.DueAt, Near: near})
	k := dueKey(org, r)
	if _, err := s.Store.Put(tenant.WithPlatform(ctx), store.Item{PK: k.PK, SK: k.SK, Data: data}, store.Always); err != nil {
		return fmt.Errorf("subject: due index %s: %w", r.ID, err)
	}
	return nil
}

// deleteDue removes r from the due index.
func (s *Service) deleteDue(ctx context.Context, org tenant.ID, r Request) error {
	if err := s.Store.Delete(tenant.WithPlatform(ctx), dueKey(org, r)); err != nil {
		return fmt.Errorf("subject: due index %s: %w", r.ID, err)
	}
	return nil
}

// putArchive adds an archive to the expiry index.
func (s *Service) putArchive(ctx context.Context, org tenant.ID, id, key string, expires time.Time) error {
	data, _ := json.Marshal(archiveEntry{Org: org, ID: id, Key: key})
	sk := expires.UTC().Format(sortableTime) + "#" + string(org) + "#" + key
	if _, err := s.Store.Put(tenant.WithPlatform(ctx), store.Item{PK: archivesPK, SK: sk, Data: data}, store.Always); err != nil {
		return fmt.Errorf("subject: archive index %s: %w", id, err)
	}
	return nil
}

// Sweep is the hourly run (RET-08 style: idempotent, bounded, resumable by
// running again): it raises AlarmDueSoon once for every open subject
// request due within NearDue and AlarmOverdue once for every one past its
// due date, whatever its tenant, and deletes export archives past their
// lifetime. An alarm is raised before it is recorded, so a crash in
// between raises it again rather than never. Returns the errors of the
// entries it could not handle; the others are done.
func (s *Service) Sweep(ctx context.Context) error {
	return errors.Join(s.sweepDue(ctx), s.sweepArchives(ctx))
}

func (s *Service) sweepDue(ctx context.Context) error {
	pctx := tenant.WithPlatform(ctx)
	now := s.now()
	var errs []error
	cursor, seen := "", 0
	for seen < MaxSweep {
		page, err := s.Store.Query(pctx, store.Query{PK: duePK, Cursor: cursor, Limit: min(100, MaxSweep-seen)})
		if err != nil {
			return fmt.Errorf("subject: sweep: %w", err)
		}
		for _, it := range page.Items {
			seen++
			var e dueEntry
			if err := json.Unmarshal(it.Data, &e); err != nil || tenant.Valid(string(e.Org)) != nil {
				errs = append(errs, fmt.Errorf("subject: sweep: unreadable due entry %s", it.SK))
				continue
			}
			if e.DueAt.After(now.Add(NearDue)) {
				return errors.Join(errs...) // sorted by due date: nothing later is near
			}
			if err := s.checkDue(ctx, e, it, now); err != nil {
				errs = append(errs, err)
			}
		}
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	return errors.Join(errs...)
}

// checkDue raises the alarm e is due for, if not raised yet.
func (s *Service) checkDue(ctx context.Context, e dueEntry, it store.Item, now time.Time) error {
	pctx := tenant.WithPlatform(ctx)
	k := store.Key{PK: it.PK, SK: it.SK}
	r, _, err := s.load(tenant.With(ctx, e.Org), requestsPK, e.ID)
	if errors.Is(err, ErrNotFound) || (err == nil && r.Status == Done) {
		return s.Store.Delete(pctx, k) // gone, or done and its index left behind
	}
	if err != nil {
		return err
	}
	overdue := !e.DueAt.After(now)
	if !overdue && e.Near {
		return nil
	}
	name := AlarmDueSoon
	if overdue {
		name = AlarmOverdue
	}
	err = s.Alarms.Raise(ctx, notify.Alarm{Name: name, Detail: map[string]string{
		"org": string(e.Org), "request": e.ID, "type": r.Type, "status": r.Status,
		"dueAt": e.DueAt.UTC().Format(time.RFC3339)}})
	if err != nil {
		return fmt.Errorf("subject: raise %s for %s: %w", name, e.ID, err)
	}
	if overdue {
		return s.Store.Delete(pctx, k) // both alarms are raised: nothing more to watch
	}
	e.Near = true
	data, _ := json.Marshal(e)
	it.Data = data
	if _, err := s.Store.Put(pctx, it, store.IfVersion); err != nil && !errors.Is(err, store.ErrConditionFailed) {
		return fmt.Errorf("subject: record %s for %s: %w", name, e.ID, err)
	}
	return nil
}

// sweepArchives deletes the archives whose lifetime has ended.
func (s *Service) sweepArchives(ctx context.Context) error {
	pctx := tenant.WithPlatform(ctx)
	now := s.now().UTC().Format(sortableTime)
	var errs []error
	cursor, seen := "", 0
	for seen < MaxSweep {
		page, err := s.Store.Query(pctx, store.Query{PK: archivesPK, Cursor: cursor, Limit: min(100, MaxSweep-seen)})
		if err != nil {
			return fmt.Errorf("subject: sweep archives: %w", err)
		}
		for _, it := range page.Items {
			seen++
			if it.SK > now {
				return errors.Join(errs...)
			}
			if err := s.expireArchive(ctx, it); err != nil {
				errs = append(errs, err)
			}
		}
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	return errors.Join(errs...)
}

// expireArchive deletes the archive of an expiry index entry, forgets it
// on its request and drops the entry.
func (s *Service) expireArchive(ctx context.Context, it store.Item) error {
	var e archiveEntry
	if err := json.Unmarshal(it.Data, &e); err != nil || tenant.Valid(string(e.Org)) != nil ||
		!strings.HasPrefix(e.Key, ExportPrefix) {
		return fmt.Errorf("subject: sweep: unreadable archive entry %s", it.SK)
	}
	tctx := tenant.With(ctx, e.Org)
	if err := s.Blobs.Delete(tctx, e.Key); err != nil {
		return fmt.Errorf("subject: delete archive of %s: %w", e.ID, err)
	}
	if pk, ok := partitionOf(e.ID); ok {
		_, err := s.update(tctx, pk, e.ID, func(r *record) error {
			if r.Archive != e.Key {
				return errFinished // another run's archive, or forgotten already
			}
			r.Archive = ""
			return nil
		})
		if err != nil && !errors.Is(err, errFinished) && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return s.Store.Delete(tenant.WithPlatform(ctx), store.Key{PK: it.PK, SK: it.SK})
}
