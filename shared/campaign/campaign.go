// Package campaign turns campaigns into drafts: it enqueues one job per
// eligible contact on the personalization queue (PER-01, PER-02), renders
// each job exactly once into a draft through a pluggable Personalizer
// (PER-05), gives every e-mail draft a compliant footer with a signed
// one-click opt-out (PER-03) and keeps calls inside the contact's own
// calling hours (PER-04). Drafts live 30 days (RET-02).
package campaign

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/contact"
	"github.com/alto/alto/shared/queue"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/valid"
)

// The personalization queue and its dead-letter queue.
const (
	Queue           = "personalization"
	DeadLetterQueue = "personalization-dlq"
	MaxReceives     = 5
	// DraftTTL is how long a draft is kept (RET-02).
	DraftTTL = 30 * 24 * time.Hour
)

// Queues returns the configuration of the personalization queues. Jobs
// live as long as drafts would.
func Queues() []queue.Config {
	return []queue.Config{
		{Name: Queue, Retention: 4 * 24 * time.Hour, Visibility: time.Minute, MaxReceives: MaxReceives, DeadLetter: DeadLetterQueue},
		{Name: DeadLetterQueue, Retention: 14 * 24 * time.Hour, Visibility: time.Minute},
	}
}

// Channels.
const (
	Email = "email"
	Call  = "call"
)

// Sender is who a campaign speaks for. E-mail campaigns need a postal
// address (CAN-SPAM, CASL).
type Sender struct {
	Name          string `json:"name"`
	Email         string `json:"email,omitempty"`
	PostalAddress string `json:"postalAddress"`
}

// Campaign is an outreach campaign.
type Campaign struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Channel  string `json:"channel"`
	Template string `json:"template"`
	Sender   Sender `json:"sender"`
	// Reason says why recipients are contacted; it is printed in the
	// footer of every e-mail draft.
	Reason    string    `json:"reason"`
	CreatedBy string    `json:"createdBy"`
	CreatedAt time.Time `json:"createdAt"`
}

// Limits of a campaign.
const (
	maxTemplate = 16 << 10
	maxBody     = 64 << 10
)

// Validate normalizes c and reports its field errors.
func (c *Campaign) Validate() valid.Errors {
	var errs valid.Errors
	trim := func(s *string) { *s = strings.TrimSpace(*s) }
	trim(&c.Name)
	trim(&c.Reason)
	trim(&c.Sender.Name)
	trim(&c.Sender.PostalAddress)
	if c.Name == "" || utf8.RuneCountInString(c.Name) > 200 {
		errs.Add("name", "must be 1 to 200 characters")
	}
	if c.Channel != Email && c.Channel != Call {
		errs.Add("channel", "must be email or call")
	}
	if c.Template == "" || len(c.Template) > maxTemplate {
		errs.Add("template", "must be 1 byte to 16 KiB")
	} else if _, err := parseTemplate(c.Template); err != nil {
		errs.Add("template", "is not a valid template: "+templateReason(err))
	}
	if c.Sender.Name == "" {
		errs.Add("sender.name", "is required")
	}
	if c.Channel == Email {
		if len(c.Sender.PostalAddress) < 10 {
			errs.Add("sender.postalAddress", "an e-mail campaign needs the sender's postal address")
		}
		if c.Reason == "" {
			errs.Add("reason", "an e-mail campaign says why recipients are contacted")
		}
	}
	return errs
}

// Personalizer renders a campaign's message for one contact. A
// model-backed implementation can replace the default template one.
type Personalizer interface {
	// Render returns the body for c. It must be deterministic enough that
	// rendering twice is harmless (only the first draft is kept).
	Render(ctx context.Context, camp Campaign, c contact.Contact) (string, error)
}

// Templates is the default Personalizer: Go text/template over the
// contact's fields (.FirstName, .LastName, .Company, .Title, .Country,
// .Attributes), with missing keys rendering empty.
type Templates struct{}

