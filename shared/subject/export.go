package subject

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/blob"
	"github.com/alto/alto/shared/contact"
	"github.com/alto/alto/shared/jobs"
	"github.com/alto/alto/shared/tenant"
)

// Register routes the export jobs of the jobs queue to s.
func (s *Service) Register(d *jobs.Dispatcher) {
	d.Handle(JobSubjectExport, s.runExport)
	d.Handle(JobWorkspaceExport, s.runExport)
}

// ExportPrefix is where archives live in the tenant's blob storage:
// ExportPrefix + request ID + "/" + run + ".zip" (+ ".gpg" or ".age").
const ExportPrefix = "exports/"

// errTakenOver ends a run whose request another delivery of its job has
// taken over (this one overran its visibility timeout, or was presumed
// dead).
var errTakenOver = errors.New("subject: export taken over by a newer run")

// runExport runs the export of a subject request or a workspace export.
//
// Resuming after a crash restarts the archive: the encryption streams
// (OpenPGP, age) and the blob port, which writes objects whole, cannot
// continue a half-written archive, and a fresh start from the store yields
// a complete archive that holds every record once. What is checkpointed is
// the run: each delivery claims the request with a new run ID, counts the
// attempt and records its progress every 1,000 rows; the archive of a run
// is written under its own key, registered for deletion at the end of its
// lifetime before it is written, and appears only whole, so a crashed run
// leaves nothing past that lifetime, and a run that finds another has
// claimed the request since stops and deletes what it wrote. A delivery of
// a finished export changes nothing (but writes the export's audit entry
// if a crash lost it).
func (s *Service) runExport(ctx context.Context, j jobs.Job) error {
	pk, ok := partitionOf(j.ID)
	if !ok || (pk == requestsPK) != (j.Kind == JobSubjectExport) {
		return fmt.Errorf("%w: not an export of this kind", jobs.ErrPermanent)
	}
	org, err := tenant.From(ctx)
	if err != nil {
		return err
	}
	r, _, err := s.load(ctx, pk, j.ID)
	if errors.Is(err, ErrNotFound) {
		return nil // gone (purged): nothing to do
	}
	if err != nil {
		return err
	}
	switch r.Status {
	case Done:
		return s.auditExport(ctx, pk, r)
	case Failed:
		return nil
	}
	run := newRun()
	r, err = s.update(ctx, pk, r.ID, func(r *record) error {
		if r.Status != Received && r.Status != Running {
			return errFinished
		}
		r.Run = run
		attempt := 1
		if r.Progress != nil {
			attempt = r.Progress.Attempt + 1
		}
		r.Progress = &Progress{Attempt: attempt, UpdatedAt: s.now()}
		if r.Status == Received {
			s.transition(r, Running, "")
		}
		return nil
	})
	if errors.Is(err, errFinished) {
		return nil
	}
	if err != nil {
		return err
	}
	if r.Progress.Attempt == 1 {
		if err := s.audit(ctx, auditPrefix(pk)+Running, "system", r.ID, map[string]string{"type": r.Type}); err != nil {
			return err
		}
	}
	expires := s.now().Add(ArchiveTTL)
	res, err := s.export(ctx, org, pk, r, run, expires)
	switch {
	case errors.Is(err, errTakenOver):
		return nil
	case errors.Is(err, jobs.ErrPermanent):
		// The request says why; retrying cannot help, and a customer's
		// unusable key is no operator's alarm.
		_, aerr := s.Advance(ctx, r.ID, Failed, nil, strings.TrimPrefix(err.Error(), jobs.ErrPermanent.Error()+": "))
		return aerr
	case err != nil:
		if j.Last() {
			_, aerr := s.Advance(ctx, r.ID, Failed, nil, "the export failed "+strconv.Itoa(j.Attempt)+" times")
			return errors.Join(err, aerr)
		}
		return err
	}
	r, err = s.update(ctx, pk, r.ID, func(r *record) error {
		if r.Run != run || r.Status != Running {
			return errTakenOver
		}
		r.Archive, r.Result, r.ArchiveExpiresAt = res.key, res.result, expires
		r.Progress.Rows, r.Progress.UpdatedAt = res.rows, s.now()
		s.transition(r, Done, "")
		return nil
	})
	if errors.Is(err, errTakenOver) {
		return s.Blobs.Delete(ctx, res.key)
	}
	if err != nil {
		return err
	}
	if pk == requestsPK {
		if err := s.deleteDue(ctx, org, r.Request); err != nil {
			return err
		}
	}
	if err := s.audit(ctx, auditPrefix(pk)+Done, "system", r.ID, map[string]string{"type": r.Type,
		"records": strconv.FormatInt(res.result.Records, 10)}); err != nil {
		return err
	}
	return s.auditExport(ctx, pk, r)
}

var errFinished = errors.New("subject: request finished")

// exported is what a finished run wrote.
type exported struct {
	key    string
	rows   int64
	result *Result
}

