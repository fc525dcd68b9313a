// Package stack assembles Alto: the audit log, the key ring, the services,
// the HTTP API, the schedules and the queue handlers, over one set of
// adapters (Ports). Open makes the embedded ones over a data folder (bbolt
// store and queues, files for blobs and keysets, a local master key,
// e-mail into an outbox folder); OpenAWS the AWS ones (DynamoDB, S3, SQS,
// KMS, SES, SNS); OpenEnv chooses for a Lambda function from its
// environment. infra/local serves either; the functions in functions/ hand
// its handlers to Lambda; tests open it in a temporary folder and drive it
// exactly as the server does.
package stack

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/alto/alto"
	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/blob"
	"github.com/alto/alto/shared/bolt"
	"github.com/alto/alto/shared/campaign"
	"github.com/alto/alto/shared/contact"
	"github.com/alto/alto/shared/directory"
	"github.com/alto/alto/shared/forms"
	"github.com/alto/alto/shared/fsblob"
	"github.com/alto/alto/shared/httpapi"
	"github.com/alto/alto/shared/imports"
	"github.com/alto/alto/shared/incident"
	"github.com/alto/alto/shared/ingest"
	"github.com/alto/alto/shared/jobs"
	"github.com/alto/alto/shared/localkeys"
	"github.com/alto/alto/shared/notice"
	"github.com/alto/alto/shared/notify"
	"github.com/alto/alto/shared/orgs"
	"github.com/alto/alto/shared/outbox"
	"github.com/alto/alto/shared/poller"
	"github.com/alto/alto/shared/purge"
	"github.com/alto/alto/shared/retention"
	"github.com/alto/alto/shared/scim"
	"github.com/alto/alto/shared/scrub"
	"github.com/alto/alto/shared/seal"
	"github.com/alto/alto/shared/subject"
	"github.com/alto/alto/shared/tenant"
	"github.com/alto/alto/shared/webhook"
)

// Local issuer identity: the `iss` and `aud` of tokens minted on one machine.
const (
	LocalIssuer   = "alto-local"
	LocalAudience = "alto"
)

// Config configures a local stack.
type Config struct {
	Data string // the data folder; created if missing
	// NoSync skips fsync in the database: for tests only (see bolt.Options).
	NoSync  bool
	BaseURL string // how clients reach the server, for signed URLs
	Now     func() time.Time
	// Log receives the stack's logs, scrubbed of personal data; nil
	// discards them.
	Log slog.Handler
	// Rates override the default rate limits when set.
	PerTenant, PerIP, Public *httpapi.Rate
	// SecurityTeam are the addresses incident alarms are e-mailed to
	// (into the outbox folder); nil means DefaultSecurityTeam.
	SecurityTeam []string
	// Holidays ("YYYY-MM-DD", UTC) are skipped when counting the business
	// days of an RCA deadline.
	Holidays []string
	// Issuer, Audience and JWKSURL name the identity provider whose JWTs
	// the API accepts (docs/SSO.md); with JWKSURL empty, the local issuer's.
	Issuer, Audience, JWKSURL string
	// Subprocessors seeds the sub-processor list (NTC-01); nil means
	// notice.DefaultProcessors.
	Subprocessors []notice.Processor
	// Ports, for tests only, replaces the adapters Open or OpenAWS made
	// before the stack is assembled over them (package faults wraps them
	// to inject failures). Nil uses them as they are.
	Ports func(Ports) Ports
}

// DefaultSecurityTeam receives incident alarms when Config.SecurityTeam is
// nil: on one machine its messages land in the outbox folder.
var DefaultSecurityTeam = []string{"security@localhost"}