// Render executes the campaign template for c.
func (Templates) Render(_ context.Context, camp Campaign, c contact.Contact) (string, error) {
	t, err := parseTemplate(camp.Template)
	if err != nil {
		return "", fmt.Errorf("campaign: template: %w", err)
	}
	var b limitedBuffer
	data := map[string]any{
		"FirstName": c.FirstName, "LastName": c.LastName, "Company": c.Company, "Title": c.Title,
		"Country": c.Country, "Attributes": c.Attributes,
	}
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("campaign: render: %s", templateReason(err))
	}
	return b.String(), nil
}

func parseTemplate(src string) (*template.Template, error) {
	return template.New("campaign").Option("missingkey=zero").Parse(src)
}

// templateReason is a template error without the template's text.
func templateReason(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}

// limitedBuffer refuses to grow past maxBody.
type limitedBuffer struct{ strings.Builder }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > maxBody {
		return 0, errors.New("the rendered message is larger than 64 KiB")
	}
	return b.Builder.Write(p)
}

// Contacts is what the campaign service needs of the contact service.
type Contacts interface {
	Get(ctx context.Context, scope auth.Scope, id string) (contact.Contact, error)
	List(ctx context.Context, scope auth.Scope, cursor string, limit int) ([]contact.Contact, string, error)
	Suppressed(ctx context.Context, c contact.Contact) (bool, error)
}

// Keys seals drafts and signs opt-out tokens with the tenant's keys.
type Keys interface {
	Seal(ctx context.Context, record, field string, plaintext []byte) ([]byte, error)
	Open(ctx context.Context, record, field string, ciphertext []byte) ([]byte, error)
	BlindIndex(ctx context.Context, kind, normalized string) (string, error)
}

// Store is the part of the storage port campaigns need.
type Store interface {
	Get(ctx context.Context, k store.Key) (store.Item, error)
	Put(ctx context.Context, it store.Item, cond store.Cond) (store.Item, error)
	Delete(ctx context.Context, k store.Key) error
	Query(ctx context.Context, q store.Query) (store.Page, error)
}

// Auditor appends audit entries.
type Auditor interface {
	Append(ctx context.Context, e audit.Entry) (audit.Entry, error)
}

// Service runs campaigns. It may be used concurrently; the tenant comes
// from the context.
type Service struct {
	Store        Store
	Keys         Keys
	Contacts     Contacts
	Queue        queue.Sender
	Personalizer Personalizer
	Audit        Auditor
	// BaseURL is where recipients reach the public opt-out endpoint.
	BaseURL string
	Now     func() time.Time
	Logger  *slog.Logger
}

const campaignsPK = "CAMPAIGN"

// ErrNotFound is returned for a campaign that does not exist.
var ErrNotFound = fmt.Errorf("campaign: %w", store.ErrNotFound)

// Create validates and stores a new campaign.
func (s *Service) Create(ctx context.Context, c Campaign, actor string) (Campaign, error) {
	if errs := c.Validate(); len(errs) > 0 {
		return Campaign{}, errs
	}
	c.ID = newID()
	c.CreatedBy = audit.Actor(actor)
	c.CreatedAt = s.now()
	data, _ := json.Marshal(c)
	if _, err := s.Store.Put(ctx, store.Item{PK: campaignsPK, SK: c.ID, Data: data}, store.IfAbsent); err != nil {
		return Campaign{}, fmt.Errorf("campaign: create: %w", err)
	}
	_, err := s.Audit.Append(ctx, audit.Entry{Type: "campaign.created", Actor: actor, Target: c.ID,
		Detail: map[string]string{"channel": c.Channel}})
	return c, err
}

// Get returns campaign id. Returns ErrNotFound if there is none.
func (s *Service) Get(ctx context.Context, id string) (Campaign, error) {
	it, err := s.Store.Get(ctx, store.Key{PK: campaignsPK, SK: id})
	if errors.Is(err, store.ErrNotFound) {
		return Campaign{}, ErrNotFound
	}
	if err != nil {
		return Campaign{}, fmt.Errorf("campaign: get: %w", err)
	}
	var c Campaign
	if err := json.Unmarshal(it.Data, &c); err != nil {
		return Campaign{}, fmt.Errorf("campaign: decode %s: %w", id, err)
	}
	return c, nil
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC()
	}
	return s.Now().UTC()
}

func newID() string {
	b := make([]byte, 15)
	rand.Read(b)
	return "cmp_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}
