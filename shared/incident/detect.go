package incident

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/tenant"
)

// Audit entries the detectors read (INC-04). The writers use these names.
const (
	// TypeAuthFailed is written to the platform's log for every refused
	// token, with a keyed digest of the client address in DetailSource.
	TypeAuthFailed = "auth.failed"
	// TypeCrossTenant is written to the platform's log (and the actor's)
	// for every request for another tenant's object, with the actor's org
	// in DetailOrg.
	TypeCrossTenant = audit.CrossTenantAccess
	// TypeExportCreated is to be written to a tenant's log for every
	// export, with its size in bytes (decimal) in DetailBytes.
	TypeExportCreated = "export.created"

	DetailSource = "source"
	DetailOrg    = "org"
	DetailBytes  = "bytes"
)

// Thresholds tune the detectors. Zero fields take the defaults in brackets.
type Thresholds struct {
	// AuthFailures failed authentications from one source within
	// AuthWindow open an incident [50 in 1 minute]. Failures that go on
	// without a pause of AuthWindow belong to the same incident.
	AuthFailures int
	AuthWindow   time.Duration
	// CrossTenantQuiet: every cross-tenant access attempt opens an
	// incident, except that attempts by one org less than this after its
	// previous attempt belong to the previous incident [1 hour].
	CrossTenantQuiet time.Duration
	// A tenant's exports of one UTC day open an incident when they total
	// more than ExportFactor times its norm and at least ExportMinBytes
	// [10×, 100 MiB]. The norm is the mean daily volume of the days with
	// exports among the previous ExportHistoryDays [30], and needs at least
	// ExportMinDays such days [3].
	ExportFactor      float64
	ExportMinBytes    int64
	ExportHistoryDays int
	ExportMinDays     int
	// Lookback: an entry older than this when it is read feeds the
	// detectors' state but opens no incident, so a first run over an old
	// log does not open incidents about the past [24 hours].
	Lookback time.Duration
	// MaxEntries bounds the entries read from one log per run [10,000];
	// the rest waits for the next.
	MaxEntries int
}

// DefaultThresholds are the thresholds of zero fields.
var DefaultThresholds = Thresholds{
	AuthFailures: 50, AuthWindow: time.Minute, CrossTenantQuiet: time.Hour,
	ExportFactor: 10, ExportMinBytes: 100 << 20, ExportHistoryDays: 30, ExportMinDays: 3,
	Lookback: 24 * time.Hour, MaxEntries: 10_000,
}

func (t Thresholds) withDefaults() Thresholds {
	d := DefaultThresholds
	set := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	setD := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&t.AuthFailures, d.AuthFailures)
	setD(&t.AuthWindow, d.AuthWindow)
	setD(&t.CrossTenantQuiet, d.CrossTenantQuiet)
	if t.ExportFactor <= 0 {
		t.ExportFactor = d.ExportFactor
	}
	if t.ExportMinBytes <= 0 {
		t.ExportMinBytes = d.ExportMinBytes
	}
	set(&t.ExportHistoryDays, d.ExportHistoryDays)
	set(&t.ExportMinDays, d.ExportMinDays)
	setD(&t.Lookback, d.Lookback)
	set(&t.MaxEntries, d.MaxEntries)
	return t
}

// checkpoint is where the detectors stand in one audit log, with the state
// they carry from one run to the next. It lives in the platform scope.
type checkpoint struct {
	// Seq is the last entry processed.
	Seq int64 `json:"seq"`
	// Cursor, when set, is an audit List cursor positioned right after
	// entry CursorSeq, so a run reads only what is new.
	Cursor    string `json:"cursor,omitempty"`
	CursorSeq int64  `json:"cursorSeq,omitempty"`
	// Platform log: recent failed authentications per source, and the
	// last cross-tenant attempt per org (unix milliseconds).
	Sources map[string]*burst `json:"sources,omitempty"`
	Cross   map[string]int64  `json:"cross,omitempty"`
	// Tenant log: bytes exported per UTC day, and the days that tripped.
	Days    map[string]int64 `json:"days,omitempty"`
	Tripped map[string]bool  `json:"tripped,omitempty"`
}

// burst tracks one source's failures (unix milliseconds).
type burst struct {
	Times []int64 `json:"times,omitempty"`
	// Until is when the burst already reported ends if no failure comes.
	Until int64 `json:"until,omitempty"`
}

