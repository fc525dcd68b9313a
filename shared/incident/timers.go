package incident

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/alto/alto/shared/notify"
	"github.com/alto/alto/shared/store"
)

// maxOpenPerTick bounds the open incidents one Tick settles; the rest wait
// for the next.
const maxOpenPerTick = 1000

// Tick runs the `sla` schedule once: the detectors read the audit stream
// and open incidents (INC-04), then every open incident gets what is due:
// its notice, updates and RCA delivered to the affected tenants unless a
// hold is in force (INC-01..03), and an alarm plus an e-mail to the
// security team for each timer that is overdue (OPS-04). It is idempotent:
// running it again sends and raises nothing twice. A recipient that cannot
// be reached (mail refused, webhook down) is not Tick's failure: it is
// logged and retried on the next run, raises the notice alarm once the
// notice is overdue, and is given up with an alarm of its own after 72
// hours. Failures of Alto's own storage, audit log or alarms are returned,
// joined; one incident's failure does not stop the others.
func (s *Service) Tick(ctx context.Context) error {
	now := s.cfg.Now().UTC()
	var errs []error
	if err := s.Detect(ctx); err != nil {
		errs = append(errs, err)
	}
	cursor := ""
	for done := 0; done < maxOpenPerTick && ctx.Err() == nil; {
		page, err := s.cfg.Store.Query(platform(ctx), store.Query{PK: pkOpen, Cursor: cursor, Limit: 100})
		if err != nil {
			errs = append(errs, fmt.Errorf("incident: tick: list open incidents: %w", err))
			break
		}
		for _, it := range page.Items {
			done++
			if _, err := s.process(ctx, it.SK, now); err != nil {
				errs = append(errs, err)
			}
		}
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	if ctx.Err() != nil {
		errs = append(errs, ctx.Err())
	}
	return errors.Join(errs...)
}

// process settles one open incident at now: deliveries, alarms, and its
// removal from the index once nothing is left to do. It returns the
// incident as stored afterwards (zero if it does not exist).
func (s *Service) process(ctx context.Context, id string, now time.Time) (Incident, error) {
	inc, _, err := s.load(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return Incident{}, s.dropOrphan(ctx, id, now)
	}
	if err != nil {
		return Incident{}, err
	}
	var errs []error
	n, err := s.deliver(ctx, &inc, now)
	if err != nil {
		errs = append(errs, err)
	}
	if n > inc.Delivered {
		updated, err := s.modify(ctx, id, func(i *Incident) error {
			i.Delivered = max(i.Delivered, n)
			return nil
		})
		if err != nil {
			errs = append(errs, err)
		} else {
			inc = updated
		}
	}
	if err := s.checkTimers(ctx, &inc, now); err != nil {
		errs = append(errs, err)
	}
	if inc.Status == Resolved && inc.RCA != nil && inc.Delivered >= len(messagesOf(&inc)) {
		if err := s.cfg.Store.Delete(platform(ctx), store.Key{PK: pkOpen, SK: id}); err != nil {
			errs = append(errs, fmt.Errorf("incident: close %s: %w", id, err))
		}
	}
	return inc, errors.Join(errs...)
}

// dropOrphan removes an index entry whose incident was never stored (a
// crash between the two puts of create), once it is old enough that the
// incident is not merely about to be stored.
func (s *Service) dropOrphan(ctx context.Context, id string, now time.Time) error {
	k := store.Key{PK: pkOpen, SK: id}
	it, err := s.cfg.Store.Get(platform(ctx), k)
	if err != nil {
		return nil // gone already
	}
	var e indexEntry
	if json.Unmarshal(it.Data, &e) == nil && now.Sub(e.At) < indexOrphans {
		return nil
	}
	return s.cfg.Store.Delete(platform(ctx), k)
}

// checkTimers raises an alarm for every overdue timer of inc, and one for
// an incident a detector opened, each once.
func (s *Service) checkTimers(ctx context.Context, inc *Incident, now time.Time) error {
	var errs []error
	if strings.HasPrefix(inc.Source, "detector:") {
		a := notify.Alarm{Name: "incident.detected", Detail: map[string]string{"incident": inc.ID,
			"detector": strings.TrimPrefix(inc.Source, "detector:"), "severity": string(inc.Severity)}}
		subject := fmt.Sprintf("[Alto security] Detector opened incident %s", inc.ID)
		text := fmt.Sprintf("The %s detector opened incident %s (%s): %s\n\n%s\n\nTriage it: post an update within %d hours.\n",
			a.Detail["detector"], inc.ID, inc.Severity, inc.Title, inc.Description, int(UpdateEvery.Hours()))
		if err := s.raise(ctx, inc.ID, "detected", a, subject, text, now); err != nil {
			errs = append(errs, err)
		}
	}
	d := inc.Deadlines()
	for _, kind := range inc.Overdue(now) {
		key, due, what := kind, d.Notice, "first notice to the affected tenants"
		switch kind {
		case OverdueUpdate:
			due, what = d.NextUpdate, "status update"
			key = "update-" + due.UTC().Format("20060102t150405")
		case OverdueRCA:
			due, what = d.RCA, "root-cause analysis"
		}
		a := notify.Alarm{Name: "incident." + kind + "_overdue", Detail: map[string]string{"incident": inc.ID,
			"severity": string(inc.Severity), "dueAt": due.UTC().Format(time.RFC3339)}}
		subject := fmt.Sprintf("[Alto security] Overdue %s for incident %s", what, inc.ID)
		text := fmt.Sprintf("The %s for incident %s (%s, %s) was due at %s and is overdue.\n",
			what, inc.ID, inc.Severity, inc.Status, due.UTC().Format(time.RFC3339))
		if err := s.raise(ctx, inc.ID, key, a, subject, text, now); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// raise raises alarm a for the incident and e-mails the security team,
// unless the alarm with this key was raised before. It records the alarm
// after raising it: a crash in between raises it again rather than never.
func (s *Service) raise(ctx context.Context, id, key string, a notify.Alarm, subject, text string, now time.Time) error {
	pctx := platform(ctx)
	k := store.Key{PK: pkAlarm + id, SK: key}
	if _, err := s.cfg.Store.Get(pctx, k); err == nil {
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("incident: get alarm %s of %s: %w", key, id, err)
	}
	if err := s.cfg.Alarms.Raise(ctx, a); err != nil {
		return fmt.Errorf("incident: raise %s for %s: %w", a.Name, id, err)
	}
	if len(s.cfg.SecurityTeam) > 0 {
		err := s.cfg.Mailer.Send(ctx, notify.Email{To: s.cfg.SecurityTeam, Subject: subject, Text: text,
			ID: "alarm/" + id + "/" + key})
		if err != nil {
			return fmt.Errorf("incident: e-mail %s for %s to the security team: %w", a.Name, id, err)
		}
	}
	data, _ := json.Marshal(indexEntry{At: now})
	if _, err := s.cfg.Store.Put(pctx, store.Item{PK: k.PK, SK: k.SK, Data: data}, store.IfAbsent); err != nil &&
		!errors.Is(err, store.ErrConditionFailed) {
		return fmt.Errorf("incident: record alarm %s of %s: %w", key, id, err)
	}
	return nil
}
