package directory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/seal"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/tenant"
)

// Config configures a Directory. Store, Keys and Audit are required.
type Config struct {
	Store Store
	Keys  Keys
	Audit Auditor
	Now   func() time.Time
	// CacheTTL bounds how long Resolve trusts what it read: a change made
	// through another process (another Lambda instance) is seen within it.
	// Changes made through this Directory are seen at once. Zero means
	// DefaultCacheTTL; a negative value disables the cache.
	CacheTTL time.Duration
}

// DefaultCacheTTL is how long Resolve keeps a lookup when Config.CacheTTL
// is zero.
const DefaultCacheTTL = 10 * time.Second

// Directory is the user directory of every tenant; the tenant comes from
// the context. It may be used concurrently, also by several processes over
// one store.
type Directory struct {
	store Store
	keys  Keys
	audit Auditor
	now   func() time.Time
	ttl   time.Duration
	cache cache
}

// New returns the directory cfg describes.
func New(cfg Config) *Directory {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = DefaultCacheTTL
	}
	return &Directory{store: cfg.Store, keys: cfg.Keys, audit: cfg.Audit, now: cfg.Now, ttl: cfg.CacheTTL}
}

// maxAttempts bounds the optimistic retries of a write.
const maxAttempts = 5

// Create adds u to the directory of the tenant in ctx and returns it with
// its ID, times and version. The first user created gives the tenant its
// directory. Returns valid.Errors for an invalid user and ErrConflict if
// its userName or externalId is taken.
func (d *Directory) Create(ctx context.Context, u User) (User, error) {
	if errs := Validate(u); len(errs) > 0 {
		return User{}, errs
	}
	now := d.now().UTC()
	u.ID, u.Created, u.Modified = newID(), now, now
	if _, err := d.store.Put(ctx, store.Item{PK: markerPK, SK: markerSK}, store.IfAbsent); err != nil && !errors.Is(err, store.ErrConditionFailed) {
		return User{}, fmt.Errorf("directory: create user: %w", err)
	}
	nameIx, extIx, err := d.claimHandles(ctx, u, record{})
	if err != nil {
		return User{}, err
	}
	data, err := d.encode(ctx, u, nameIx, extIx)
	if err != nil {
		return User{}, err
	}
	it, err := d.store.Put(ctx, store.Item{PK: usersPK, SK: u.ID, Data: data}, store.IfAbsent)
	if err != nil {
		return User{}, fmt.Errorf("directory: create user: %w", err)
	}
	d.cache.invalidate(ctx)
	u.Version = it.Version
	return u, d.record(ctx, "directory.user_created", u, "")
}

// Get returns the user with the ID. Returns ErrNotFound if the tenant has
// none.
func (d *Directory) Get(ctx context.Context, id string) (User, error) {
	it, err := d.store.Get(ctx, userKey(id))
	if isNotFound(err) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("directory: get user: %w", err)
	}
	u, _, err := d.open(ctx, it)
	return u, err
}

// Update applies change to the user with the ID and stores the result.
// change receives the current user and returns the next one; it may be
// called more than once if the user changes concurrently, and an error it
// returns aborts the update and is returned as is. ID, Created, Modified
// and Version of the result are kept by Update. Returns ErrNotFound,
// valid.Errors for an invalid result, ErrConflict for a userName or
// externalId another user has, and ErrBusy if concurrent writers kept
// winning.
func (d *Directory) Update(ctx context.Context, id string, change func(User) (User, error)) (User, error) {
	for range maxAttempts {
		it, err := d.store.Get(ctx, userKey(id))
		if isNotFound(err) {
			return User{}, ErrNotFound
		}
		if err != nil {
			return User{}, fmt.Errorf("directory: update user: %w", err)
		}
		cur, rec, err := d.open(ctx, it)
		if err != nil {
			return User{}, err
		}
		next, err := change(cur)
		if err != nil {
			return User{}, err
		}
		next.ID, next.Created, next.Version = cur.ID, cur.Created, cur.Version
		next.Modified = cur.Modified
		diff := changed(cur, next)
		if diff == "" {
			return cur, nil
		}
		if errs := Validate(next); len(errs) > 0 {
			return User{}, errs
		}
		next.Modified = d.now().UTC()
		nameIx, extIx, err := d.claimHandles(ctx, next, rec)
		if err != nil {
			return User{}, err
		}
		data, err := d.encode(ctx, next, nameIx, extIx)
		if err != nil {
			return User{}, err
		}
		stored, err := d.store.Put(ctx, store.Item{PK: usersPK, SK: id, Data: data, Version: it.Version}, store.IfVersion)
		if errors.Is(err, store.ErrConditionFailed) {
			continue // changed meanwhile: handles left claimed are stale and reclaimable
		}
		if err != nil {
			return User{}, fmt.Errorf("directory: update user: %w", err)
		}
		d.cache.invalidate(ctx)
		d.releaseHandles(ctx, rec, nameIx, extIx)
		next.Version = stored.Version
		return next, d.record(ctx, "directory.user_updated", next, diff)
	}
	return User{}, ErrBusy
}

