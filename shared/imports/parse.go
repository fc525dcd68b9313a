package imports

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/blob"
	"github.com/alto/alto/shared/contact"
	"github.com/alto/alto/shared/csvimport"
	"github.com/alto/alto/shared/ingest"
	"github.com/alto/alto/shared/jobs"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/tenant"
	"github.com/alto/alto/shared/valid"
)

// Defaults of the parse.
const (
	defaultChunkRows = 500
	defaultStepRows  = 50_000
	defaultStepTime  = time.Minute
)

// Uploaded starts the parse of the file that arrived at key in the tenant of
// ctx (fsblob's OnPut, or HandleS3): it puts a parse job on the jobs queue,
// then notes the upload, and returns. Keys outside KeyPrefix are not imports
// and are ignored; so is a second upload to an import already under way.
// Returns the store's or the queue's error (nothing is noted then, so the
// upload may be retried).
func (s *Service) Uploaded(ctx context.Context, key string) error {
	id := idFromKey(key)
	if id == "" {
		return nil
	}
	rec, version, err := s.load(ctx, id)
	if errors.Is(err, ErrNotFound) {
		s.log().WarnContext(ctx, "upload for no known import", "import", id)
		return nil
	}
	if err != nil {
		return err
	}
	if rec.State != stateWaiting || !rec.UploadedAt.IsZero() {
		s.log().WarnContext(ctx, "second upload to an import ignored", "import", id)
		return nil
	}
	if err := s.Jobs.Send(ctx, ParseJob, id); err != nil {
		return err
	}
	rec.UploadedAt = s.now()
	_, err = s.save(ctx, rec, version, store.IfVersion)
	if errors.Is(err, store.ErrConditionFailed) {
		return nil // the parse has begun meanwhile
	}
	return err
}

