package incident

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/valid"
)

// MaxNoticeEmails is the most addresses a tenant's notification settings
// hold.
const MaxNoticeEmails = 20

// SecretPrefix starts every webhook secret.
const SecretPrefix = "whsec_"

const (
	pkSettings = "SETTINGS"
	skNotices  = "notifications"
)

// Settings are a tenant's notification settings as its owners and admins
// read them: the webhook secret is never shown again after it was made.
type Settings struct {
	Emails           []string  `json:"emails"`
	WebhookURL       string    `json:"webhookUrl,omitempty"`
	WebhookSecretSet bool      `json:"webhookSecretSet"`
	UpdatedAt        time.Time `json:"updatedAt,omitzero"`
}

// SettingsInput is what setting the notification settings takes.
type SettingsInput struct {
	Emails     []string
	WebhookURL string // "" removes the webhook
	// RotateSecret makes a new webhook secret even if one exists.
	RotateSecret bool
}

// storedSettings is sealed whole with the tenant's keys.
type storedSettings struct {
	Emails     []string  `json:"emails"`
	WebhookURL string    `json:"webhookUrl,omitempty"`
	Secret     string    `json:"secret,omitempty"`
	UpdatedAt  time.Time `json:"updatedAt"`
}

// NotificationSettings returns the settings of the tenant in ctx; a tenant
// that never set them has none (no error).
func (s *Service) NotificationSettings(ctx context.Context) (Settings, error) {
	st, err := s.loadSettings(ctx)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return Settings{}, err
	}
	return st.public(), nil
}

func (st storedSettings) public() Settings {
	emails := st.Emails
	if emails == nil {
		emails = []string{}
	}
	return Settings{Emails: emails, WebhookURL: st.WebhookURL, WebhookSecretSet: st.Secret != "", UpdatedAt: st.UpdatedAt}
}

// SetNotificationSettings replaces the settings of the tenant in ctx on
// behalf of actor and audits the change. A webhook secret is made when a
// webhook is set and none exists, or when in.RotateSecret; it is returned
// (and only then) as the second result, to be shown once. Removing the
// webhook drops its secret. Returns valid.Errors for more than 20
// addresses, an address that is not a plain e-mail address, or a webhook
// URL the sender refuses (not https, or not a public host).
func (s *Service) SetNotificationSettings(ctx context.Context, actor string, in SettingsInput) (Settings, string, error) {
	var errs valid.Errors
	if len(in.Emails) > MaxNoticeEmails {
		errs.Add("emails", fmt.Sprintf("must hold at most %d addresses", MaxNoticeEmails))
	}
	for i, e := range in.Emails {
		if !plainAddress(strings.TrimSpace(e)) {
			errs.Add(fmt.Sprintf("emails[%d]", i), "must be a plain e-mail address (name@domain)")
		}
	}
	if in.WebhookURL != "" {
		if err := s.cfg.Webhooks.Check(in.WebhookURL); err != nil {
			errs.Add("webhookUrl", "must be an https URL of a public host, without credentials or fragment")
		}
	}
	if in.RotateSecret && in.WebhookURL == "" {
		errs.Add("rotateSecret", "needs a webhookUrl")
	}
	if err := errs.Err(); err != nil {
		return Settings{}, "", err
	}
	old, err := s.loadSettings(ctx)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return Settings{}, "", err
	}
	next := storedSettings{Emails: normalizeEmails(in.Emails), WebhookURL: in.WebhookURL, UpdatedAt: s.cfg.Now().UTC()}
	shown := ""
	if in.WebhookURL != "" {
		next.Secret = old.Secret
		if next.Secret == "" || in.RotateSecret {
			b := make([]byte, 32)
			rand.Read(b)
			next.Secret = SecretPrefix + base64.RawURLEncoding.EncodeToString(b)
			shown = next.Secret
		}
	}
	plain, _ := json.Marshal(next)
	sealed, err := s.cfg.Keys.Seal(ctx, "settings/"+skNotices, fieldDoc, plain)
	if err != nil {
		return Settings{}, "", fmt.Errorf("incident: seal notification settings: %w", err)
	}
	if _, err := s.cfg.Store.Put(ctx, store.Item{PK: pkSettings, SK: skNotices, Data: sealed}, store.Always); err != nil {
		return Settings{}, "", fmt.Errorf("incident: put notification settings: %w", err)
	}
	webhook := "none"
	if next.WebhookURL != "" {
		webhook = "set"
	}
	_, err = s.cfg.Audit.Append(ctx, audit.Entry{Type: "settings.notifications", Actor: actor, Target: "settings:" + skNotices,
		Detail: map[string]string{"emails": strconv.Itoa(len(next.Emails)), "webhook": webhook,
			"secretIssued": strconv.FormatBool(shown != "")}})
	if err != nil {
		return Settings{}, "", fmt.Errorf("incident: audit notification settings: %w", err)
	}
	return next.public(), shown, nil
}

// loadSettings returns the stored settings of the tenant in ctx. Returns
// store.ErrNotFound, wrapped, if there are none.
func (s *Service) loadSettings(ctx context.Context) (storedSettings, error) {
	it, err := s.cfg.Store.Get(ctx, store.Key{PK: pkSettings, SK: skNotices})
	if err != nil {
		return storedSettings{}, fmt.Errorf("incident: get notification settings: %w", err)
	}
	plain, err := s.cfg.Keys.Open(ctx, "settings/"+skNotices, fieldDoc, it.Data)
	if err != nil {
		return storedSettings{}, fmt.Errorf("incident: open notification settings: %w", err)
	}
	var st storedSettings
	if err := json.Unmarshal(plain, &st); err != nil {
		return storedSettings{}, fmt.Errorf("incident: decode notification settings: %w", err)
	}
	return st, nil
}

// plainAddress reports whether s is a bare addr-spec: no display name, no
// line break, at most 254 bytes.
func plainAddress(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s && len(s) <= 254 && !strings.ContainsAny(s, "\r\n<>,;")
}

// normalizeEmails trims every address, lower-cases its domain and drops
// repeats, keeping the first order.
func normalizeEmails(in []string) []string {
	out := make([]string, 0, len(in))
	for _, e := range in {
		e = strings.TrimSpace(e)
		if at := strings.LastIndexByte(e, '@'); at > 0 {
			e = e[:at] + strings.ToLower(e[at:])
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out
}
