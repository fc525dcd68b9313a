package campaign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/contact"
	"github.com/alto/alto/shared/queue"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/tenant"
)

// Skipped counts the contacts an enqueue left out, by reason (PER-02).
type Skipped struct {
	NoConsent  int `json:"noConsent"`
	OptedOut   int `json:"optedOut"`
	Suppressed int `json:"suppressed"`
	Restricted int `json:"restricted"`
	NotFound   int `json:"notFound"`
}

// EnqueueResult is what an enqueue did.
type EnqueueResult struct {
	Queued  int     `json:"queued"`
	Skipped Skipped `json:"skipped"`
}

// ineligible says why c may not get a draft of a campaign on channel, or ""
// if it may.
func (s *Service) ineligible(ctx context.Context, channel string, c contact.Contact) (string, error) {
	switch {
	case c.OptedOut:
		return "optedOut", nil
	case c.Restricted || c.Objected:
		return "restricted", nil
	}
	if sup, err := s.Contacts.Suppressed(ctx, c); err != nil || sup {
		return "suppressed", err
	}
	consent := c.Consent.Email
	if channel == Call {
		consent = c.Consent.Call
	}
	if consent != contact.Granted {
		return "noConsent", nil
	}
	return "", nil
}

func (sk *Skipped) count(reason string) {
	switch reason {
	case "noConsent":
		sk.NoConsent++
	case "optedOut":
		sk.OptedOut++
	case "suppressed":
		sk.Suppressed++
	case "restricted":
		sk.Restricted++
	default:
		sk.NotFound++
	}
}

// job is a personalization job: identifiers only, no personal data.
type job struct {
	V        int    `json:"v"`
	Org      string `json:"org"`
	Campaign string `json:"campaign"`
	Contact  string `json:"contact"`
}

// Enqueue puts one job per eligible contact of ids (or, with all, of every
// contact in scope) on the personalization queue and counts the others by
// reason.
func (s *Service) Enqueue(ctx context.Context, scope auth.Scope, id string, ids []string, all bool, actor string) (EnqueueResult, error) {
	org, err := tenant.From(ctx)
	if err != nil {
		return EnqueueResult{}, err
	}
	camp, err := s.Get(ctx, id)
	if err != nil {
		return EnqueueResult{}, err
	}
	var res EnqueueResult
	batch := make([]queue.Message, 0, queue.MaxBatch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if _, err := s.Queue.Send(ctx, Queue, batch, 0); err != nil {
			return fmt.Errorf("campaign: enqueue: %w", err)
		}
		res.Queued += len(batch)
		batch = batch[:0]
		return nil
	}
	consider := func(c contact.Contact) error {
		why, err := s.ineligible(ctx, camp.Channel, c)
		if err != nil {
			return err
		}
		if why != "" {
			res.Skipped.count(why)
			return nil
		}
		body, _ := json.Marshal(job{V: 1, Org: string(org), Campaign: camp.ID, Contact: c.ID})
		batch = append(batch, queue.Message{Body: body, Attributes: map[string]string{"org": string(org)}})
		if len(batch) == queue.MaxBatch {
			return flush()
		}
		return nil
	}
	if all {
		cursor := ""
		for {
			page, next, err := s.Contacts.List(ctx, scope, cursor, store.MaxLimit)
			if err != nil {
				return res, err
			}
			for _, c := range page {
				if err := consider(c); err != nil {
					return res, err
				}
			}
			if cursor = next; cursor == "" {
				break
			}
		}
	} else {
		for _, cid := range ids {
			c, err := s.Contacts.Get(ctx, scope, cid)
			if errors.Is(err, store.ErrNotFound) {
				res.Skipped.NotFound++
				continue
			}
			if err != nil {
				return res, err
			}
			if err := consider(c); err != nil {
				return res, err
			}
		}
	}
	if err := flush(); err != nil {
		return res, err
	}
	err = s.record(ctx, "campaign.enqueued", actor, camp.ID, map[string]string{
		"queued": fmt.Sprint(res.Queued), "skipped": fmt.Sprint(res.Skipped.NoConsent + res.Skipped.OptedOut +
			res.Skipped.Suppressed + res.Skipped.Restricted + res.Skipped.NotFound)})
	return res, err
}

// Draft is a rendered message for one contact of a campaign.
type Draft struct {
	Campaign            string    `json:"campaignId"`
	Contact             string    `json:"contactId"`
	Channel             string    `json:"channel"`
	Body                string    `json:"body"`
	Footer              string    `json:"footer,omitempty"`
	ListUnsubscribe     string    `json:"listUnsubscribe,omitempty"`
	ListUnsubscribePost string    `json:"listUnsubscribePost,omitempty"`
	NotBefore           time.Time `json:"notBefore"`
	CreatedAt           time.Time `json:"createdAt"`
}

// storedDraft keeps the body and footer sealed (they carry personal data).
type storedDraft struct {
	Draft
	Sealed []byte `json:"sealed"`
}

func draftPK(campaign string) string { return "DRAFT#" + campaign }