// Stack is Alto assembled over its ports. Close it to release them (the
// embedded database's data folder).
type Stack struct {
	Config Config
	// DB is the embedded database of Open; nil on AWS.
	DB     *bolt.DB
	Store  Store
	Blobs  blob.Store
	Keys   *seal.Keyring
	Issuer *auth.Issuer
	Audit  *audit.Log
	API    *httpapi.API
	Logger *slog.Logger
	// Queues holds the stack's queues and their dead-letter queues.
	Queues    Queues
	Contacts  *contact.Service
	Ingest    *ingest.Consumer
	Campaigns *campaign.Service
	Purges    *purge.Service
	Erasures  *purge.Eraser
	// Retention keeps each tenant's retention policy and lifecycle and
	// runs the retention sweep (RET-01..08).
	Retention *retention.Service
	// Jobs routes the jobs queue; Imports runs CSV imports (its parse is a
	// job); Forms keeps web forms.
	Jobs    *jobs.Dispatcher
	Imports *imports.Service
	Forms   *forms.Service
	// Mailer sends e-mail and Alarms raises alarms (see Ports). Outbox
	// is the Mailer of Open, every e-mail an .eml file; nil on AWS. Orgs
	// is the tenant registry; Incidents runs incidents and the `sla`
	// schedule.
	Mailer    notify.Mailer
	Alarms    notify.Alarms
	Outbox    *outbox.Outbox
	Orgs      *orgs.Registry
	Incidents *incident.Service
	// Subjects keeps subject requests and runs exports (jobs on Jobs).
	Subjects *subject.Service
	// Directory is each tenant's user directory, fed through SCIM with
	// SCIMTokens (ACC-07); Notices keeps sub-processors and notices (NTC-01).
	Directory  *directory.Directory
	SCIMTokens *scim.Tokens
	Notices    *notice.Service
	stopKeys   context.CancelFunc // ends the identity provider's JWKS refresh
	// expired and expiredMessages are the sweep's Ports.Expired and
	// Ports.ExpiredMessages, never nil.
	expired         ItemExpiry
	expiredMessages MessageExpiry
	closePorts      func() error // Ports.Close
	// uploadsQueue, if set, carries the imports bucket's S3 events to a
	// poller (make run-aws; see UploadsQueue).
	uploadsQueue string
}

// Files of the data folder.
const (
	dbFile      = "alto.db"
	masterFile  = "master-keyset.json"
	issuerFile  = "issuer-key.pem"
	blobKeyFile = "blob-url.key"
	logKeyFile  = "log-digest.key"
	keysetsDir  = "keysets"
	blobsDir    = "blobs"
	outboxDir   = "outbox"
	vaultDir    = "audit-vault" // the audit chains' digests (AUD-02)
)

// ConfigFromEnv is the configuration of a function instance: the data
// folder from ALTO_DATA (default /tmp/alto) and the public base URL from
// ALTO_BASE_URL.
func ConfigFromEnv() Config {
	data := os.Getenv("ALTO_DATA")
	if data == "" {
		data = "/tmp/alto"
	}
	return Config{Data: data, BaseURL: os.Getenv("ALTO_BASE_URL"),
		Issuer: os.Getenv("ALTO_ISSUER"), Audience: os.Getenv("ALTO_AUDIENCE"), JWKSURL: os.Getenv("ALTO_JWKS_URL")}
}

// IssuerPath is where the local issuer's signing key lives in a data folder.
func IssuerPath(data string) string { return filepath.Join(data, issuerFile) }

// Open opens (creating on first use) the stack on the embedded adapters
// in cfg.Data: bbolt for the store and the queues, files for keysets and
// blobs, the local master key, e-mail into the outbox folder and alarms
// into the platform's audit log. Returns an error wrapping bolt.ErrInUse
// if another process serves the same folder.
func Open(cfg Config) (*Stack, error) {
	cfg = cfg.withDefaults()
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return nil, fmt.Errorf("stack: create data folder: %w", err)
	}
	master, err := localkeys.LoadOrCreateMaster(filepath.Join(cfg.Data, masterFile))
	if err != nil {
		return nil, err
	}
	keysets, err := localkeys.OpenDir(filepath.Join(cfg.Data, keysetsDir))
	if err != nil {
		return nil, err
	}
	blobKey, err := secretFile(filepath.Join(cfg.Data, blobKeyFile))
	if err != nil {
		return nil, err
	}
	var st *Stack // set below, before the API can take an upload
	blobs, err := fsblob.New(filepath.Join(cfg.Data, blobsDir), fsblob.Options{Now: cfg.Now, Secret: blobKey, BaseURL: cfg.BaseURL,
		OnPut: func(ctx context.Context, _ tenant.ID, obj blob.Object) { st.uploaded(ctx, obj) }})
	if err != nil {
		return nil, err
	}
	mail, err := outbox.New(filepath.Join(cfg.Data, outboxDir), outbox.Options{Now: cfg.Now})
	if err != nil {
		return nil, err
	}
	vault, err := fsblob.New(filepath.Join(cfg.Data, vaultDir), fsblob.Options{Now: cfg.Now, Secret: blobKey})
	if err != nil {
		return nil, err
	}
	db, err := bolt.Open(filepath.Join(cfg.Data, dbFile), bolt.Options{Now: cfg.Now, NoSync: cfg.NoSync})
	if err != nil {
		return nil, err
	}
	queues, err := db.Queues(slices.Concat(ingest.Queues(), campaign.Queues(), jobs.Queues())...)
	if err == nil {
		p := Ports{Store: db.Store(), Keysets: keysets, Master: master, Blobs: blobs, AuditVault: vault, Queues: queues,
			Mailer: mail, Expired: db.Store(), ExpiredMessages: queues,
			Extra: map[string]http.Handler{"/blob/": blobs.Handler()}, Close: db.Close}
		if cfg.Ports != nil {
			p = cfg.Ports(p)
		}
		st, err = Assemble(cfg, p)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	st.DB, st.Outbox = db, mail
	return st, nil
}

