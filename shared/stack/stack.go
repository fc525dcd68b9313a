// Package stack assembles Alto on one machine: the embedded adapters over a
// data folder (bbolt store, files for blobs, local master key and issuer),
// the audit log, the key ring and the HTTP API, plus the schedules the
// local runtime ticks. infra/local serves it; tests open it in a temporary
// folder and drive it exactly as the server does.
package stack

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/alto/alto"
	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/bolt"
	"github.com/alto/alto/shared/campaign"
	"github.com/alto/alto/shared/contact"
	"github.com/alto/alto/shared/fsblob"
	"github.com/alto/alto/shared/httpapi"
	"github.com/alto/alto/shared/ingest"
	"github.com/alto/alto/shared/localkeys"
	"github.com/alto/alto/shared/poller"
	"github.com/alto/alto/shared/purge"
	"github.com/alto/alto/shared/scrub"
	"github.com/alto/alto/shared/seal"
)

// Local issuer identity: the `iss` and `aud` of tokens minted on one machine.
const (
	LocalIssuer   = "alto-local"
	LocalAudience = "alto"
)

// Config configures a local stack.
type Config struct {
	Data    string // the data folder; created if missing
	BaseURL string // how clients reach the server, for signed URLs
	Now     func() time.Time
	// Log receives the stack's logs, scrubbed of personal data; nil
	// discards them.
	Log slog.Handler
	// Rates override the default rate limits when set.
	PerTenant, PerIP, Public *httpapi.Rate
}

// Stack is Alto on one machine. Close it to release the data folder.
type Stack struct {
	Config Config
	DB     *bolt.DB
	Store  *bolt.Store
	Blobs  *fsblob.Store
	Keys   *seal.Keyring
	Issuer *auth.Issuer
	Audit  *audit.Log
	API    *httpapi.API
	Logger *slog.Logger
	// Queues holds the ingress queue and its dead-letter queue.
	Queues    *bolt.Queue
	Contacts  *contact.Service
	Ingest    *ingest.Consumer
	Campaigns *campaign.Service
	Purges    *purge.Service
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
)

// ConfigFromEnv is the configuration of a function instance: the data
// folder from ALTO_DATA (default /tmp/alto) and the public base URL from
// ALTO_BASE_URL.
func ConfigFromEnv() Config {
	data := os.Getenv("ALTO_DATA")
	if data == "" {
		data = "/tmp/alto"
	}
	return Config{Data: data, BaseURL: os.Getenv("ALTO_BASE_URL")}
}

// IssuerPath is where the local issuer's signing key lives in a data folder.
func IssuerPath(data string) string { return filepath.Join(data, issuerFile) }

