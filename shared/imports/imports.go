// Package imports runs CSV imports (ING-02): a client asks for an import
// and gets a signed upload URL; the arrival of the file (fsblob's OnPut
// locally, S3 ObjectCreated in AWS) puts a parse job on the jobs queue; the
// job streams the file in constant memory, rejects invalid rows at once
// with their line and reason, queues valid rows on the ingress queue in
// chunks and checkpoints its position, so a parse interrupted by a crash
// resumes where it left off. The consumer of the ingress queue reports each
// imported row's outcome through Service.Row (ingest.Tally), exactly once
// per line however often its message is delivered; the import is done when
// every row has an outcome. The uploaded file is deleted as soon as it is
// parsed, and the sweep deletes any upload older than 24 hours (RET-01).
//
// The store holds no personal data of an import: the file name is sealed,
// and errors carry a line, a field and a reason, never a value.
package imports

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/csvimport"
	"github.com/alto/alto/shared/ingest"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/tenant"
	"github.com/alto/alto/shared/valid"
)

// Timing and limits of imports.
const (
	// KeyPrefix starts the blob key of every uploaded file:
	// imports/<id>.csv.
	KeyPrefix = "imports/"
	// UploadTTL is how long the upload URL works.
	UploadTTL = 15 * time.Minute
	// FileRetention is how long an uploaded file may exist at most
	// (RET-01); a parsed file is deleted at once.
	FileRetention = 24 * time.Hour
	// ReportRetention is how long an import's report (counts and errors)
	// is kept after its last change (RET-04).
	ReportRetention = 90 * 24 * time.Hour
	// MaxErrors is how many row errors an import keeps and shows; the
	// report says how many more there were.
	MaxErrors = 1000
	// ParseJob is the kind of the jobs that parse an uploaded file.
	ParseJob = "import.parse"
	// DefaultSource is the source of rows that have an ID column but no
	// source column.
	DefaultSource = "import"
)

// Statuses of an import.
const (
	Waiting = "waiting" // for the file
	Running = "running" // parsing, or rows still on their way
	Done    = "done"    // every row has an outcome
	Failed  = "failed"  // the file could not be parsed, or rows were lost
)

// Internal states of the stored record; the status shown is derived from
// them and the counts.
const (
	stateWaiting = "waiting"
	stateRunning = "running"
	stateParsed  = "parsed"
	stateFailed  = "failed"
)

// Storage layout, relative to the tenant; deadlinesPK is in the platform's
// scope.
const (
	importsPK   = "IMPORT"      // SK: import ID → record
	rowsPK      = "IMPORTROWS#" // + import ID; SK: block number → block
	deadlinesPK = "UPLOADS"     // SK: deadline#org#id → the upload to delete by then
)

// Store is the part of the storage port imports need.
type Store interface {
	Get(ctx context.Context, k store.Key) (store.Item, error)
	Put(ctx context.Context, it store.Item, cond store.Cond) (store.Item, error)
	Delete(ctx context.Context, k store.Key) error
	Query(ctx context.Context, q store.Query) (store.Page, error)
}

// Blobs is the part of the object port imports need.
type Blobs interface {
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	Delete(ctx context.Context, key string) error
	SignURL(ctx context.Context, method, key string, ttl time.Duration) (string, error)
}

// Keys seals the file name with the tenant's keys.
type Keys interface {
	Seal(ctx context.Context, record, field string, plaintext []byte) ([]byte, error)
	Open(ctx context.Context, record, field string, ciphertext []byte) ([]byte, error)
}

// Ingress queues valid rows for ingest (ingest.Producer).
type Ingress interface {
	Send(ctx context.Context, subs []ingest.Submission) error
}

// Jobs queues background jobs (jobs.Producer).
type Jobs interface {
	Send(ctx context.Context, kind, id string) error
}

// Auditor appends audit entries.
type Auditor interface {
	Append(ctx context.Context, e audit.Entry) (audit.Entry, error)
}