func (c Config) withDefaults() Config {
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Assemble builds the stack over the adapters of p: the services, the API,
// the schedules and the pollers, the same whichever adapters they run on.
// The data folder cfg.Data (created if missing) keeps the local issuer's
// signing key and the key of log digests. Stack.Close calls p.Close; on
// error Assemble does not, and the caller still owns p.
func Assemble(cfg Config, p Ports) (*Stack, error) {
	cfg = cfg.withDefaults()
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return nil, fmt.Errorf("stack: create data folder: %w", err)
	}
	logKey, err := secretFile(filepath.Join(cfg.Data, logKeyFile))
	if err != nil {
		return nil, err
	}
	next := cfg.Log
	if next == nil {
		next = slog.DiscardHandler
	}
	logger := slog.New(scrub.New(next, logKey))
	issuer, err := auth.LoadOrCreateIssuer(IssuerPath(cfg.Data), LocalIssuer, LocalAudience)
	if err != nil {
		return nil, err
	}
	issuer.Now = cfg.Now
	verifier, stopKeys, err := newVerifier(cfg, issuer)
	if err != nil {
		return nil, err
	}
	blobs := p.Blobs
	st := &Stack{Config: cfg, Store: p.Store, Blobs: blobs, Queues: p.Queues, Mailer: p.Mailer, Alarms: p.Alarms,
		Issuer: issuer, Logger: logger, Keys: seal.NewKeyring(p.Master, p.Keysets),
		expired: p.Expired, expiredMessages: p.ExpiredMessages, closePorts: p.Close, stopKeys: stopKeys}
	if st.expired == nil {
		st.expired = itemsExpireThemselves{}
	}
	if st.expiredMessages == nil {
		st.expiredMessages = messagesExpireThemselves{}
	}
	st.Audit = audit.New(st.Store, cfg.Now)
	st.Audit.Vault = p.AuditVault
	if st.Alarms == nil {
		st.Alarms = outbox.NewAlarms(st.Audit, logger)
	}
	st.Contacts = &contact.Service{Store: st.Store, Keys: st.Keys, Audit: st.Audit, Now: cfg.Now}
	st.Ingest = &ingest.Consumer{Keys: st.Keys, Contacts: st.Contacts, Dead: st.Queues, Logger: logger}
	st.Purges = &purge.Service{Keys: st.Keys, Store: st.Store, Data: st.Store, Blobs: blobs, Audit: st.Audit, Now: cfg.Now}
	st.Campaigns = &campaign.Service{Store: st.Store, Keys: st.Keys, Contacts: st.Contacts, Queue: st.Queues,
		Personalizer: campaign.Templates{}, Audit: st.Audit, BaseURL: cfg.BaseURL, Now: cfg.Now, Logger: logger}
	producer := &ingest.Producer{Queue: st.Queues, Keys: st.Keys}
	st.Jobs = &jobs.Dispatcher{Dead: st.Queues, Logger: logger}
	st.Imports = &imports.Service{Store: st.Store, Blobs: blobs, Keys: st.Keys, Ingress: producer,
		Jobs: &jobs.Producer{Queue: st.Queues}, Audit: st.Audit, Now: cfg.Now, Logger: logger}
	st.Jobs.Handle(imports.ParseJob, st.Imports.ParseJob)
	st.Ingest.Tally = st.Imports
	st.Forms = &forms.Service{Store: st.Store, Keys: st.Keys, Ingress: producer, Audit: st.Audit, BaseURL: cfg.BaseURL, Now: cfg.Now}
	st.Directory = directory.New(directory.Config{Store: st.Store, Keys: st.Keys, Audit: st.Audit, Now: cfg.Now})
	if err := st.openIncidents(); err != nil {
		stopKeys()
		return nil, err
	}
	st.Subjects = &subject.Service{Store: st.Store, Keys: st.Keys, Contacts: st.Contacts, Campaigns: st.Campaigns,
		Audit: st.Audit, Blobs: blobs, Jobs: &jobs.Producer{Queue: st.Queues}, Alarms: st.Alarms,
		BaseURL: cfg.BaseURL, Now: cfg.Now, Logger: logger}
	st.Subjects.Register(st.Jobs)
	st.Purges.Mailer = st.Mailer
	st.Purges.Alarms = st.Alarms
	st.Erasures = &purge.Eraser{Requests: st.Subjects, Contacts: st.Contacts, Drafts: st.Campaigns, Archives: st.Subjects}
	st.Retention = &retention.Service{Store: st.Store, Audit: st.Audit, Keys: st.Keys, Tenants: st.Orgs.All,
		Purges: st.Purges, Now: cfg.Now, Classes: []retention.Class{
			retention.Expiring{Class: "drafts", Default: campaign.DraftTTL, Store: st.Store, Partitions: st.Campaigns.DraftPartitions,
				Days: func(p retention.Policy) int { return p.DraftsDays }},
			retention.Expiring{Class: "logs", Default: imports.ReportRetention, Store: st.Store, Partitions: st.Imports.Partitions,
				Days: func(p retention.Policy) int { return p.LogsDays }},
			retention.AfterContract{Class: "contacts", Store: st.Store,
				Partitions: retention.Join(st.Contacts.Partitions, st.Campaigns.DraftPartitions, st.Imports.Partitions)},
			retention.AuditTrail{Log: st.Audit},
		}}
	st.SCIMTokens = &scim.Tokens{Store: st.Store, Audit: st.Audit, Now: cfg.Now}
	st.Notices = &notice.Service{Store: st.Store, Mailer: st.Mailer, Audit: st.Audit, Tenants: st.Orgs,
		Recipients: notice.Union(st.Directory.OwnersAndAdmins, st.settingsEmails), Seed: cfg.Subprocessors, Now: cfg.Now, Logger: logger}
	api := httpapi.Config{
		Verifier: verifier, Audit: st.Audit, Logins: st.Store, DigestKey: logKey,
		JWKS: issuer.JWKS(), OpenAPI: alto.OpenAPI, Logger: logger, Now: cfg.Now,
		PerTenant: httpapi.DefaultPerTenant, PerIP: httpapi.DefaultPerIP, Public: httpapi.DefaultPublic,
		Extra:    p.Extra,
		Contacts: st.Contacts, Ingress: &ingest.Producer{Queue: st.Queues, Keys: st.Keys}, Idempotency: st.Store,
		Campaigns: st.Campaigns, OptOuts: st.Contacts, Purges: st.Purges, Retention: st.Retention,
		Imports: st.Imports, Forms: st.Forms,
		Incidents: st.Incidents, Tenants: st.Orgs,
		Subjects:  st.Subjects,
		Directory: st.Directory, SCIM: &scim.Server{Directory: st.Directory, BaseURL: cfg.BaseURL, Logger: logger},
		SCIMTokens: st.SCIMTokens, Notices: st.Notices,
	}
	for dst, src := range map[*httpapi.Rate]*httpapi.Rate{&api.PerTenant: cfg.PerTenant, &api.PerIP: cfg.PerIP, &api.Public: cfg.Public} {
		if src != nil {
			*dst = *src
		}
	}
	st.API = httpapi.New(api)
	return st, nil
}