// Open opens (creating on first use) the stack in cfg.Data. Returns an
// error wrapping bolt.ErrInUse if another process serves the same folder.
func Open(cfg Config) (*Stack, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
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

	master, err := localkeys.LoadOrCreateMaster(filepath.Join(cfg.Data, masterFile))
	if err != nil {
		return nil, err
	}
	keysets, err := localkeys.OpenDir(filepath.Join(cfg.Data, keysetsDir))
	if err != nil {
		return nil, err
	}
	issuer, err := auth.LoadOrCreateIssuer(IssuerPath(cfg.Data), LocalIssuer, LocalAudience)
	if err != nil {
		return nil, err
	}
	issuer.Now = cfg.Now
	keys, err := auth.KeysFromJWKS(issuer.JWKS())
	if err != nil {
		return nil, err
	}
	verifier, err := auth.NewVerifier(auth.VerifierConfig{Issuer: LocalIssuer, Audience: LocalAudience, Keys: keys, Now: cfg.Now})
	if err != nil {
		return nil, err
	}
	blobKey, err := secretFile(filepath.Join(cfg.Data, blobKeyFile))
	if err != nil {
		return nil, err
	}
	blobs, err := fsblob.New(filepath.Join(cfg.Data, blobsDir), fsblob.Options{Now: cfg.Now, Secret: blobKey, BaseURL: cfg.BaseURL})
	if err != nil {
		return nil, err
	}
	db, err := bolt.Open(filepath.Join(cfg.Data, dbFile), bolt.Options{Now: cfg.Now})
	if err != nil {
		return nil, err
	}
	st := &Stack{Config: cfg, DB: db, Store: db.Store(), Blobs: blobs, Issuer: issuer, Logger: logger,
		Keys: seal.NewKeyring(master, keysets)}
	st.Audit = audit.New(st.Store, cfg.Now)
	if st.Queues, err = db.Queues(append(ingest.Queues(), campaign.Queues()...)...); err != nil {
		db.Close()
		return nil, err
	}
	st.Contacts = &contact.Service{Store: st.Store, Keys: st.Keys, Audit: st.Audit, Now: cfg.Now}
	st.Ingest = &ingest.Consumer{Keys: st.Keys, Contacts: st.Contacts, Dead: st.Queues, Logger: logger}
	st.Purges = &purge.Service{Keys: st.Keys, Store: st.Store, Data: st.Store, Blobs: blobs, Audit: st.Audit, Now: cfg.Now}
	st.Campaigns = &campaign.Service{Store: st.Store, Keys: st.Keys, Contacts: st.Contacts, Queue: st.Queues,
		Personalizer: campaign.Templates{}, Audit: st.Audit, BaseURL: cfg.BaseURL, Now: cfg.Now, Logger: logger}
	api := httpapi.Config{
		Verifier: verifier, Audit: st.Audit, Logins: st.Store, DigestKey: logKey,
		JWKS: issuer.JWKS(), OpenAPI: alto.OpenAPI, Logger: logger, Now: cfg.Now,
		PerTenant: httpapi.DefaultPerTenant, PerIP: httpapi.DefaultPerIP, Public: httpapi.DefaultPublic,
		Extra:    map[string]http.Handler{"/blob/": blobs.Handler()},
		Contacts: st.Contacts, Ingress: &ingest.Producer{Queue: st.Queues, Keys: st.Keys}, Idempotency: st.Store,
		Campaigns: st.Campaigns, OptOuts: st.Contacts, Purges: st.Purges,
	}
	for dst, src := range map[*httpapi.Rate]*httpapi.Rate{&api.PerTenant: cfg.PerTenant, &api.PerIP: cfg.PerIP, &api.Public: cfg.Public} {
		if src != nil {
			*dst = *src
		}
	}
	st.API = httpapi.New(api)
	return st, nil
}

// Close releases the data folder.
func (s *Stack) Close() error { return s.DB.Close() }

// Schedule is a job the runtime runs periodically.
type Schedule struct {
	Name  string
	Every time.Duration
	Run   func(context.Context) error
}

// Schedules returns the stack's periodic jobs with their real periods. The
// `sweep` runs hourly and removes expired items. The `sla` schedule (every
// 15 minutes) joins when the first deadline timer exists.
func (s *Stack) Schedules() []Schedule {
	return []Schedule{
		{Name: "sweep", Every: time.Hour, Run: s.sweep},
	}
}

// Pollers returns the queue consumers the runtime runs: on one machine they
// play the Lambda event source mappings.
func (s *Stack) Pollers() []*poller.Poller {
	return []*poller.Poller{
		{Queue: s.Queues, Name: ingest.Queue, Handler: s.Ingest.HandleSQS, Logger: s.Logger},
		{Queue: s.Queues, Name: campaign.Queue, Handler: s.Campaigns.HandleSQS, Logger: s.Logger},
	}
}

// maxPurgeSteps bounds the purge work of one sweep run (each step deletes
// up to 1,000 records and 1,000 files per purge); the next run goes on.
const maxPurgeSteps = 100

// sweep removes expired items in bounded batches until none are left or
// ctx ends.
func (s *Stack) sweep(ctx context.Context) error {
	total := 0
	for ctx.Err() == nil {
		n, err := s.Store.DeleteExpired(ctx, 1000)
		if err != nil {
			return fmt.Errorf("sweep: %w", err)
		}
		total += n
		if n < 1000 {
			break
		}
	}
	purged := 0
	for step := 0; step < maxPurgeSteps && ctx.Err() == nil; step++ {
		n, err := s.Purges.Step(ctx, 1000)
		if err != nil {
			return fmt.Errorf("sweep: %w", err)
		}
		purged += n
		if n == 0 {
			break
		}
	}
	msgs, err := s.Queues.DeleteExpired(ctx)
	if err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	s.Logger.InfoContext(ctx, "sweep done", "expired_items", total, "expired_messages", msgs, "purged", purged)
	return ctx.Err()
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
