// Package notice keeps the sub-processor list and announces changes to it
// and to the policy (NTC-01): the platform's security role posts a notice
// whose effective date is at least 30 days ahead, every tenant's owners and
// admins are told at once through the notify port, and the schedule sends a
// reminder a week before the change takes effect.
//
// Notices are platform data (tenant.WithPlatform); they hold no personal
// data. Delivery is idempotent: each tenant's delivery is recorded with a
// conditional put and every e-mail carries a stable notify.Email ID, so a
// delivery interrupted by a failure is finished by the next Tick and
// nothing is sent twice. Posting, delivering and reminding are audited:
// the platform's log records the notice and each round, each tenant's log
// records what reached it.
package notice

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/notify"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/tenant"
	"github.com/alto/alto/shared/valid"
)

// Periods of NTC-01.
const (
	// MinNotice is how far ahead of its effect a change must be announced.
	MinNotice = 30 * 24 * time.Hour
	// MaxNotice bounds how far ahead a notice may be posted.
	MaxNotice = 400 * 24 * time.Hour
	// RemindBefore is when, before its effect, a notice is sent again.
	RemindBefore = 7 * 24 * time.Hour
)

// Limits of a notice.
const (
	MaxTitleLen = 200
	MaxTextLen  = 20_000
	maxFieldLen = 200 // sub-processor name, purpose, location
)

// Kinds of notice.
const (
	Policy       = "policy"
	Subprocessor = "subprocessor"
)

// Sub-processor changes.
const (
	Add    = "add"
	Remove = "remove"
)

// Processor is one sub-processor: who processes the tenants' data for Alto,
// for what, and where. Since and Until bound when it does (zero: always).
type Processor struct {
	Name     string    `json:"name"`
	Purpose  string    `json:"purpose"`
	Location string    `json:"location"`
	Since    time.Time `json:"since,omitzero"`
	Until    time.Time `json:"until,omitzero"`
}

// DefaultProcessors are the sub-processors of every deployment: the cloud
// it runs on and the service that delivers its e-mail.
var DefaultProcessors = []Processor{
	{Name: "Amazon Web Services, Inc.", Purpose: "hosting: compute, storage, queues and key management (Lambda, DynamoDB, S3, SQS, KMS)",
		Location: "the deployment's AWS region (United States by default; European Union available)"},
	{Name: "Amazon Simple Email Service", Purpose: "e-mail delivery of notices to owners, admins and data subjects",
		Location: "the deployment's AWS region"},
}

// Change is the sub-processor change a notice announces.
type Change struct {
	Action   string `json:"action"` // Add or Remove
	Name     string `json:"name"`
	Purpose  string `json:"purpose,omitempty"`
	Location string `json:"location,omitempty"`
}

// Notice is an announced change of the policy or of the sub-processors.
type Notice struct {
	ID          string    `json:"id"`
	Kind        string    `json:"kind"`
	Title       string    `json:"title"`
	Text        string    `json:"text"`
	EffectiveAt time.Time `json:"effectiveAt"`
	PostedAt    time.Time `json:"postedAt"`
	Change      *Change   `json:"subprocessor,omitempty"`
	// AnnouncedAt and RemindedAt are set once every tenant was told.
	AnnouncedAt time.Time `json:"announcedAt,omitzero"`
	RemindedAt  time.Time `json:"remindedAt,omitzero"`
}

// Draft is a notice as the security role posts it.
type Draft struct {
	Kind        string    `json:"kind"`
	Title       string    `json:"title"`
	Text        string    `json:"text"`
	EffectiveAt time.Time `json:"effectiveAt"`
	Change      *Change   `json:"subprocessor,omitempty"`
}

// Store is the part of the storage port notices need.
type Store interface {
	Get(ctx context.Context, k store.Key) (store.Item, error)
	Put(ctx context.Context, it store.Item, cond store.Cond) (store.Item, error)
	Query(ctx context.Context, q store.Query) (store.Page, error)
}

// Auditor appends audit entries.
type Auditor interface {
	Append(ctx context.Context, e audit.Entry) (audit.Entry, error)
}