// Delete removes the user with the ID, after check (if not nil) accepted
// the current user; an error from check is returned as is. Returns
// ErrNotFound if the tenant has no such user.
func (d *Directory) Delete(ctx context.Context, id string, check func(User) error) error {
	it, err := d.store.Get(ctx, userKey(id))
	if isNotFound(err) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("directory: delete user: %w", err)
	}
	u, rec, err := d.open(ctx, it)
	if err != nil {
		return err
	}
	if check != nil {
		if err := check(u); err != nil {
			return err
		}
	}
	if err := d.store.Delete(ctx, userKey(id)); err != nil {
		return fmt.Errorf("directory: delete user: %w", err)
	}
	d.cache.invalidate(ctx)
	d.releaseHandles(ctx, rec, "", "")
	return d.record(ctx, "directory.user_deleted", u, "")
}

// FindByUserName returns the user whose userName equals name regardless of
// case. Returns ErrNotFound if there is none.
func (d *Directory) FindByUserName(ctx context.Context, name string) (User, error) {
	return d.findBy(ctx, namePK, kindName, normalizeUserName(name))
}

// FindByExternalID returns the user whose externalId equals id exactly.
// Returns ErrNotFound if there is none.
func (d *Directory) FindByExternalID(ctx context.Context, id string) (User, error) {
	return d.findBy(ctx, extPK, kindExt, id)
}

func (d *Directory) findBy(ctx context.Context, pk, kind, value string) (User, error) {
	it, _, err := d.lookup(ctx, pk, kind, value)
	if err != nil {
		return User{}, err
	}
	u, _, err := d.open(ctx, it)
	return u, err
}

// lookup returns the stored user a handle names and its record. A stale
// handle (its user gone, or no longer holding the value) is ErrNotFound.
func (d *Directory) lookup(ctx context.Context, pk, kind, value string) (store.Item, record, error) {
	if value == "" {
		return store.Item{}, record{}, ErrNotFound
	}
	ix, err := d.keys.BlindIndex(ctx, kind, value)
	if err != nil {
		return store.Item{}, record{}, fmt.Errorf("directory: find user: %w", err)
	}
	h, err := d.store.Get(ctx, store.Key{PK: pk, SK: ix})
	if isNotFound(err) {
		return store.Item{}, record{}, ErrNotFound
	}
	if err != nil {
		return store.Item{}, record{}, fmt.Errorf("directory: find user: %w", err)
	}
	ref, err := decodeHandle(h)
	if err != nil {
		return store.Item{}, record{}, err
	}
	it, err := d.store.Get(ctx, userKey(ref.ID))
	if isNotFound(err) {
		return store.Item{}, record{}, ErrNotFound
	}
	if err != nil {
		return store.Item{}, record{}, fmt.Errorf("directory: find user: %w", err)
	}
	rec, err := decodeRecord(it)
	if err != nil {
		return store.Item{}, record{}, err
	}
	if owns := (pk == namePK && rec.NameIx == ix) || (pk == extPK && rec.ExtIx == ix); !owns {
		return store.Item{}, record{}, ErrNotFound
	}
	return it, rec, nil
}