// openIncidents assembles incidents: e-mail through the Mailer, webhooks
// to public https endpoints only, alarms through Alarms, and the tenant
// registry for "all".
func (s *Stack) openIncidents() error {
	cfg := s.Config
	s.Orgs = orgs.New(s.Store, cfg.Now)
	cal, err := incident.NewCalendar(time.UTC, cfg.Holidays...)
	if err != nil {
		return fmt.Errorf("stack: %w", err)
	}
	team := cfg.SecurityTeam
	if team == nil {
		team = DefaultSecurityTeam
	}
	s.Incidents, err = incident.New(incident.Config{Store: s.Store, Audit: s.Audit, Keys: s.Keys, Mailer: s.Mailer,
		Webhooks: webhook.New(webhook.Options{Now: cfg.Now}), Alarms: s.Alarms,
		Orgs: s.Orgs, Directory: s.Directory, Calendar: cal, SecurityTeam: team, Now: cfg.Now, Logger: s.Logger})
	return err
}

// uploaded is fsblob's OnPut, the local S3 ObjectCreated event: an upload
// to an import starts its parse (on the jobs queue, not in the request).
func (s *Stack) uploaded(ctx context.Context, obj blob.Object) {
	if err := s.Imports.Uploaded(ctx, obj.Key); err != nil {
		s.Logger.ErrorContext(ctx, "upload event failed", "err", err.Error())
	}
}