// Tenants lists every tenant.
type Tenants interface {
	// All calls fn for every tenant and stops at the first error.
	All(ctx context.Context, fn func(tenant.ID) error) error
}

// Service posts, lists and delivers notices. It may be used concurrently,
// also by several processes over one store. Store, Mailer, Audit, Tenants
// and Recipients are required.
type Service struct {
	Store   Store
	Mailer  notify.Mailer
	Audit   Auditor
	Tenants Tenants
	// Recipients returns the addresses of the owners and admins of the
	// tenant in ctx.
	Recipients func(ctx context.Context) ([]string, error)
	// Seed is the sub-processor list before any notice changes it (the
	// deployment's configuration); nil means DefaultProcessors.
	Seed   []Processor
	Now    func() time.Time
	Logger *slog.Logger
}

// ErrConflict is returned when a notice kept changing under a delivery.
var ErrConflict = fmt.Errorf("notice: changed concurrently: %w", store.ErrConditionFailed)

// Storage layout, in the platform scope.
const (
	noticesPK  = "NOTICE"    // SK: notice ID (time-ordered)
	deliveryPK = "NOTICEDLV" // SK: notice ID#stage#org
)

// Stages of delivery.
const (
	stageAnnounce = "announce"
	stageRemind   = "remind"
)

// doneEntry is the platform audit entry of a finished stage.
var doneEntry = map[string]string{stageAnnounce: "notice.announced", stageRemind: "notice.reminded"}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC()
	}
	return s.Now().UTC()
}

func (s *Service) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// Validate checks d against the clock now and the current sub-processors:
// reasons never repeat a value.
func Validate(d Draft, now time.Time, current []Processor) valid.Errors {
	var errs valid.Errors
	text := func(field, s string, max int) {
		switch {
		case strings.TrimSpace(s) == "":
			errs.Add(field, "is required")
		case !utf8.ValidString(s) || utf8.RuneCountInString(s) > max:
			errs.Add(field, fmt.Sprintf("must be valid UTF-8 of at most %d characters", max))
		case strings.ContainsRune(s, 0):
			errs.Add(field, "must not contain NUL characters")
		}
	}
	line := func(field, s string, max int) {
		text(field, s, max)
		if strings.ContainsAny(s, "\r\n\t") {
			errs.Add(field, "must be one line")
		}
	}
	switch d.Kind {
	case Policy, Subprocessor:
	default:
		errs.Add("kind", "must be policy or subprocessor")
	}
	line("title", d.Title, MaxTitleLen)
	text("text", d.Text, MaxTextLen)
	switch {
	case d.EffectiveAt.IsZero():
		errs.Add("effectiveAt", "is required, as an RFC 3339 time")
	case d.EffectiveAt.Before(now.Add(MinNotice)):
		errs.Add("effectiveAt", "must be at least 30 days ahead")
	case d.EffectiveAt.After(now.Add(MaxNotice)):
		errs.Add("effectiveAt", "must be within 400 days")
	}
	switch {
	case d.Kind == Subprocessor && d.Change == nil:
		errs.Add("subprocessor", "a subprocessor notice names the change")
	case d.Kind == Policy && d.Change != nil:
		errs.Add("subprocessor", "only a subprocessor notice names a change")
	case d.Kind == Subprocessor:
		c := d.Change
		line("subprocessor.name", c.Name, maxFieldLen)
		listed := slices.ContainsFunc(current, func(p Processor) bool { return strings.EqualFold(p.Name, c.Name) })
		switch c.Action {
		case Add:
			line("subprocessor.purpose", c.Purpose, maxFieldLen)
			line("subprocessor.location", c.Location, maxFieldLen)
			if listed {
				errs.Add("subprocessor.name", "is already a sub-processor")
			}
		case Remove:
			if !listed {
				errs.Add("subprocessor.name", "is not a sub-processor")
			}
		default:
			errs.Add("subprocessor.action", "must be add or remove")
		}
	}
	return errs
}

