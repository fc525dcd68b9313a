package campaign

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/alto/alto/shared/contact"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/tenant"
)

// ErrBadToken is returned for an opt-out token that is malformed, tampered
// with or not signed by its tenant's keys.
var ErrBadToken = errors.New("campaign: invalid opt-out token")

const kindOptOut = "optout"

// OptOuts is what opting out needs of the contact service.
type OptOuts interface {
	OptOut(ctx context.Context, id string) (bool, error)
}

// token signs "org.contact.campaign" with the tenant's keyed PRF: only the
// tenant's keys can mint one, and a crypto-shredded tenant's tokens die
// with its keys.
func (s *Service) token(ctx context.Context, contactID, campaignID string) (string, error) {
	org, err := tenant.From(ctx)
	if err != nil {
		return "", err
	}
	payload := string(org) + "." + contactID + "." + campaignID
	mac, err := s.Keys.BlindIndex(ctx, kindOptOut, payload)
	if err != nil {
		return "", fmt.Errorf("campaign: sign opt-out: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + mac, nil
}

// ParseToken verifies tok and returns a context scoped to its tenant and
// the contact and campaign it names. Returns ErrBadToken for anything not
// minted by that tenant's keys.
func (s *Service) ParseToken(ctx context.Context, tok string) (context.Context, string, string, error) {
	enc, mac, ok := strings.Cut(tok, ".")
	if !ok || len(tok) > 512 {
		return ctx, "", "", ErrBadToken
	}
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return ctx, "", "", ErrBadToken
	}
	parts := strings.Split(string(raw), ".")
	if len(parts) != 3 || tenant.Valid(parts[0]) != nil {
		return ctx, "", "", ErrBadToken
	}
	ctx = tenant.With(ctx, tenant.ID(parts[0]))
	// The campaign must exist before the tenant's keys are asked: the keys
	// of a tenant named by a forged token would otherwise be created.
	if _, err := s.Store.Get(ctx, store.Key{PK: campaignsPK, SK: parts[2]}); err != nil {
		return ctx, "", "", ErrBadToken
	}
	want, err := s.Keys.BlindIndex(ctx, kindOptOut, string(raw))
	if err != nil || !hmac.Equal([]byte(want), []byte(mac)) {
		return ctx, "", "", ErrBadToken
	}
	return ctx, parts[1], parts[2], nil
}

// OptOut opts the contact named by tok out of everything, at once and
// idempotently: queued jobs see it when they run (PER-02/03). It reports
// whether the contact exists.
func (s *Service) OptOut(ctx context.Context, optouts OptOuts, tok string) error {
	ctx, contactID, campaignID, err := s.ParseToken(ctx, tok)
	if err != nil {
		return err
	}
	changed, err := optouts.OptOut(ctx, contactID)
	if err != nil {
		return err
	}
	if changed {
		return s.record(ctx, "contact.opted_out", "recipient", contactID, map[string]string{"campaign": campaignID})
	}
	return nil
}

// addFooter gives an e-mail draft its CAN-SPAM/CASL footer and its RFC 8058
// one-click unsubscribe headers (PER-03).
func (s *Service) addFooter(ctx context.Context, camp Campaign, c contact.Contact, d *Draft) error {
	tok, err := s.token(ctx, c.ID, camp.ID)
	if err != nil {
		return err
	}
	link := strings.TrimRight(s.BaseURL, "/") + "/v1/optout/" + url.PathEscape(tok)
	d.Footer = fmt.Sprintf("--\n%s\n%s\nYou receive this because %s.\nTo stop all messages from us, open %s",
		camp.Sender.Name, camp.Sender.PostalAddress, strings.TrimSuffix(camp.Reason, "."), link)
	d.ListUnsubscribe = "<" + link + ">"
	d.ListUnsubscribePost = "List-Unsubscribe=One-Click"
	return nil
}