// maxSources bounds the sources a checkpoint tracks.
const maxSources = 5000

// finding is what a detector saw: an incident to open.
type finding struct {
	detector string
	key      string // unique per finding; the incident ID derives from it
	draft    Draft
}

// Detect runs the detectors once over what the audit stream gained since
// the last run: the platform's log (failed authentications, cross-tenant
// attempts) and every registered tenant's log (exports). An incident a
// detector opens is notified like any other and alarms the security team
// (on this run's settling or the next Tick). Each log keeps a checkpoint,
// so entries are read once; a run that fails before saving its checkpoint
// reads them again, and the incident IDs, derived from the entries, keep
// the incidents single. Returns the errors of all logs joined.
func (s *Service) Detect(ctx context.Context) error {
	errs := []error{s.scan(ctx, tenant.Platform)}
	err := s.cfg.Orgs.All(ctx, func(org tenant.ID) error {
		errs = append(errs, s.scan(ctx, org))
		return ctx.Err()
	})
	return errors.Join(append(errs, err)...)
}

// scan reads one log from its checkpoint and acts on what it finds.
func (s *Service) scan(ctx context.Context, org tenant.ID) error {
	lctx := platform(ctx)
	if org != tenant.Platform {
		lctx = tenant.With(ctx, org)
	}
	cp, version, err := s.loadCheckpoint(ctx, org)
	if err != nil {
		return err
	}
	entries, err := tail(lctx, s.cfg.Audit, &cp, s.cfg.Thresholds.MaxEntries)
	if err != nil {
		return fmt.Errorf("incident: detect in %s: %w", org, err)
	}
	if len(entries) == 0 {
		return nil
	}
	now := s.cfg.Now().UTC()
	th := s.cfg.Thresholds
	var finds []finding
	for _, e := range entries {
		var f *finding
		switch {
		case org == tenant.Platform && e.Type == TypeAuthFailed:
			f = cp.authFailure(e, th)
		case org == tenant.Platform && e.Type == TypeCrossTenant:
			f = cp.crossTenant(e, th)
		case org != tenant.Platform && e.Type == TypeExportCreated:
			f = cp.export(org, e, th)
		}
		if f != nil && !e.Time.Before(now.Add(-th.Lookback)) {
			finds = append(finds, *f)
		}
	}
	cp.prune(entries[len(entries)-1].Time, th)
	var errs []error
	for _, f := range finds {
		if err := s.openDetected(ctx, f, now); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...) // keep the checkpoint: the next run retries
	}
	return s.saveCheckpoint(ctx, org, cp, version)
}

// openDetected opens the incident of a finding, once.
func (s *Service) openDetected(ctx context.Context, f finding, now time.Time) error {
	sum := sha256.Sum256([]byte(f.key))
	id := "inc-" + f.draft.DetectedAt.UTC().Format("20060102t150405") + "-" + hex.EncodeToString(sum[:8])
	inc := newIncident(id, f.draft, now, "system", "detector:"+f.detector)
	created, err := s.create(ctx, inc)
	if err != nil || !created {
		return err
	}
	s.settle(ctx, id, now, inc)
	return nil
}

// authFailure counts a failed authentication; it finds a burst when the
// source reaches the threshold within the window.
func (cp *checkpoint) authFailure(e audit.Entry, th Thresholds) *finding {
	src := e.Detail[DetailSource]
	if src == "" {
		src = "unknown"
	}
	if cp.Sources == nil {
		cp.Sources = map[string]*burst{}
	}
	b := cp.Sources[src]
	if b == nil {
		b = &burst{}
		cp.Sources[src] = b
	}
	t, window := e.Time.UnixMilli(), th.AuthWindow.Milliseconds()
	if t <= b.Until {
		b.Until = t + window // the burst already reported goes on
		return nil
	}
	b.Times = slices.DeleteFunc(append(b.Times, t), func(x int64) bool { return x < t-window })
	if len(b.Times) < th.AuthFailures {
		return nil
	}
	first := time.UnixMilli(b.Times[0]).UTC()
	b.Times, b.Until = nil, t+window
	return &finding{
		detector: "auth-burst",
		key:      "auth-burst/" + strconv.FormatInt(e.Seq, 10),
		draft: Draft{
			Title:    "Burst of failed authentications from one source",
			Severity: High, DetectedAt: e.Time,
			Description: fmt.Sprintf("%d failed authentications from source %s between %s and %s (threshold: %d within %s). "+
				"The source is a keyed digest of the client address; the platform audit log holds every attempt up to entry %d.",
				th.AuthFailures, src, first.Format(time.RFC3339), e.Time.UTC().Format(time.RFC3339), th.AuthFailures, th.AuthWindow, e.Seq),
		},
	}
}

