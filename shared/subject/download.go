package subject

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/alto/alto/shared/tenant"
)

// Download links (DSR-04). A link points at Alto's own endpoint,
// DownloadPath + token, never at the blob store: whoever holds it is
// audited there and sent on (302) to a blob URL that lives BlobURLTTL, a
// signed fsblob URL on one machine and a presigned S3 GET on AWS. The
// token is the capability: it names the tenant, the request or export and
// its expiry, signed with the tenant's keys (the keyed PRF of its blind
// indexes), so only that tenant's keys mint one, nothing in it can be
// changed, and a crypto-shredded tenant's links die with its keys.
const (
	// DownloadPath is the path of the download endpoint, before the token.
	DownloadPath = "/v1/downloads/"
	// BlobURLTTL is the lifetime of the blob URL a download redirects to.
	BlobURLTTL = time.Minute
	// maxToken bounds the length of a token worth checking.
	maxToken = 512
	// kindDownload separates download-link signatures from every other use
	// of the tenant's keyed PRF.
	kindDownload = "download-link"
)

// Errors of Download.
var (
	// ErrBadLink is returned for a token that is malformed, tampered with
	// or not signed by the keys of the tenant it names. It wraps
	// ErrNotFound: such a link names nothing.
	ErrBadLink = fmt.Errorf("subject: invalid download link: %w", ErrNotFound)
	// ErrLinkExpired is returned for a genuine link past its expiry, or
	// whose archive is no longer kept.
	ErrLinkExpired = errors.New("subject: download link expired")
)

// link mints a download link for r's archive, or returns nil when there is
// none to give (not finished, or the archive is gone). A link lives
// LinkTTL, never past the archive. Failing to mint one is logged, not
// fatal: the request itself is still worth showing.
func (s *Service) link(ctx context.Context, r record) *Download {
	now := s.now()
	if r.Status != Done || r.Archive == "" || !now.Before(r.ArchiveExpiresAt) {
		return nil
	}
	// Links expire on a whole second, rounded down.
	expires := time.Unix(now.Add(min(s.linkTTL(), r.ArchiveExpiresAt.Sub(now))).Unix(), 0).UTC()
	tok, err := s.downloadToken(ctx, r.ID, expires)
	if err != nil {
		s.log().WarnContext(ctx, "no download link for an export", "request", r.ID, "err", err.Error())
		return nil
	}
	return &Download{URL: strings.TrimRight(s.BaseURL, "/") + DownloadPath + tok, ExpiresAt: expires}
}

// downloadToken signs "org|id|expiry" for the tenant of ctx.
func (s *Service) downloadToken(ctx context.Context, id string, expires time.Time) (string, error) {
	org, err := tenant.From(ctx)
	if err != nil {
		return "", err
	}
	payload := string(org) + "|" + id + "|" + strconv.FormatInt(expires.Unix(), 10)
	mac, err := s.Keys.BlindIndex(ctx, kindDownload, payload)
	if err != nil {
		return "", fmt.Errorf("subject: sign download link: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + mac, nil
}

// parseToken verifies tok and returns a context scoped to the tenant it
// names, and the request or export ID and expiry it carries. Returns
// ErrBadLink unless the tenant's keys signed it, and the keys' error
// (seal.ErrShredded for a purged tenant).
func (s *Service) parseToken(ctx context.Context, tok string) (context.Context, string, time.Time, error) {
	enc, mac, ok := strings.Cut(tok, ".")
	if !ok || len(tok) > maxToken {
		return ctx, "", time.Time{}, ErrBadLink
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(enc)
	if err != nil {
		return ctx, "", time.Time{}, ErrBadLink
	}
	parts := strings.Split(string(raw), "|")
	if len(parts) != 3 || tenant.Valid(parts[0]) != nil {
		return ctx, "", time.Time{}, ErrBadLink
	}
	exp, err := strconv.ParseInt(parts[2], 10, 64)
	pk, known := partitionOf(parts[1])
	if err != nil || !known {
		return ctx, "", time.Time{}, ErrBadLink
	}
	ctx = tenant.With(ctx, tenant.ID(parts[0]))
	// The request must exist before the tenant's keys are asked: the keys
	// of a tenant named by a forged token would otherwise be created.
	if _, _, err := s.load(ctx, pk, parts[1]); errors.Is(err, ErrNotFound) {
		return ctx, "", time.Time{}, ErrBadLink
	} else if err != nil {
		return ctx, "", time.Time{}, err
	}
	want, err := s.Keys.BlindIndex(ctx, kindDownload, string(raw))
	if err != nil {
		return ctx, "", time.Time{}, fmt.Errorf("subject: check download link: %w", err)
	}
	if !hmac.Equal([]byte(want), []byte(mac)) {
		return ctx, "", time.Time{}, ErrBadLink
	}
	return ctx, parts[1], time.Unix(exp, 0).UTC(), nil
}

// Download serves a download link (DSR-04): it verifies tok, writes the
// download to the tenant's audit log (the request or export, the archive,
// and client, a digest of who fetched it: never an address or a name) and
// returns a blob URL for the archive that lives BlobURLTTL, for the caller
// to redirect to. It needs no principal: the token is the capability and
// names its tenant.
//
// Returns ErrBadLink for a tampered, foreign or malformed token and
// ErrNotFound for a request that no longer exists (both wrap
// store.ErrNotFound), ErrLinkExpired for an expired link or an archive no
// longer kept, the keys' error for a purged tenant (seal.ErrShredded), and
// audit or blob errors; nothing is audited unless the URL is returned. It
// may be called concurrently.
func (s *Service) Download(ctx context.Context, tok, client string) (string, error) {
	ctx, id, expires, err := s.parseToken(ctx, tok)
	if err != nil {
		return "", err
	}
	now := s.now()
	if !now.Before(expires) {
		return "", ErrLinkExpired
	}
	pk, _ := partitionOf(id)
	r, _, err := s.load(ctx, pk, id)
	if err != nil {
		return "", err
	}
	if r.Status != Done || r.Archive == "" || !now.Before(r.ArchiveExpiresAt) {
		return "", ErrLinkExpired
	}
	ttl := min(BlobURLTTL, r.ArchiveExpiresAt.Sub(now))
	if ttl < time.Second {
		return "", ErrLinkExpired
	}
	typ := "subject"
	if pk == exportsPK {
		typ = "workspace"
	}
	detail := map[string]string{"export": typ, "file": path.Base(r.Archive), "linkExpires": expires.Format(time.RFC3339)}
	if client != "" {
		detail["client"] = client
	}
	url, err := s.Blobs.SignURL(ctx, "GET", r.Archive, ttl)
	if err != nil {
		return "", fmt.Errorf("subject: download %s: %w", id, err)
	}
	if err := s.audit(ctx, "export.downloaded", "download-link", id, detail); err != nil {
		return "", fmt.Errorf("subject: download %s: %w", id, err)
	}
	return url, nil
}