// MaxUsers bounds how many users List and OwnersAndAdmins read in one call.
const MaxUsers = 100_000

// List returns up to count users of the tenant in ID order, skipping the
// first offset, and the tenant's number of users.
func (d *Directory) List(ctx context.Context, offset, count int) ([]User, int, error) {
	items, err := d.all(ctx)
	if err != nil {
		return nil, 0, err
	}
	total := len(items)
	offset = min(max(offset, 0), total)
	items = items[offset:min(offset+max(count, 0), total)]
	out := make([]User, 0, len(items))
	for _, it := range items {
		u, _, err := d.open(ctx, it)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, u)
	}
	return out, total, nil
}

// all reads every stored user of the tenant, in ID order.
func (d *Directory) all(ctx context.Context) ([]store.Item, error) {
	var items []store.Item
	cursor := ""
	for {
		page, err := d.store.Query(ctx, store.Query{PK: usersPK, Cursor: cursor, Limit: store.MaxLimit})
		if err != nil {
			return nil, fmt.Errorf("directory: list users: %w", err)
		}
		items = append(items, page.Items...)
		if len(items) > MaxUsers {
			return nil, fmt.Errorf("directory: list users: more than %d users", MaxUsers)
		}
		if page.Next == "" {
			return items, nil
		}
		cursor = page.Next
	}
}

// OwnersAndAdmins returns the e-mail addresses of the tenant's active
// owners and admins, each once: a user's primary address, else the first,
// else the userName if it is an address. It returns none for a tenant
// without a directory, and none for a purged (shredded) tenant, whose
// directory can no longer be read.
func (d *Directory) OwnersAndAdmins(ctx context.Context) ([]string, error) {
	out, err := d.ownersAndAdmins(ctx)
	if errors.Is(err, seal.ErrShredded) {
		return nil, nil
	}
	return out, err
}