// crossTenant finds every cross-tenant access attempt, folding an org's
// attempts that follow each other closely into one.
func (cp *checkpoint) crossTenant(e audit.Entry, th Thresholds) *finding {
	org := e.Detail[DetailOrg]
	if tenant.Valid(org) != nil {
		org = "unknown"
	}
	if cp.Cross == nil {
		cp.Cross = map[string]int64{}
	}
	t := e.Time.UnixMilli()
	last, seen := cp.Cross[org]
	cp.Cross[org] = t
	if seen && t-last < th.CrossTenantQuiet.Milliseconds() {
		return nil
	}
	return &finding{
		detector: "cross-tenant",
		key:      "cross-tenant/" + strconv.FormatInt(e.Seq, 10),
		draft: Draft{
			Title:    "Cross-tenant access attempt",
			Severity: High, DetectedAt: e.Time,
			Description: fmt.Sprintf("An account of org %s (actor %s) requested an object of another tenant on route %s and was answered 404. "+
				"Platform audit entry %d; further attempts by the org within %s of each other belong to this incident.",
				org, e.Actor, e.Detail["route"], e.Seq, th.CrossTenantQuiet),
		},
	}
}

// export adds an export to its day and finds a day far above the norm.
func (cp *checkpoint) export(org tenant.ID, e audit.Entry, th Thresholds) *finding {
	n, err := strconv.ParseInt(e.Detail[DetailBytes], 10, 64)
	if err != nil || n < 0 {
		return nil
	}
	if cp.Days == nil {
		cp.Days = map[string]int64{}
	}
	if cp.Tripped == nil {
		cp.Tripped = map[string]bool{}
	}
	dayT := e.Time.UTC().Truncate(24 * time.Hour)
	day := dayT.Format(time.DateOnly)
	cp.Days[day] += n
	var sum int64
	active := 0
	for i := 1; i <= th.ExportHistoryDays; i++ {
		if v := cp.Days[dayT.AddDate(0, 0, -i).Format(time.DateOnly)]; v > 0 {
			sum += v
			active++
		}
	}
	total := cp.Days[day]
	if active < th.ExportMinDays || cp.Tripped[day] || total < th.ExportMinBytes {
		return nil
	}
	norm := float64(sum) / float64(active)
	if float64(total) <= th.ExportFactor*norm {
		return nil
	}
	cp.Tripped[day] = true
	return &finding{
		detector: "export-spike",
		key:      "export-spike/" + string(org) + "/" + day,
		draft: Draft{
			Title:    "Export volume far above the norm",
			Severity: High, DetectedAt: e.Time, Affected: Affected{Orgs: []tenant.ID{org}},
			Description: fmt.Sprintf("Exports of org %s on %s total %d bytes, %.1f times its norm of %.0f bytes a day "+
				"(mean of %d days with exports in the previous %d). Threshold: %.1f times the norm.",
				org, day, total, float64(total)/norm, norm, active, th.ExportHistoryDays, th.ExportFactor),
		},
	}
}

// prune drops state older than the detectors can use, relative to the time
// of the last entry read.
func (cp *checkpoint) prune(last time.Time, th Thresholds) {
	t := last.UnixMilli()
	for src, b := range cp.Sources {
		latest := b.Until
		if n := len(b.Times); n > 0 && b.Times[n-1] > latest {
			latest = b.Times[n-1]
		}
		if latest < t-th.AuthWindow.Milliseconds() {
			delete(cp.Sources, src)
		}
	}
	if len(cp.Sources) > maxSources {
		// Keep the sources seen most recently.
		srcs := slices.SortedFunc(maps.Keys(cp.Sources), func(a, b string) int {
			return compareLatest(cp.Sources[b], cp.Sources[a])
		})
		for _, src := range srcs[maxSources:] {
			delete(cp.Sources, src)
		}
	}
	maps.DeleteFunc(cp.Cross, func(_ string, at int64) bool { return at < t-th.CrossTenantQuiet.Milliseconds() })
	oldest := last.UTC().Truncate(24*time.Hour).AddDate(0, 0, -th.ExportHistoryDays).Format(time.DateOnly)
	maps.DeleteFunc(cp.Days, func(day string, _ int64) bool { return day < oldest })
	maps.DeleteFunc(cp.Tripped, func(day string, _ bool) bool { return day < oldest })
}