// Post validates d, stores it as a notice and announces it to every
// tenant. actor is the posting subject, for the audit log. Returns
// valid.Errors for an invalid draft (an effective date less than 30 days
// ahead among them). A failure while announcing does not fail Post: the
// notice is stored and the next Tick finishes the announcement.
func (s *Service) Post(ctx context.Context, d Draft, actor string) (Notice, error) {
	now := s.now()
	current, err := s.listProcessors(ctx, now, true)
	if err != nil {
		return Notice{}, err
	}
	if errs := Validate(d, now, current); len(errs) > 0 {
		return Notice{}, errs
	}
	n := Notice{ID: newID(now), Kind: d.Kind, Title: d.Title, Text: d.Text,
		EffectiveAt: d.EffectiveAt.UTC(), PostedAt: now, Change: d.Change}
	data, _ := json.Marshal(n)
	pctx := tenant.WithPlatform(ctx)
	if _, err := s.Store.Put(pctx, store.Item{PK: noticesPK, SK: n.ID, Data: data}, store.IfAbsent); err != nil {
		return Notice{}, fmt.Errorf("notice: post: %w", err)
	}
	detail := map[string]string{"kind": n.Kind, "effectiveAt": n.EffectiveAt.Format(time.RFC3339)}
	if n.Change != nil {
		detail["change"] = n.Change.Action
	}
	if _, err := s.Audit.Append(pctx, audit.Entry{Type: "notice.posted", Actor: actor, Target: "notice:" + n.ID, Detail: detail}); err != nil {
		return Notice{}, fmt.Errorf("notice: post: audit: %w", err)
	}
	if done, err := s.deliver(ctx, n, stageAnnounce); err != nil {
		s.logger().ErrorContext(ctx, "notice announcement unfinished; the schedule resumes it", "notice", n.ID, "err", err.Error())
	} else {
		n = done
	}
	return n, nil
}

// newID returns a notice ID that sorts by posting time.
func newID(now time.Time) string {
	b := make([]byte, 4)
	rand.Read(b)
	return "ntc_" + now.Format("20060102T150405Z") + "_" + hex.EncodeToString(b)
}

// List returns up to limit notices, newest first, after cursor, and the
// cursor of the next page ("" after the last).
func (s *Service) List(ctx context.Context, cursor string, limit int) ([]Notice, string, error) {
	page, err := s.Store.Query(tenant.WithPlatform(ctx), store.Query{PK: noticesPK, Cursor: cursor, Limit: limit, Reverse: true})
	if err != nil {
		return nil, "", fmt.Errorf("notice: list: %w", err)
	}
	out := make([]Notice, 0, len(page.Items))
	for _, it := range page.Items {
		n, err := decode(it)
		if err != nil {
			return nil, "", err
		}
		out = append(out, n)
	}
	return out, page.Next, nil
}

func decode(it store.Item) (Notice, error) {
	var n Notice
	if err := json.Unmarshal(it.Data, &n); err != nil {
		return Notice{}, fmt.Errorf("notice: %s unreadable: %w", it.SK, err)
	}
	return n, nil
}

// all reads every notice, oldest first.
func (s *Service) all(ctx context.Context) ([]store.Item, error) {
	var items []store.Item
	cursor := ""
	for {
		page, err := s.Store.Query(tenant.WithPlatform(ctx), store.Query{PK: noticesPK, Cursor: cursor, Limit: store.MaxLimit})
		if err != nil {
			return nil, fmt.Errorf("notice: read notices: %w", err)
		}
		items = append(items, page.Items...)
		if page.Next == "" {
			return items, nil
		}
		cursor = page.Next
	}
}

// Processors returns the sub-processor list as of now: the configured one
// with every announced change applied, additions from their effective date
// on (listed ahead of it with Since in the future), removals listed with
// Until until they take effect.
func (s *Service) Processors(ctx context.Context) ([]Processor, error) {
	return s.listProcessors(ctx, s.now(), false)
}