// HandleSQS renders a batch of jobs. Each job re-checks eligibility at run
// time, keeps calls inside the contact's calling hours and writes at most
// one draft per (campaign, contact) however often it is delivered.
func (s *Service) HandleSQS(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var res events.SQSEventResponse
	for _, m := range ev.Records {
		if err := s.run(ctx, m.Body); err != nil {
			if errors.Is(err, errPermanent) {
				s.log(ctx).WarnContext(ctx, "personalization job dropped", "message_id", m.MessageId, "reason", err.Error())
				continue
			}
			res.BatchItemFailures = append(res.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		}
	}
	return res, nil
}

var errPermanent = errors.New("campaign: job cannot run")

func (s *Service) run(ctx context.Context, body string) error {
	var j job
	if err := json.Unmarshal([]byte(body), &j); err != nil || j.V != 1 || tenant.Valid(j.Org) != nil {
		return fmt.Errorf("%w: not a personalization job", errPermanent)
	}
	ctx = tenant.With(ctx, tenant.ID(j.Org))
	camp, err := s.Get(ctx, j.Campaign)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: campaign gone", errPermanent)
	}
	if err != nil {
		return err
	}
	k := store.Key{PK: draftPK(camp.ID), SK: j.Contact}
	if _, err := s.Store.Get(ctx, k); err == nil {
		return nil // drafted already: a redelivery (PER-05)
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	c, err := s.Contacts.Get(ctx, auth.Scope{All: true}, j.Contact)
	if errors.Is(err, store.ErrNotFound) {
		return nil // deleted or erased since: nothing to draft
	}
	if err != nil {
		return err
	}
	if why, err := s.ineligible(ctx, camp.Channel, c); err != nil || why != "" {
		return err // no longer eligible (opted out since, ...): done
	}
	now := s.now()
	notBefore := now
	if camp.Channel == Call {
		next, ok := NextAllowed(now, Zones(c.TimeZone, c.Phone, c.Country))
		if !ok {
			return fmt.Errorf("%w: no calling window can be known for the contact", errPermanent)
		}
		if next.After(now) {
			return s.park(ctx, body, next.Sub(now)) // never run early (PER-04)
		}
		notBefore = next
	}
	text, err := s.Personalizer.Render(ctx, camp, c)
	if err != nil {
		return fmt.Errorf("%w: %v", errPermanent, err)
	}
	d := Draft{Campaign: camp.ID, Contact: c.ID, Channel: camp.Channel, Body: text, NotBefore: notBefore, CreatedAt: now}
	if camp.Channel == Email {
		if err := s.addFooter(ctx, camp, c, &d); err != nil {
			return err
		}
	}
	return s.saveDraft(ctx, k, d)
}

// park puts the job back on the queue to come back after wait (at most the
// queue's longest delay; a later run parks it again if needed) and lets the
// current delivery end.
func (s *Service) park(ctx context.Context, body string, wait time.Duration) error {
	wait = min(wait.Round(time.Second)+time.Second, queue.MaxDelay)
	org, _ := tenant.From(ctx)
	_, err := s.Queue.Send(ctx, Queue, []queue.Message{{Body: []byte(body), Attributes: map[string]string{"org": string(org)}}}, wait)
	if err != nil {
		return fmt.Errorf("campaign: park: %w", err)
	}
	return nil
}

func (s *Service) saveDraft(ctx context.Context, k store.Key, d Draft) error {
	secret, _ := json.Marshal(struct{ Body, Footer string }{d.Body, d.Footer})
	sealed, err := s.Keys.Seal(ctx, k.PK+"#"+k.SK, "draft", secret)
	clear(secret)
	if err != nil {
		return fmt.Errorf("campaign: seal draft: %w", err)
	}
	plain := d
	plain.Body, plain.Footer = "", ""
	data, _ := json.Marshal(storedDraft{Draft: plain, Sealed: sealed})
	_, err = s.Store.Put(ctx, store.Item{PK: k.PK, SK: k.SK, Data: data, ExpiresAt: d.CreatedAt.Add(DraftTTL)}, store.IfAbsent)
	if errors.Is(err, store.ErrConditionFailed) {
		return nil // a concurrent delivery drafted it first
	}
	if err != nil {
		return fmt.Errorf("campaign: save draft: %w", err)
	}
	return nil
}

// Drafts returns one page of a campaign's drafts whose contacts are inside
// scope.
func (s *Service) Drafts(ctx context.Context, scope auth.Scope, id, cursor string, limit int) ([]Draft, string, error) {
	if _, err := s.Get(ctx, id); err != nil {
		return nil, "", err
	}
	page, err := s.Store.Query(ctx, store.Query{PK: draftPK(id), Cursor: cursor, Limit: limit})
	if err != nil {
		return nil, "", fmt.Errorf("campaign: drafts: %w", err)
	}
	out := []Draft{}
	for _, it := range page.Items {
		if !scope.All {
			if _, err := s.Contacts.Get(ctx, scope, it.SK); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					continue
				}
				return nil, "", err
			}
		}
		d, err := s.openDraft(ctx, it)
		if err != nil {
			return nil, "", err
		}
		out = append(out, d)
	}
	return out, page.Next, nil
}

func (s *Service) record(ctx context.Context, typ, actor, target string, detail map[string]string) error {
	_, err := s.Audit.Append(ctx, audit.Entry{Type: typ, Actor: actor, Target: target, Detail: detail})
	return err
}

func (s *Service) log(context.Context) *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}