// Errors of the service.
var (
	// ErrNotFound is returned for an import that does not exist, belongs to
	// another tenant or is outside the caller's scope.
	ErrNotFound = fmt.Errorf("imports: %w", store.ErrNotFound)
)

// Service runs imports. It may be used concurrently; the tenant comes from
// the context.
type Service struct {
	Store   Store
	Blobs   Blobs
	Keys    Keys
	Ingress Ingress
	Jobs    Jobs
	Audit   Auditor
	Now     func() time.Time
	Logger  *slog.Logger
	// ChunkRows is how many rows are queued between two checkpoints
	// (default 500). StepRows and StepTime bound one parse job (defaults
	// 50,000 rows and one minute); a job that reaches either bound
	// checkpoints and queues its continuation.
	ChunkRows int
	StepRows  int
	StepTime  time.Duration
}

// RowError is one reason a row was rejected. Field is empty when the whole
// row is at fault (it is not valid CSV, or it was dropped by ingest).
type RowError struct {
	Line   int    `json:"line"`
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// Import is the state of an import as clients see it.
type Import struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	FileName string `json:"filename,omitempty"`
	// RowsRead counts the rows parsed so far and BytesRead the bytes of
	// the file they took (both move by chunks); with the file's size,
	// BytesRead tells how far the parse is.
	RowsRead  int   `json:"rowsRead"`
	BytesRead int64 `json:"bytesRead"`
	// Accepted rows were valid and taken in: created, updated, already
	// stored unchanged (Duplicates) or dropped as erased subjects
	// (Suppressed). Accepted + Rejected = RowsRead when the import is done.
	Accepted   int `json:"accepted"`
	Rejected   int `json:"rejected"`
	Duplicates int `json:"duplicates"`
	Created    int `json:"created"`
	Updated    int `json:"updated"`
	Suppressed int `json:"suppressed"`
	// Errors lists the first MaxErrors row errors in line order;
	// MoreErrors counts those not listed.
	Errors     []RowError `json:"errors"`
	MoreErrors int        `json:"moreErrors"`
	// Columns is the field each column of the file fills ("" for an
	// ignored column), once the header is read.
	Columns   []string  `json:"columns,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	// UploadBy is when the upload URL stops working.
	UploadBy time.Time `json:"uploadBy"`
}

// Created is the answer to a new import.
type Created struct {
	ID        string    `json:"id"`
	UploadURL string    `json:"uploadUrl"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// record is an import as stored.
type record struct {
	ID string `json:"id"`
	// Who created it, with the scope a manager's rows are held to.
	Actor    string    `json:"actor"`
	Role     auth.Role `json:"role"`
	Branch   string    `json:"branch,omitempty"`
	Dept     string    `json:"dept,omitempty"`
	FileName []byte    `json:"fileName"` // sealed
	State    string    `json:"state"`
	// Mapping is set once the header is read; Pos and RowsRead are the
	// checkpoint: every row before Pos is queued or rejected.
	Mapping    *csvimport.Mapping `json:"mapping,omitempty"`
	Pos        csvimport.Position `json:"pos"`
	RowsRead   int                `json:"rowsRead"`
	Failure    *RowError          `json:"failure,omitempty"`
	CreatedAt  time.Time          `json:"createdAt"`
	UploadBy   time.Time          `json:"uploadBy"`
	DeleteBy   time.Time          `json:"deleteBy"`
	UploadedAt time.Time          `json:"uploadedAt,omitzero"`
	ParsedAt   time.Time          `json:"parsedAt,omitzero"`
}

// principal is who the import's rows are submitted as.
func (r record) principal() auth.Principal {
	return auth.Principal{Sub: r.Actor, Role: r.Role, Branch: r.Branch, Dept: r.Dept}
}

// Key returns the blob key of import id's file.
func Key(id string) string { return KeyPrefix + id + ".csv" }

// idFromKey returns the import ID of a blob key made by Key, or "".
func idFromKey(key string) string {
	id, ok := strings.CutPrefix(key, KeyPrefix)
	if !ok {
		return ""
	}
	id, ok = strings.CutSuffix(id, ".csv")
	if !ok || !validID(id) {
		return ""
	}
	return id
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

func newID() string {
	b := make([]byte, 15)
	rand.Read(b)
	return "imp_" + strings.ToLower(idEncoding.EncodeToString(b))
}

func validID(id string) bool {
	rest, ok := strings.CutPrefix(id, "imp_")
	if !ok || len(rest) != 24 {
		return false
	}
	for _, c := range rest {
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC()
	}
	return s.Now().UTC()
}

func (s *Service) log() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// Create starts an import of a file named fileName for p: it records the
// import, schedules the deletion of its upload (RET-01) and returns a PUT
// URL valid for UploadTTL. Returns valid.Errors for a bad file name.
func (s *Service) Create(ctx context.Context, p auth.Principal, fileName string) (Created, error) {
	fileName = strings.TrimSpace(fileName)
	var errs valid.Errors
	switch {
	case fileName == "":
		errs.Add("filename", "is required")
	case len(fileName) > 255 || !utf8.ValidString(fileName) || strings.ContainsFunc(fileName, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		errs.Add("filename", "must be at most 255 bytes of text without control characters")
	}
	if err := errs.Err(); err != nil {
		return Created{}, err
	}
	org, err := tenant.From(ctx)
	if err != nil {
		return Created{}, err
	}
	now := s.now()
	id := newID()
	url, err := s.Blobs.SignURL(ctx, "PUT", Key(id), UploadTTL)
	if err != nil {
		return Created{}, fmt.Errorf("imports: create: %w", err)
	}
	sealed, err := s.Keys.Seal(ctx, importsPK+"#"+id, "fileName", []byte(fileName))
	if err != nil {
		return Created{}, fmt.Errorf("imports: create: %w", err)
	}
	rec := record{ID: id, Actor: p.Sub, Role: p.Role, Branch: p.Branch, Dept: p.Dept, FileName: sealed,
		State: stateWaiting, Pos: csvimport.Position{Line: 1}, CreatedAt: now, UploadBy: now.Add(UploadTTL),
		DeleteBy: now.Add(FileRetention)}
	// The deadline first: a deadline without its import costs the sweep a
	// no-op; an upload without a deadline could outlive RET-01.
	if _, err := s.Store.Put(tenant.WithPlatform(ctx), store.Item{PK: deadlinesPK, SK: deadlineKey(rec.DeleteBy, org, id),
		ExpiresAt: rec.DeleteBy.Add(ReportRetention)}, store.Always); err != nil {
		return Created{}, fmt.Errorf("imports: create: %w", err)
	}
	if _, err := s.save(ctx, rec, 0, store.IfAbsent); err != nil {
		return Created{}, err
	}
	if _, err := s.Audit.Append(ctx, audit.Entry{Type: "import.created", Actor: p.Sub, Target: id}); err != nil {
		return Created{}, err
	}
	return Created{ID: id, UploadURL: url, ExpiresAt: rec.UploadBy}, nil
}

// deadlineKey sorts deadlines by time, so the sweep reads only those due.
func deadlineKey(at time.Time, org tenant.ID, id string) string {
	return fmt.Sprintf("%012d#%s#%s", at.Unix(), org, id)
}

// save writes rec under cond (store.IfVersion with version, or
// store.IfAbsent) and returns the new version.
func (s *Service) save(ctx context.Context, rec record, version int64, cond store.Cond) (int64, error) {
	data, err := json.Marshal(rec)
	if err != nil {
		return 0, fmt.Errorf("imports: encode %s: %w", rec.ID, err)
	}
	it, err := s.Store.Put(ctx, store.Item{PK: importsPK, SK: rec.ID, Data: data, Version: version,
		ExpiresAt: s.now().Add(ReportRetention)}, cond)
	if err != nil {
		return 0, fmt.Errorf("imports: save %s: %w", rec.ID, err)
	}
	return it.Version, nil
}

// load reads import id. Returns ErrNotFound if there is none.
func (s *Service) load(ctx context.Context, id string) (record, int64, error) {
	if !validID(id) {
		return record{}, 0, ErrNotFound
	}
	it, err := s.Store.Get(ctx, store.Key{PK: importsPK, SK: id})
	if errors.Is(err, store.ErrNotFound) {
		return record{}, 0, ErrNotFound
	}
	if err != nil {
		return record{}, 0, fmt.Errorf("imports: get %s: %w", id, err)
	}
	var rec record
	if err := json.Unmarshal(it.Data, &rec); err != nil {
		return record{}, 0, fmt.Errorf("imports: decode %s: %w", id, err)
	}
	return rec, it.Version, nil
}

// Get returns import id as p may see it: owners and admins see every
// import of the tenant, a manager those created in their branch and
// department. Returns ErrNotFound if it does not exist or is outside p's
// scope.
func (s *Service) Get(ctx context.Context, p auth.Principal, id string) (Import, error) {
	rec, _, err := s.load(ctx, id)
	if err != nil {
		return Import{}, err
	}
	if !auth.RecordScope(p).Includes(rec.Actor, rec.Branch, rec.Dept) {
		return Import{}, ErrNotFound
	}
	name, err := s.Keys.Open(ctx, importsPK+"#"+id, "fileName", rec.FileName)
	if err != nil {
		return Import{}, fmt.Errorf("imports: open %s: %w", id, err)
	}
	imp := Import{ID: id, FileName: string(name), RowsRead: rec.RowsRead, BytesRead: rec.Pos.Offset, CreatedAt: rec.CreatedAt,
		UploadBy: rec.UploadBy, Errors: []RowError{}}
	if rec.Mapping != nil {
		imp.Columns = rec.Mapping.Columns
	}
	outcomes, err := s.report(ctx, id, &imp)
	if err != nil {
		return Import{}, err
	}
	now := s.now()
	switch {
	case rec.State == stateFailed:
		imp.Status = Failed
	case rec.State == stateParsed && outcomes >= rec.RowsRead:
		imp.Status = Done
	case rec.State == stateParsed && now.After(rec.ParsedAt.Add(ingest.Retention)):
		// The ingress queue forgets within 24 hours: what has no outcome
		// by then never will.
		imp.Status = Failed
		imp.addError(RowError{Reason: fmt.Sprintf(
			"%d rows got no outcome within %v of the parse", rec.RowsRead-outcomes, ingest.Retention)})
	case rec.State == stateWaiting && rec.UploadedAt.IsZero() && now.After(rec.UploadBy):
		imp.Status = Failed
		imp.addError(RowError{Reason: "no file arrived before the upload URL expired"})
	case rec.State != stateParsed && now.After(rec.DeleteBy):
		imp.Status = Failed
		imp.addError(RowError{Reason: "the file was not parsed within 24 hours of the import's creation; it has been deleted"})
	case rec.State == stateWaiting:
		imp.Status = Waiting
	default:
		imp.Status = Running
	}
	if rec.Failure != nil {
		imp.addError(*rec.Failure)
	}
	return imp, nil
}

// addError adds an error about the import as a whole after the row errors,
// keeping the list to MaxErrors: the last row error shown gives way.
func (imp *Import) addError(e RowError) {
	if len(imp.Errors) >= MaxErrors {
		imp.Errors = imp.Errors[:MaxErrors-1]
		imp.MoreErrors++
	}
	imp.Errors = append(imp.Errors, e)
}

// Partitions calls fn with the store partitions of the tenant's import
// records and reports, each import's rows before the records, for the
// retention sweep (RET-03, RET-04), and stops at fn's first error.
func (s *Service) Partitions(ctx context.Context, fn func(pk string) error) error {
	for cursor := ""; ; {
		page, err := s.Store.Query(ctx, store.Query{PK: importsPK, Cursor: cursor, Limit: store.MaxLimit})
		if err != nil {
			return fmt.Errorf("imports: list: %w", err)
		}
		for _, it := range page.Items {
			if err := fn(rowsPK + it.SK); err != nil {
				return err
			}
		}
		if cursor = page.Next; cursor == "" {
			return fn(importsPK)
		}
	}
}