// HandleS3 is the S3 ObjectCreated handler of the imports bucket: each
// object key is <org>/<key> (the S3 adapter's layout), and each upload to
// an import starts its parse as Uploaded does. Records of other keys are
// skipped. Returns the errors of the records that failed, joined (Lambda
// then retries the event; starting a parse twice is harmless).
func (s *Service) HandleS3(ctx context.Context, ev events.S3Event) error {
	var errs []error
	for _, r := range ev.Records {
		if !strings.HasPrefix(r.EventName, "ObjectCreated:") {
			continue
		}
		org, key, ok := strings.Cut(r.S3.Object.URLDecodedKey, "/")
		if !ok || tenant.Valid(org) != nil {
			s.log().WarnContext(ctx, "S3 event for a key outside any tenant", "event", r.EventName)
			continue
		}
		if err := s.Uploaded(tenant.With(ctx, tenant.ID(org)), key); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// errSuperseded stops a parse step whose checkpoint another step moved
// (two deliveries of one job ran at once); the other goes on.
var errSuperseded = errors.New("imports: parse superseded")

// ParseJob runs one bounded step of the parse of an import (the handler of
// ParseJob jobs; ctx carries the tenant). It reads on from the last
// checkpoint: valid rows go to the ingress queue, invalid ones are recorded
// as rejected, and every ChunkRows rows the position is checkpointed after
// both are durable. At the end of the file the import is parsed and the
// file deleted; at the end of the step a continuation job is queued. A file
// that cannot be parsed fails the import. Returns an error (the job comes
// back and resumes from the checkpoint) when the store, queue or blob store
// fails.
func (s *Service) ParseJob(ctx context.Context, j jobs.Job) error {
	if !validID(j.ID) {
		return fmt.Errorf("%w: imports: not an import ID", jobs.ErrPermanent)
	}
	err := s.parseStep(ctx, j.ID)
	if errors.Is(err, errSuperseded) {
		return nil
	}
	if err != nil && j.Last() {
		// No delivery comes after this one: say so on the import rather
		// than leave it running until its file expires.
		s.log().ErrorContext(ctx, "import parse failed for the last time", "import", j.ID, "err", err.Error())
		if ferr := s.failNow(ctx, j.ID, "the parse failed repeatedly; try the import again"); ferr != nil {
			return errors.Join(err, ferr)
		}
		return nil
	}
	return err
}

// failNow marks import id failed with reason, unless it already ended.
func (s *Service) failNow(ctx context.Context, id, reason string) error {
	rec, version, err := s.load(ctx, id)
	if err != nil || rec.State == stateParsed || rec.State == stateFailed {
		return err
	}
	p := &parser{s: s, id: id, rec: rec, version: version}
	return p.fail(ctx, csvimport.FileError{Line: rec.Pos.Line, Reason: reason})
}

// parser is one step of a parse.
type parser struct {
	s       *Service
	id      string
	rec     record
	version int64
	subs    []ingest.Submission
	rejects []outcome
}

func (s *Service) parseStep(ctx context.Context, id string) error {
	rec, version, err := s.load(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil // expired or never existed: nothing to do
	}
	if err != nil {
		return err
	}
	if rec.State == stateParsed || rec.State == stateFailed {
		return nil // a redelivered job of a finished parse
	}
	p := &parser{s: s, id: id, rec: rec, version: version}
	f, err := s.Blobs.Get(ctx, Key(id))
	if errors.Is(err, blob.ErrNotFound) {
		return p.fail(ctx, csvimport.FileError{Line: rec.Pos.Line, Reason: "the uploaded file is gone (files are kept at most 24 hours)"})
	}
	if err != nil {
		return fmt.Errorf("imports: parse %s: %w", id, err)
	}
	defer f.Close()

	var rd *csvimport.Reader
	if rec.Mapping == nil {
		rd, err = csvimport.NewReader(f)
		var fe *csvimport.FileError
		if errors.As(err, &fe) {
			return p.fail(ctx, *fe)
		}
		if err != nil {
			return fmt.Errorf("imports: parse %s: %w", id, err)
		}
		m := rd.Mapping()
		p.rec.Mapping, p.rec.Pos, p.rec.State = &m, rd.Position(), stateRunning
		if err := p.checkpoint(ctx); err != nil {
			return err
		}
	} else {
		if err := skip(f, rec.Pos.Offset); err != nil {
			return fmt.Errorf("imports: parse %s: resume: %w", id, err)
		}
		rd = csvimport.Resume(f, *rec.Mapping, rec.Pos)
	}
	rd.DefaultSource = DefaultSource
	return p.run(ctx, rd)
}

// skip moves f to offset: by seeking when it can, else by reading.
func skip(f io.Reader, offset int64) error {
	if sk, ok := f.(io.Seeker); ok {
		_, err := sk.Seek(offset, io.SeekStart)
		return err
	}
	n, err := io.CopyN(io.Discard, f, offset)
	if err == io.EOF && n < offset {
		return fmt.Errorf("the file is shorter than the checkpoint")
	}
	return err
}

func (p *parser) run(ctx context.Context, rd *csvimport.Reader) error {
	s := p.s
	chunk := s.ChunkRows
	if chunk <= 0 {
		chunk = defaultChunkRows
	}
	stepRows, stepTime := s.StepRows, s.StepTime
	if stepRows <= 0 {
		stepRows = defaultStepRows
	}
	if stepTime <= 0 {
		stepTime = defaultStepTime
	}
	started := s.now()
	scope := p.rec.principal()
	pending, done := 0, 0
	for {
		row, err := rd.Next()
		if err == io.EOF {
			break
		}
		var fe *csvimport.FileError
		if errors.As(err, &fe) {
			// Keep what was read before the broken record, then stop.
			if err := p.flush(ctx, rd.Position(), pending); err != nil {
				return err
			}
			return p.fail(ctx, *fe)
		}
		if err != nil {
			return fmt.Errorf("imports: parse %s: %w", p.id, err)
		}
		p.take(row, scope)
		pending++
		done++
		if pending < chunk {
			continue
		}
		if err := p.flush(ctx, rd.Position(), pending); err != nil {
			return err
		}
		pending = 0
		if done >= stepRows || s.now().Sub(started) >= stepTime {
			// Enough for one step: the rest is a new job, which a crash
			// from here on does not affect.
			return s.Jobs.Send(ctx, ParseJob, p.id)
		}
	}
	if err := p.flush(ctx, rd.Position(), pending); err != nil {
		return err
	}
	return p.finish(ctx)
}

// take sorts one row into a submission or a rejection. A row is held to the
// scope of the import's creator, as POST /v1/contacts holds a contact.
func (p *parser) take(row csvimport.Row, scope auth.Principal) {
	errs := row.Errors
	c := row.Contact
	if len(errs) == 0 {
		var more valid.Errors
		c, errs = contact.HoldToScope(c, scope)
		c, more = contact.Normalize(c, "")
		errs = append(errs, more...)
	}
	if len(errs) > 0 {
		o := outcome{line: row.Line, result: Rejected}
		for _, e := range errs {
			o.errors = append(o.errors, RowError{Line: row.Line, Field: e.Field, Reason: e.Reason})
		}
		p.rejects = append(p.rejects, o)
		return
	}
	p.subs = append(p.subs, ingest.Submission{Contact: c, Via: "import", Actor: p.rec.Actor, ImportID: p.id, Line: row.Line})
}

// flush makes the rows read so far durable (queued or recorded as
// rejected), then checkpoints pos: rows before a checkpoint are never lost,
// and those after it are read again after a crash, which ingest absorbs.
func (p *parser) flush(ctx context.Context, pos csvimport.Position, rows int) error {
	if err := p.s.Ingress.Send(ctx, p.subs); err != nil {
		return fmt.Errorf("imports: parse %s: %w", p.id, err)
	}
	if err := p.s.tally(ctx, p.id, p.rejects); err != nil {
		return err
	}
	p.subs, p.rejects = p.subs[:0], p.rejects[:0]
	if rows == 0 {
		return nil
	}
	p.rec.Pos = pos
	p.rec.RowsRead += rows
	return p.checkpoint(ctx)
}

// checkpoint saves the record if no other step moved it meanwhile.
func (p *parser) checkpoint(ctx context.Context) error {
	v, err := p.s.save(ctx, p.rec, p.version, store.IfVersion)
	if errors.Is(err, store.ErrConditionFailed) {
		return errSuperseded
	}
	if err != nil {
		return err
	}
	p.version = v
	return nil
}

// finish marks the import parsed and deletes the file.
func (p *parser) finish(ctx context.Context) error {
	p.rec.State, p.rec.ParsedAt = stateParsed, p.s.now()
	if err := p.checkpoint(ctx); err != nil {
		return err
	}
	if err := p.s.deleteFile(ctx, p.rec); err != nil {
		return err
	}
	_, err := p.s.Audit.Append(ctx, audit.Entry{Type: "import.parsed", Actor: p.rec.Actor, Target: p.id,
		Detail: map[string]string{"rows": strconv.Itoa(p.rec.RowsRead)}})
	return err
}

// fail ends the import with the file's error and deletes the file.
func (p *parser) fail(ctx context.Context, fe csvimport.FileError) error {
	p.rec.State = stateFailed
	p.rec.Failure = &RowError{Line: fe.Line, Reason: fe.Reason}
	if err := p.checkpoint(ctx); err != nil {
		return err
	}
	if err := p.s.deleteFile(ctx, p.rec); err != nil {
		return err
	}
	_, err := p.s.Audit.Append(ctx, audit.Entry{Type: "import.failed", Actor: p.rec.Actor, Target: p.id,
		Detail: map[string]string{"line": strconv.Itoa(fe.Line)}})
	return err
}

// deleteFile deletes the import's file and its deletion deadline.
func (s *Service) deleteFile(ctx context.Context, rec record) error {
	if err := s.Blobs.Delete(ctx, Key(rec.ID)); err != nil {
		return fmt.Errorf("imports: delete file %s: %w", rec.ID, err)
	}
	org, err := tenant.From(ctx)
	if err != nil {
		return err
	}
	k := store.Key{PK: deadlinesPK, SK: deadlineKey(rec.DeleteBy, org, rec.ID)}
	if err := s.Store.Delete(tenant.WithPlatform(ctx), k); err != nil {
		return fmt.Errorf("imports: delete file %s: %w", rec.ID, err)
	}
	return nil
}

// SweepUploads deletes the uploaded files whose deadline (FileRetention
// after their import was created) has passed, at most limit of them, and
// returns how many it deleted (RET-01). It is idempotent and resumable: each
// deadline is removed only after its file. Run it until it returns less
// than limit.
func (s *Service) SweepUploads(ctx context.Context, limit int) (int, error) {
	platform := tenant.WithPlatform(ctx)
	page, err := s.Store.Query(platform, store.Query{PK: deadlinesPK, Limit: limit})
	if err != nil {
		return 0, fmt.Errorf("imports: sweep: %w", err)
	}
	now := s.now().Unix()
	n := 0
	for _, it := range page.Items {
		at, rest, _ := strings.Cut(it.SK, "#")
		org, id, _ := strings.Cut(rest, "#")
		due, err := strconv.ParseInt(at, 10, 64)
		if err != nil || tenant.Valid(org) != nil || !validID(id) {
			s.log().WarnContext(ctx, "sweep: malformed upload deadline removed", "key", it.SK)
		} else if due > now {
			break
		} else if err := s.Blobs.Delete(tenant.With(ctx, tenant.ID(org)), Key(id)); err != nil {
			return n, fmt.Errorf("imports: sweep: %w", err)
		}
		if err := s.Store.Delete(platform, store.Key{PK: it.PK, SK: it.SK}); err != nil {
			return n, fmt.Errorf("imports: sweep: %w", err)
		}
		n++
	}
	return n, nil
}