func (d *Directory) ownersAndAdmins(ctx context.Context) ([]string, error) {
	items, err := d.all(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	seen := map[string]bool{}
	for _, it := range items {
		rec, err := decodeRecord(it)
		if err != nil {
			return nil, err
		}
		if !rec.Active || (rec.Role != auth.Owner && rec.Role != auth.Admin) {
			continue
		}
		u, _, err := d.open(ctx, it)
		if err != nil {
			return nil, err
		}
		if addr := u.address(); addr != "" && !seen[addr] {
			seen[addr] = true
			out = append(out, addr)
		}
	}
	return out, nil
}

// address is where the user gets mail, or "" if the directory knows none.
func (u User) address() string {
	for _, e := range u.Emails {
		if e.Primary {
			return e.Value
		}
	}
	if len(u.Emails) > 0 {
		return u.Emails[0].Value
	}
	if a, err := parseAddress(u.UserName); err == nil {
		return a
	}
	return ""
}

// claimHandles makes the userName and externalId handles of u point to u,
// taking over stale ones, and returns their blind indexes. cur is the
// user's stored record before the change (zero on create). Returns
// ErrConflict if another user holds either value.
func (d *Directory) claimHandles(ctx context.Context, u User, cur record) (nameIx, extIx string, err error) {
	nameIx, err = d.keys.BlindIndex(ctx, kindName, normalizeUserName(u.UserName))
	if err != nil {
		return "", "", fmt.Errorf("directory: index userName: %w", err)
	}
	if nameIx != cur.NameIx {
		if err := d.claim(ctx, namePK, nameIx, u.ID); err != nil {
			return "", "", err
		}
	}
	if u.ExternalID != "" {
		extIx, err = d.keys.BlindIndex(ctx, kindExt, u.ExternalID)
		if err != nil {
			return "", "", fmt.Errorf("directory: index externalId: %w", err)
		}
		if extIx != cur.ExtIx {
			if err := d.claim(ctx, extPK, extIx, u.ID); err != nil {
				return "", "", err
			}
		}
	}
	return nameIx, extIx, nil
}

// staleAfter is how old a handle must be before a writer may take it over
// from a user that does not name it: a younger one may belong to a write
// still under way.
const staleAfter = time.Minute

// handle is what a userName or externalId handle holds.
type handle struct {
	ID string    `json:"id"`
	At time.Time `json:"at"`
}

// claim points the handle pk/ix to id. A handle held by a user that does
// not name it (left by an interrupted write) is taken over once it is
// older than staleAfter; before that it is ErrConflict.
func (d *Directory) claim(ctx context.Context, pk, ix, id string) error {
	now := d.now().UTC()
	data, _ := json.Marshal(handle{ID: id, At: now})
	_, err := d.store.Put(ctx, store.Item{PK: pk, SK: ix, Data: data}, store.IfAbsent)
	if !errors.Is(err, store.ErrConditionFailed) {
		if err != nil {
			return fmt.Errorf("directory: claim handle: %w", err)
		}
		return nil
	}
	it, err := d.store.Get(ctx, store.Key{PK: pk, SK: ix})
	if err != nil {
		return fmt.Errorf("directory: claim handle: %w", err)
	}
	h, err := decodeHandle(it)
	if err != nil {
		return err
	}
	if h.ID == id {
		return nil
	}
	if now.Sub(h.At) < staleAfter {
		return ErrConflict
	}
	holder, err := d.store.Get(ctx, userKey(h.ID))
	switch {
	case isNotFound(err):
	case err != nil:
		return fmt.Errorf("directory: claim handle: %w", err)
	default:
		rec, err := decodeRecord(holder)
		if err != nil {
			return err
		}
		if rec.NameIx == ix || rec.ExtIx == ix {
			return ErrConflict
		}
	}
	_, err = d.store.Put(ctx, store.Item{PK: pk, SK: ix, Data: data, Version: it.Version}, store.IfVersion)
	if errors.Is(err, store.ErrConditionFailed) {
		return ErrConflict // another writer took it over first
	}
	if err != nil {
		return fmt.Errorf("directory: claim handle: %w", err)
	}
	return nil
}

func decodeHandle(it store.Item) (handle, error) {
	var h handle
	if err := json.Unmarshal(it.Data, &h); err != nil || h.ID == "" {
		return handle{}, fmt.Errorf("directory: handle %s unreadable", it.PK)
	}
	return h, nil
}

// releaseHandles deletes the handles of old that the user no longer holds
// (nameIx and extIx are the ones it holds now). A failure leaves a stale
// handle, which lookups ignore and writers take over, so it is not an
// error.
func (d *Directory) releaseHandles(ctx context.Context, old record, nameIx, extIx string) {
	if old.NameIx != "" && old.NameIx != nameIx {
		d.store.Delete(ctx, store.Key{PK: namePK, SK: old.NameIx})
	}
	if old.ExtIx != "" && old.ExtIx != extIx {
		d.store.Delete(ctx, store.Key{PK: extPK, SK: old.ExtIx})
	}
}

// record audits a change of u: identifiers, its state and the names of
// the fields that changed, never their values.
func (d *Directory) record(ctx context.Context, typ string, u User, diff string) error {
	detail := map[string]string{"active": strconv.FormatBool(u.Active)}
	if u.Role != "" {
		detail["role"] = string(u.Role)
	}
	if diff != "" {
		detail["changed"] = diff
	}
	if _, err := d.audit.Append(ctx, audit.Entry{Type: typ, Actor: "scim", Target: "user:" + u.ID, Detail: detail}); err != nil {
		return fmt.Errorf("directory: audit %s: %w", typ, err)
	}
	return nil
}

// Exists reports whether the tenant in ctx has a directory.
func (d *Directory) Exists(ctx context.Context) (bool, error) {
	_, err := d.store.Get(ctx, store.Key{PK: markerPK, SK: markerSK})
	if isNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("directory: exists: %w", err)
	}
	return true, nil
}

// orgOf is the tenant of ctx, for the cache.
func orgOf(ctx context.Context) (tenant.ID, error) {
	org, err := tenant.From(ctx)
	if err != nil {
		return "", fmt.Errorf("directory: %w", err)
	}
	return org, nil
}