func compareLatest(a, b *burst) int {
	la, lb := a.Until, b.Until
	if n := len(a.Times); n > 0 {
		la = max(la, a.Times[n-1])
	}
	if n := len(b.Times); n > 0 {
		lb = max(lb, b.Times[n-1])
	}
	switch {
	case la < lb:
		return -1
	case la > lb:
		return 1
	}
	return 0
}

func (s *Service) loadCheckpoint(ctx context.Context, org tenant.ID) (checkpoint, int64, error) {
	it, err := s.cfg.Store.Get(platform(ctx), store.Key{PK: pkDetect, SK: "log#" + string(org)})
	if errors.Is(err, store.ErrNotFound) {
		return checkpoint{}, 0, nil
	}
	if err != nil {
		return checkpoint{}, 0, fmt.Errorf("incident: get checkpoint of %s: %w", org, err)
	}
	var cp checkpoint
	if err := json.Unmarshal(it.Data, &cp); err != nil {
		return checkpoint{}, 0, fmt.Errorf("incident: decode checkpoint of %s: %w", org, err)
	}
	return cp, it.Version, nil
}

// saveCheckpoint stores cp if nobody advanced the checkpoint since it was
// loaded at version; if somebody did, theirs stands.
func (s *Service) saveCheckpoint(ctx context.Context, org tenant.ID, cp checkpoint, version int64) error {
	data, err := json.Marshal(cp)
	if err != nil {
		return fmt.Errorf("incident: encode checkpoint of %s: %w", org, err)
	}
	cond := store.IfVersion
	if version == 0 {
		cond = store.IfAbsent
	}
	_, err = s.cfg.Store.Put(platform(ctx), store.Item{PK: pkDetect, SK: "log#" + string(org), Data: data, Version: version}, cond)
	if err != nil && !errors.Is(err, store.ErrConditionFailed) {
		return fmt.Errorf("incident: put checkpoint of %s: %w", org, err)
	}
	return nil
}

// tail returns the entries of the log in ctx after cp.Seq, oldest first,
// at most max of them, and advances cp. It reads through List from cp's
// cursor up to the entry before the head, which leaves a cursor that the
// next run resumes from (List returns none at the end of the log), and
// takes the head itself from Head.
func tail(ctx context.Context, log AuditLog, cp *checkpoint, max int) ([]audit.Entry, error) {
	head, err := log.Head(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if head.Seq <= cp.Seq {
		return nil, nil
	}
	to := min(head.Seq-1, cp.Seq+int64(max))
	var out []audit.Entry
	for cp.CursorSeq < to {
		n := int(min(to-cp.CursorSeq, store.MaxLimit))
		list, next, err := log.List(ctx, audit.Filter{Cursor: cp.Cursor, Limit: n})
		if errors.Is(err, store.ErrInvalid) && cp.Cursor != "" {
			cp.Cursor, cp.CursorSeq = "", 0 // unusable cursor: read from the start, skipping what was seen
			continue
		}
		if err != nil {
			return nil, err
		}
		if len(list) == 0 {
			break
		}
		for _, e := range list {
			if e.Seq > cp.Seq && e.Seq <= to && (len(out) == 0 || e.Seq > out[len(out)-1].Seq) {
				out = append(out, e)
			}
		}
		lastSeq := list[len(list)-1].Seq
		if next == "" || lastSeq > to {
			break // the log's start was trimmed: keep the cursor, re-read this page next time
		}
		cp.Cursor, cp.CursorSeq = next, lastSeq
	}
	if to == head.Seq-1 && (len(out) == 0 || out[len(out)-1].Seq < head.Seq) {
		out = append(out, head)
	}
	if len(out) > 0 {
		cp.Seq = out[len(out)-1].Seq
	}
	return out, nil
}