// Close releases the data folder and the ports.
func (s *Stack) Close() error {
	if s.stopKeys != nil {
		s.stopKeys()
	}
	if s.closePorts == nil {
		return nil
	}
	return s.closePorts()
}

// Schedule is a job the runtime runs periodically.
type Schedule struct {
	Name  string
	Every time.Duration
	Run   func(context.Context) error
}

// Schedules returns the stack's periodic jobs with their real periods. The
// `sweep` runs hourly and removes expired items. The `sla` schedule runs
// every 15 minutes: incident timers and detectors (incident.Service.Tick).
func (s *Stack) Schedules() []Schedule {
	return []Schedule{
		{Name: "sweep", Every: time.Hour, Run: s.sweep},
		{Name: "sla", Every: 15 * time.Minute, Run: s.Incidents.Tick},
	}
}

// Pollers returns the queue consumers the runtime runs: on one machine they
// play the Lambda event source mappings (under make run-aws, also the S3
// notifications of the imports bucket, through UploadsQueue).
func (s *Stack) Pollers() []*poller.Poller {
	ps := []*poller.Poller{
		{Queue: s.Queues, Name: ingest.Queue, Handler: s.Ingest.HandleSQS, Logger: s.Logger},
		{Queue: s.Queues, Name: campaign.Queue, Handler: s.Campaigns.HandleSQS, Logger: s.Logger},
		{Queue: s.Queues, Name: jobs.Queue, Handler: s.Jobs.HandleSQS, Logger: s.Logger},
	}
	if s.uploadsQueue != "" {
		ps = append(ps, &poller.Poller{Queue: s.Queues, Name: s.uploadsQueue, Handler: s.HandleUploads, Logger: s.Logger})
	}
	return ps
}

// purgeBudget bounds the wall time of one sweep run's purge steps (each
// deletes up to 1,000 records and 1,000 files per purge); the next run
// goes on. Bounding by time, not by steps, keeps a large workspace within
// its 72 hours: at the local store's measured 16k deletions a second, two
// minutes an hour delete some 100M items in 72 hours (docs/benchmarks/purge.md).
const purgeBudget = 2 * time.Minute

// sweep removes expired items in bounded batches until none are left or
// ctx ends.
// Sweep runs the hourly sweep once: the purge function's work in AWS.
func (s *Stack) Sweep(ctx context.Context) error { return s.sweep(ctx) }

func (s *Stack) sweep(ctx context.Context) error {
	total := 0
	for ctx.Err() == nil {
		n, err := s.expired.DeleteExpired(ctx, 1000)
		if err != nil {
			return fmt.Errorf("sweep: %w", err)
		}
		total += n
		if n < 1000 {
			break
		}
	}
	purged := 0
	for stop := time.Now().Add(purgeBudget); time.Now().Before(stop) && ctx.Err() == nil; {
		n, err := s.Purges.Step(ctx, 1000)
		if err != nil {
			return fmt.Errorf("sweep: %w", err)
		}
		purged += n
		if n == 0 {
			break
		}
	}
	uploads := 0 // uploaded import files past their 24 hours (RET-01)
	for ctx.Err() == nil {
		n, err := s.Imports.SweepUploads(ctx, 1000)
		if err != nil {
			return fmt.Errorf("sweep: %w", err)
		}
		if uploads += n; n < 1000 {
			break
		}
	}
	retained, err := s.Retention.Sweep(ctx) // each tenant's policy and lifecycle (RET-02..07)
	if err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	if err := s.writeDigests(ctx); err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	erased, err := s.Erasures.RunAll(ctx, s.Orgs.All)
	if err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	msgs, err := s.expiredMessages.DeleteExpired(ctx)
	if err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	if total+msgs+uploads > 0 { // what expired by its own time, recorded in the platform's log (RET-08)
		if _, err := s.Audit.Append(tenant.WithPlatform(ctx), audit.Entry{Type: "retention.expired", Actor: "system",
			Detail: map[string]string{"items": strconv.Itoa(total), "messages": strconv.Itoa(msgs), "uploads": strconv.Itoa(uploads)}}); err != nil {
			return fmt.Errorf("sweep: %w", err)
		}
	}
	if err := s.Subjects.Sweep(ctx); err != nil { // DSR due dates (OPS-04), old export archives
		return fmt.Errorf("sweep: %w", err)
	}
	if err := s.Notices.Tick(ctx); err != nil { // notices unfinished, reminders a week ahead (NTC-01)
		return fmt.Errorf("sweep: %w", err)
	}
	s.Logger.InfoContext(ctx, "sweep done", "expired_items", total, "expired_messages", msgs, "purged", purged, "erased", erased, "uploads", uploads,
		"retention_deleted", retained.Deleted, "retention_done", retained.Done, "lifecycle_purges", retained.Purges)
	return ctx.Err()
}