// export writes the archive of r for run and returns it. Errors wrapping
// jobs.ErrPermanent carry a reason fit for the request's history.
func (s *Service) export(ctx context.Context, org tenant.ID, pk string, r record, run string, expires time.Time) (exported, error) {
	rcpt := recipient{}
	if len(r.SealedRecipient) > 0 {
		var key string
		if err := s.open(ctx, r.ID, "recipient", r.SealedRecipient, &key); err != nil {
			return exported{}, err
		}
		var err error
		if rcpt, err = parseRecipient(key, s.now()); err != nil {
			return exported{}, fmt.Errorf("%w: the recipient key %s", jobs.ErrPermanent, err)
		}
	}
	aw := &archiveWriter{manifest: Manifest{Tenant: string(org), RequestID: r.ID, RequestType: r.Type, GeneratedAt: s.now()}}
	res := &Result{}
	if pk == requestsPK {
		ref, err := s.openRef(ctx, r)
		if err != nil {
			return exported{}, err
		}
		contacts, err := s.match(ctx, ref)
		if errors.Is(err, contact.ErrForeign) {
			contacts, err = nil, nil
		}
		if err != nil {
			return exported{}, err
		}
		aw.doc, aw.manifest.Kind, aw.cols = "subject.json", "subject", s.subjectCollections(ref, contacts)
		res.Contacts = len(contacts)
	} else {
		aw.doc, aw.manifest.Kind, aw.cols = "workspace.json", "workspace", s.workspaceCollections()
		aw.manifest.Notes = append(aw.manifest.Notes,
			"Contacts under restriction or objection are included with their flags set: whoever processes this export must honour them.")
	}
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	aw.progress = func(rows int64) error {
		_, err := s.update(ctx, pk, r.ID, func(cur *record) error {
			if cur.Run != run {
				return errTakenOver
			}
			cur.Progress.Rows, cur.Progress.UpdatedAt = rows, s.now()
			return nil
		})
		if err != nil {
			cancel(err)
		}
		return err
	}
	key := ExportPrefix + r.ID + "/" + run + ".zip" + rcpt.suffix()
	// The archive's expiry comes first: the archive of a run that crashes
	// once it is written, before the request knows it, is deleted with it.
	if err := s.putArchive(ctx, org, r.ID, key, expires); err != nil {
		return exported{}, err
	}
	var man Manifest
	obj, err := s.stream(runCtx, key, func(w io.Writer) error {
		enc, err := rcpt.encrypt(w, s.now())
		if err != nil {
			return fmt.Errorf("%w: the recipient key cannot encrypt", jobs.ErrPermanent)
		}
		if man, err = aw.write(runCtx, enc); err != nil {
			return err
		}
		return enc.Close()
	})
	if cause := context.Cause(runCtx); errors.Is(cause, errTakenOver) {
		return exported{}, errTakenOver
	}
	if err != nil {
		return exported{}, err
	}
	for _, n := range man.Counts {
		res.Records += n
	}
	res.Bytes = obj.Size
	return exported{key: key, rows: aw.rows, result: res}, nil
}

// stream stores what write writes under key, through a pipe: the archive
// is never whole in memory. Nothing is stored if write fails.
func (s *Service) stream(ctx context.Context, key string, write func(io.Writer) error) (blob.Object, error) {
	pr, pw := io.Pipe()
	werr := make(chan error, 1)
	go func() {
		err := write(pw)
		pw.CloseWithError(err) // nil: the reader sees io.EOF
		werr <- err
	}()
	obj, err := s.Blobs.Put(ctx, key, pr)
	pr.CloseWithError(errNotStored) // unblocks write if Put stopped reading
	wErr := <-werr
	switch {
	case err != nil && wErr != nil && !errors.Is(wErr, errNotStored):
		return blob.Object{}, fmt.Errorf("subject: store archive: %w", errors.Join(wErr, err))
	case err != nil:
		return blob.Object{}, fmt.Errorf("subject: store archive: %w", err)
	case wErr != nil:
		return blob.Object{}, wErr
	}
	return obj, nil
}

var errNotStored = errors.New("subject: archive not stored")

// auditExport writes the export.created entry of a finished export once,
// with its size for the export-volume detector (INC-04, DSR-04).
func (s *Service) auditExport(ctx context.Context, pk string, r record) error {
	if r.Audited || r.Result == nil {
		return nil
	}
	err := s.audit(ctx, audit.ExportCreated, r.CreatedBy, r.ID, map[string]string{
		"bytes":      strconv.FormatInt(r.Result.Bytes, 10),
		"rows":       strconv.FormatInt(r.Result.Records, 10),
		"type":       r.Type,
		"encryption": r.Encryption,
	})
	if err != nil {
		return err
	}
	_, err = s.update(ctx, pk, r.ID, func(r *record) error {
		r.Audited = true
		return nil
	})
	return err
}

func newRun() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}