// listProcessors applies the sub-processor notices to the configured list.
// With pending, it returns what the list will be once every announced
// change has taken effect, which is what a new change is checked against.
func (s *Service) listProcessors(ctx context.Context, now time.Time, pending bool) ([]Processor, error) {
	list := slices.Clone(s.Seed)
	if list == nil {
		list = slices.Clone(DefaultProcessors)
	}
	items, err := s.all(ctx)
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		n, err := decode(it)
		if err != nil {
			return nil, err
		}
		if n.Change == nil {
			continue
		}
		i := slices.IndexFunc(list, func(p Processor) bool { return strings.EqualFold(p.Name, n.Change.Name) && p.Until.IsZero() })
		switch n.Change.Action {
		case Add:
			if i < 0 {
				list = append(list, Processor{Name: n.Change.Name, Purpose: n.Change.Purpose, Location: n.Change.Location, Since: n.EffectiveAt})
			}
		case Remove:
			if i >= 0 {
				list[i].Until = n.EffectiveAt
			}
		}
	}
	return slices.DeleteFunc(list, func(p Processor) bool {
		return !p.Until.IsZero() && (pending || !now.Before(p.Until))
	}), nil
}

// Tick finishes unfinished announcements and sends the reminders that are
// due: a week before a notice takes effect, once. It is what the schedule
// runs; running it again changes nothing. Returns the first error after
// trying every notice.
func (s *Service) Tick(ctx context.Context) error {
	items, err := s.all(ctx)
	if err != nil {
		return err
	}
	now := s.now()
	var errs []error
	for _, it := range items {
		n, err := decode(it)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		switch {
		case n.AnnouncedAt.IsZero():
			_, err = s.deliver(ctx, n, stageAnnounce)
		case n.RemindedAt.IsZero() && !now.Before(n.EffectiveAt.Add(-RemindBefore)) && now.Before(n.EffectiveAt):
			_, err = s.deliver(ctx, n, stageRemind)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// deliver sends n to every tenant's owners and admins for the stage,
// skipping tenants already done, then marks the stage done on the notice.
// It returns the notice as stored after.
func (s *Service) deliver(ctx context.Context, n Notice, stage string) (Notice, error) {
	tenants, recipients := 0, 0
	var failed []error
	err := s.Tenants.All(ctx, func(org tenant.ID) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		sent, done, err := s.deliverTo(ctx, n, stage, org)
		if err != nil {
			failed = append(failed, fmt.Errorf("tenant %s: %w", org, err))
			return nil // the other tenants are not held up
		}
		if !done {
			tenants++
			recipients += sent
		}
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("notice: %s %s: %w", stage, n.ID, err)
	}
	if len(failed) > 0 {
		return n, fmt.Errorf("notice: %s %s: %w", stage, n.ID, errors.Join(failed...))
	}
	n, err = s.markDone(ctx, n.ID, stage)
	if err != nil {
		return n, err
	}
	_, err = s.Audit.Append(tenant.WithPlatform(ctx), audit.Entry{Type: doneEntry[stage], Actor: "system",
		Target: "notice:" + n.ID, Detail: map[string]string{"tenants": strconv.Itoa(tenants), "recipients": strconv.Itoa(recipients)}})
	if err != nil {
		return n, fmt.Errorf("notice: %s %s: audit: %w", stage, n.ID, err)
	}
	return n, nil
}

// deliverTo sends the stage of n to one tenant's owners and admins, unless
// that was done before (done). It returns how many addresses it sent to.
func (s *Service) deliverTo(ctx context.Context, n Notice, stage string, org tenant.ID) (sent int, done bool, err error) {
	pctx := tenant.WithPlatform(ctx)
	mark := store.Key{PK: deliveryPK, SK: n.ID + "#" + stage + "#" + string(org)}
	if _, err := s.Store.Get(pctx, mark); err == nil {
		return 0, true, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return 0, false, err
	}
	tctx := tenant.With(ctx, org)
	to, err := s.Recipients(tctx)
	if err != nil {
		return 0, false, fmt.Errorf("recipients: %w", err)
	}
	subject, text := message(n, stage)
	for _, addr := range to {
		m := notify.Email{To: []string{addr}, Subject: subject, Text: text,
			ID: "notice/" + n.ID + "/" + stage + "/" + string(org) + "/" + digest(addr)}
		if err := s.Mailer.Send(ctx, m); err != nil {
			return 0, false, fmt.Errorf("send: %w", err)
		}
	}
	if _, err := s.Audit.Append(tctx, audit.Entry{Type: "notice.delivered", Actor: "system", Target: "notice:" + n.ID,
		Detail: map[string]string{"stage": stage, "kind": n.Kind, "recipients": strconv.Itoa(len(to))}}); err != nil {
		return 0, false, fmt.Errorf("audit: %w", err)
	}
	if _, err := s.Store.Put(pctx, store.Item{PK: deliveryPK, SK: mark.SK}, store.IfAbsent); err != nil && !errors.Is(err, store.ErrConditionFailed) {
		return 0, false, err
	}
	return len(to), false, nil
}

// markDone records that the stage of the notice reached every tenant.
func (s *Service) markDone(ctx context.Context, id, stage string) (Notice, error) {
	pctx := tenant.WithPlatform(ctx)
	for range 5 {
		it, err := s.Store.Get(pctx, store.Key{PK: noticesPK, SK: id})
		if err != nil {
			return Notice{}, fmt.Errorf("notice: mark %s: %w", id, err)
		}
		n, err := decode(it)
		if err != nil {
			return Notice{}, err
		}
		at := &n.AnnouncedAt
		if stage == stageRemind {
			at = &n.RemindedAt
		}
		if !at.IsZero() {
			return n, nil
		}
		*at = s.now()
		data, _ := json.Marshal(n)
		_, err = s.Store.Put(pctx, store.Item{PK: noticesPK, SK: id, Data: data, Version: it.Version}, store.IfVersion)
		if errors.Is(err, store.ErrConditionFailed) {
			continue
		}
		if err != nil {
			return Notice{}, fmt.Errorf("notice: mark %s: %w", id, err)
		}
		return n, nil
	}
	return Notice{}, ErrConflict
}

// message is the e-mail of a stage of n.
func message(n Notice, stage string) (subject, text string) {
	what := "Policy change"
	if n.Kind == Subprocessor {
		what = "Sub-processor change"
	}
	day := n.EffectiveAt.Format("2 January 2006 15:04 MST")
	subject = fmt.Sprintf("Alto: %s effective %s: %s", strings.ToLower(what[:1])+what[1:], n.EffectiveAt.Format("2006-01-02"), n.Title)
	if stage == stageRemind {
		subject = "Reminder: " + subject
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s\n\nTakes effect: %s\n", what, n.Title, day)
	if c := n.Change; c != nil {
		if c.Action == Add {
			fmt.Fprintf(&b, "New sub-processor: %s (%s; %s)\n", c.Name, c.Purpose, c.Location)
		} else {
			fmt.Fprintf(&b, "Sub-processor leaving: %s\n", c.Name)
		}
	}
	fmt.Fprintf(&b, "\n%s\n\nYou receive this as an owner or admin of your Alto workspace. The notices and the current\nsub-processor list are at GET /v1/notices and GET /v1/subprocessors.\n", n.Text)
	return subject, b.String()
}

// digest names a recipient in an e-mail ID without the address.
func digest(addr string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(addr)))
	return hex.EncodeToString(sum[:8])
}

// Union combines address sources (a tenant's directory, its notification
// settings) into one Service.Recipients: every address any of them
// returns, once regardless of case, in the order first seen. The first
// error of a source is returned.
func Union(sources ...func(ctx context.Context) ([]string, error)) func(ctx context.Context) ([]string, error) {
	return func(ctx context.Context) ([]string, error) {
		var out []string
		seen := map[string]bool{}
		for _, src := range sources {
			addrs, err := src(ctx)
			if err != nil {
				return nil, err
			}
			for _, a := range addrs {
				if k := strings.ToLower(a); !seen[k] {
					seen[k] = true
					out = append(out, a)
				}
			}
		}
		return out, nil
	}
}