// writeDigests writes each live tenant's audit chain head, and the
// platform's, to write-once storage (AUD-02).
func (s *Stack) writeDigests(ctx context.Context) error {
	if s.Audit.Vault == nil {
		return nil
	}
	if _, err := s.Audit.WriteDigest(tenant.WithPlatform(ctx)); err != nil {
		return err
	}
	return s.Orgs.All(ctx, func(org tenant.ID) error {
		if gone, err := s.Purges.Purged(ctx, string(org)); err != nil || gone {
			return err
		}
		_, err := s.Audit.WriteDigest(tenant.With(ctx, org))
		return err
	})
}

// secretFile returns the 32 random bytes kept in path (mode 0600), creating
// them on first use. The file appears whole or not at all.
func secretFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) != 32 {
			return nil, fmt.Errorf("stack: %s: want 32 bytes, found %d", path, len(b))
		}
		return b, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("stack: read %s: %w", path, err)
	}
	b = make([]byte, 32)
	rand.Read(b)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".secret-*")
	if err != nil {
		return nil, fmt.Errorf("stack: create %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := errors.Join(tmp.Chmod(0o600), write(tmp, b), tmp.Sync(), tmp.Close()); err != nil {
		return nil, fmt.Errorf("stack: write %s: %w", path, err)
	}
	// Link fails if another process created the file first: then use theirs.
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("stack: create %s: %w", path, err)
	}
	return secretFile(path)
}

func write(f *os.File, b []byte) error {
	_, err := f.Write(b)
	return err
}

// newVerifier returns the verifier of the API's JWTs: the identity
// provider's of cfg (its JWKS fetched over https, refreshed until the
// returned stop is called), or else the local issuer's.
func newVerifier(cfg Config, local *auth.Issuer) (*auth.Verifier, context.CancelFunc, error) {
	vc := auth.VerifierConfig{Issuer: LocalIssuer, Audience: LocalAudience, Now: cfg.Now}
	ctx, stop := context.WithCancel(context.Background())
	var err error
	if cfg.JWKSURL == "" {
		vc.Keys, err = auth.KeysFromJWKS(local.JWKS())
	} else {
		vc.Issuer, vc.Audience = cfg.Issuer, cfg.Audience
		u, perr := url.Parse(cfg.JWKSURL)
		switch {
		case cfg.Issuer == "" || cfg.Audience == "":
			err = errors.New("stack: ALTO_JWKS_URL needs ALTO_ISSUER and ALTO_AUDIENCE")
		case perr != nil || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname()))):
			err = errors.New("stack: ALTO_JWKS_URL must be an https URL")
		default:
			vc.Keys, err = auth.KeysFromURL(ctx, cfg.JWKSURL)
		}
	}
	var v *auth.Verifier
	if err == nil {
		v, err = auth.NewVerifier(vc)
	}
	if err != nil {
		stop()
		return nil, nil, err
	}
	return v, stop, nil
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

// settingsEmails are the addresses of the tenant's notification settings:
// notices go there as well as to the owners and admins in its directory.
// A purged tenant has none.
func (s *Stack) settingsEmails(ctx context.Context) ([]string, error) {
	set, err := s.Incidents.NotificationSettings(ctx)
	if errors.Is(err, seal.ErrShredded) {
		return nil, nil
	}
	return set.Emails, err
}
