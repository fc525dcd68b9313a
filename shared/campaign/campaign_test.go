package campaign_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/campaign"
	"github.com/alto/alto/shared/contact"
	"github.com/alto/alto/shared/queue"
	"github.com/alto/alto/shared/stacktest"
)

// seed stores contacts directly (ingest is tested elsewhere) and returns
// their IDs in order.
func seed(t *testing.T, w *stacktest.World, org string, cs []contact.Contact) []string {
	t.Helper()
	ctx := stacktest.Ctx(org)
	ids := make([]string, len(cs))
	for i, c := range cs {
		n, errs := contact.Normalize(c, "")
		if len(errs) > 0 {
			t.Fatalf("seed %d: %v", i, errs)
		}
		id, _, err := w.Stack.Contacts.Upsert(ctx, n, "seed", nil)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	return ids
}

func createCampaign(t *testing.T, w *stacktest.World, tok, channel string) campaign.Campaign {
	t.Helper()
	body := fmt.Sprintf(`{"name":"Spring","channel":%q,"template":"Hello {{.FirstName}} at {{.Company}}!",
		"sender":{"name":"Acme Sales","postalAddress":"1 Market St, San Francisco, CA 94105, USA"},
		"reason":"you asked about Acme pricing"}`, channel)
	rec := w.Do(t, "POST", "/v1/campaigns", tok, body)
	if rec.Code != 201 {
		t.Fatalf("create campaign = %d %s", rec.Code, rec.Body)
	}
	return stacktest.Decode[campaign.Campaign](t, rec)
}

type drafts struct {
	Items []campaign.Draft `json:"items"`
}

// TestPER02_EnqueueCountsTheIneligibleExactly is the first
// must-show: 1,000 contacts of which 100 opted out, 50 lack consent and 10
// are erased (suppressed) give exactly 840 drafts.
func TestPER02_EnqueueCountsTheIneligibleExactly(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 contacts")
	}
	w := stacktest.New(t)
	ctx := stacktest.Ctx("acme")
	var cs []contact.Contact
	for i := 0; i < 1000; i++ {
		c := contact.Contact{Email: fmt.Sprintf("p%04d@example.com", i), FirstName: "P", Company: "Co",
			Consent: contact.Consent{Email: contact.Granted}}
		if i >= 100 && i < 150 {
			c.Consent.Email = contact.Unknown
		}
		cs = append(cs, c)
	}
	ids := seed(t, w, "acme", cs)
	for _, id := range ids[:100] {
		if _, err := w.Stack.Contacts.OptOut(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range cs[150:160] {
		n, _ := contact.Normalize(c, "")
		if err := w.Stack.Contacts.Suppress(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	owner := w.Token(t, "acme", auth.Principal{Role: auth.Owner})
	camp := createCampaign(t, w, owner, "email")
	rec := w.Do(t, "POST", "/v1/campaigns/"+camp.ID+"/enqueue", owner, `{"all":true}`)
	if rec.Code != 202 {
		t.Fatalf("enqueue = %d %s", rec.Code, rec.Body)
	}
	got := stacktest.Decode[campaign.EnqueueResult](t, rec)
	want := campaign.EnqueueResult{Queued: 840, Skipped: campaign.Skipped{NoConsent: 50, OptedOut: 100, Suppressed: 10}}
	if got != want {
		t.Fatalf("enqueue = %+v, want %+v", got, want)
	}
	w.Drain(t, campaign.Queue)
	rec = w.Do(t, "GET", "/v1/campaigns/"+camp.ID+"/drafts?limit=1000", owner, "")
	ds := stacktest.Decode[drafts](t, rec).Items
	if len(ds) != 840 {
		t.Fatalf("drafts = %d, want 840", len(ds))
	}
	eligible := map[string]bool{}
	for _, id := range ids[160:] {
		eligible[id] = true
	}
	for _, d := range ds {
		if !eligible[d.Contact] {
			t.Fatalf("draft for ineligible contact %s", d.Contact)
		}
	}
}

func TestPER02_RestrictedAndObjectedGetNothing(t *testing.T) {
	w := stacktest.New(t)
	ctx := stacktest.Ctx("acme")
	ids := seed(t, w, "acme", []contact.Contact{
		{Email: "a@example.com", Consent: contact.Consent{Email: contact.Granted}},
		{Email: "b@example.com", Consent: contact.Consent{Email: contact.Granted}},
		{Email: "c@example.com", Consent: contact.Consent{Email: contact.Denied}},
	})
	w.Stack.Contacts.SetFlag(ctx, ids[0], contact.RestrictedFlag)
	w.Stack.Contacts.SetFlag(ctx, ids[1], contact.ObjectedFlag)
	owner := w.Token(t, "acme", auth.Principal{Role: auth.Owner})
	camp := createCampaign(t, w, owner, "email")
	body := `{"contactIds":["` + strings.Join(ids, `","`) + `","c_000000_AAAAAAAAAAAAAAAAAAAAAA"]}`
	got := stacktest.Decode[campaign.EnqueueResult](t, w.Do(t, "POST", "/v1/campaigns/"+camp.ID+"/enqueue", owner, body))
	want := campaign.EnqueueResult{Skipped: campaign.Skipped{Restricted: 2, NoConsent: 1, NotFound: 1}}
	if got != want {
		t.Errorf("enqueue = %+v, want %+v", got, want)
	}
}

// TestPER05_EveryJobDeliveredTwiceLeavesOneDraft is the second must-show.
func TestPER05_EveryJobDeliveredTwiceLeavesOneDraft(t *testing.T) {
	w := stacktest.New(t)
	ctx := stacktest.Ctx("acme")
	var cs []contact.Contact
	for i := 0; i < 25; i++ {
		cs = append(cs, contact.Contact{Email: fmt.Sprintf("d%02d@example.com", i), Consent: contact.Consent{Email: contact.Granted}})
	}
	seed(t, w, "acme", cs)
	owner := w.Token(t, "acme", auth.Principal{Role: auth.Owner})
	camp := createCampaign(t, w, owner, "email")
	w.Do(t, "POST", "/v1/campaigns/"+camp.ID+"/enqueue", owner, `{"all":true}`)
	// Receive every job without deleting, and hand each batch to the
	// handler twice, as a redelivering queue would.
	for {
		ds, err := w.Stack.Queues.Receive(ctx, campaign.Queue, 10, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) == 0 {
			break
		}
		ev := events.SQSEvent{}
		for _, d := range ds {
			ev.Records = append(ev.Records, events.SQSMessage{MessageId: d.ID, Body: string(d.Body)})
		}
		for i := 0; i < 2; i++ {
			if res, err := w.Stack.Campaigns.HandleSQS(context.Background(), ev); err != nil || len(res.BatchItemFailures) > 0 {
				t.Fatalf("handle: %+v %v", res, err)
			}
		}
	}
	// And enqueue the whole campaign again: still one draft each.
	w.Do(t, "POST", "/v1/campaigns/"+camp.ID+"/enqueue", owner, `{"all":true}`)
	w.Drain(t, campaign.Queue)
	ds := stacktest.Decode[drafts](t, w.Do(t, "GET", "/v1/campaigns/"+camp.ID+"/drafts?limit=100", owner, "")).Items
	seen := map[string]int{}
	for _, d := range ds {
		seen[d.Contact]++
	}
	if len(ds) != 25 || len(seen) != 25 {
		t.Errorf("drafts = %d for %d contacts, want 25 for 25", len(ds), len(seen))
	}
}

// TestPER03_FooterAndOneClickOptOut is the third must-show: the draft's
// one-click POST stops that contact's pending jobs.
func TestPER03_FooterAndOneClickOptOut(t *testing.T) {
	w := stacktest.New(t)
	ids := seed(t, w, "acme", []contact.Contact{
		{Email: "ada@example.com", FirstName: "Ada", Company: "Analytical", Consent: contact.Consent{Email: contact.Granted}},
	})
	owner := w.Token(t, "acme", auth.Principal{Role: auth.Owner})
	first := createCampaign(t, w, owner, "email")
	w.Do(t, "POST", "/v1/campaigns/"+first.ID+"/enqueue", owner, `{"all":true}`)
	w.Drain(t, campaign.Queue)
	ds := stacktest.Decode[drafts](t, w.Do(t, "GET", "/v1/campaigns/"+first.ID+"/drafts", owner, "")).Items
	if len(ds) != 1 {
		t.Fatalf("drafts = %d", len(ds))
	}
	d := ds[0]
	if d.Body != "Hello Ada at Analytical!" {
		t.Errorf("body = %q", d.Body)
	}
	for _, want := range []string{"1 Market St, San Francisco", "because you asked about Acme pricing", "https://alto.example/v1/optout/"} {
		if !strings.Contains(d.Footer, want) {
			t.Errorf("footer lacks %q:\n%s", want, d.Footer)
		}
	}
	if d.ListUnsubscribePost != "List-Unsubscribe=One-Click" || !strings.HasPrefix(d.ListUnsubscribe, "<https://alto.example/v1/optout/") {
		t.Errorf("headers = %q / %q", d.ListUnsubscribe, d.ListUnsubscribePost)
	}
	link, _ := url.Parse(strings.Trim(d.ListUnsubscribe, "<>"))

	// A second campaign is queued but not yet run when the recipient opts out.
	second := createCampaign(t, w, owner, "email")
	w.Do(t, "POST", "/v1/campaigns/"+second.ID+"/enqueue", owner, `{"all":true}`)

	// Tampered and foreign tokens change nothing.
	tok := strings.TrimPrefix(link.Path, "/v1/optout/")
	payload, mac, _ := strings.Cut(tok, ".")
	flipped := []byte(mac)
	flipped[3] ^= 1
	for _, bad := range []string{payload + "." + string(flipped), "Z2xvYmV4LmNfMDAwMDAwX0EuY21w." + mac, "garbage"} {
		if rec := w.Do(t, "POST", "/v1/optout/"+bad, "", "List-Unsubscribe=One-Click", "Content-Type", "application/x-www-form-urlencoded"); rec.Code != 404 {
			t.Errorf("bad token = %d, want 404", rec.Code)
		}
	}
	if c, _ := w.Stack.Contacts.Get(stacktest.Ctx("acme"), auth.Scope{All: true}, ids[0]); c.OptedOut {
		t.Fatal("a bad token opted the contact out")
	}
	// The token naming globex, which never used Alto, made it no keys.
	if _, err := os.Stat(filepath.Join(w.Data, "keysets", "globex.keyset")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a forged token made keys for the tenant it names: %v", err)
	}
	page := w.Do(t, "GET", link.Path, "", "")
	if page.Code != 200 || !strings.Contains(page.Body.String(), `method="post"`) {
		t.Errorf("opt-out page = %d %s", page.Code, page.Body)
	}
	for i := 0; i < 2; i++ { // one click, and a repeat that changes nothing
		rec := w.Do(t, "POST", link.Path, "", "List-Unsubscribe=One-Click", "Content-Type", "application/x-www-form-urlencoded")
		if rec.Code != 200 {
			t.Fatalf("one-click opt-out = %d %s", rec.Code, rec.Body)
		}
	}
	if got := w.Audited(t, "acme", "contact.opted_out"); len(got) != 1 {
		t.Errorf("opt-out audited %d times, want once", len(got))
	}
	w.Drain(t, campaign.Queue)
	if ds := stacktest.Decode[drafts](t, w.Do(t, "GET", "/v1/campaigns/"+second.ID+"/drafts", owner, "")).Items; len(ds) != 0 {
		t.Errorf("the pending job drafted %d messages after the opt-out", len(ds))
	}
	got := stacktest.Decode[campaign.EnqueueResult](t, w.Do(t, "POST", "/v1/campaigns/"+second.ID+"/enqueue", owner, `{"all":true}`))
	if got.Queued != 0 || got.Skipped.OptedOut != 1 {
		t.Errorf("future enqueue = %+v, want the contact skipped as opted out", got)
	}
}

// TestPER04_CallWaitsForTheCallingWindow is the fourth must-show: a call
// for a contact in Australia/Adelaide at 07:59 local waits until 08:00.
func TestPER04_CallWaitsForTheCallingWindow(t *testing.T) {
	w := stacktest.New(t)
	adelaide, _ := time.LoadLocation("Australia/Adelaide")
	w.Clock.Set(time.Date(2026, 11, 24, 7, 59, 0, 0, adelaide).UTC())
	ids := seed(t, w, "acme", []contact.Contact{
		{Phone: "+61 8 8123 4567", TimeZone: "Australia/Adelaide", FirstName: "Bruce", Consent: contact.Consent{Call: contact.Granted}},
	})
	owner := w.Token(t, "acme", auth.Principal{Role: auth.Owner})
	camp := createCampaign(t, w, owner, "call")
	w.Do(t, "POST", "/v1/campaigns/"+camp.ID+"/enqueue", owner, `{"all":true}`)
	w.Drain(t, campaign.Queue)
	list := func() []campaign.Draft {
		return stacktest.Decode[drafts](t, w.Do(t, "GET", "/v1/campaigns/"+camp.ID+"/drafts", owner, "")).Items
	}
	if ds := list(); len(ds) != 0 {
		t.Fatalf("a call was drafted at 07:59 local: %+v", ds)
	}
	w.Clock.Advance(30 * time.Second) // 07:59:30: the parked job is not due yet
	w.Drain(t, campaign.Queue)
	if ds := list(); len(ds) != 0 {
		t.Fatal("a call was drafted before 08:00 local")
	}
	w.Clock.Advance(31 * time.Second) // 08:00:01
	w.Drain(t, campaign.Queue)
	ds := list()
	if len(ds) != 1 || ds[0].Contact != ids[0] {
		t.Fatalf("drafts at 08:00 = %+v, want the call", ds)
	}
	if local := ds[0].NotBefore.In(adelaide); local.Hour() < 8 || local.Hour() >= 21 {
		t.Errorf("notBefore = %s local, want inside 08:00-21:00", local)
	}
}

func TestPER04_NextAllowedAcrossZonesAndDST(t *testing.T) {
	load := func(name string) *time.Location {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		return loc
	}
	ny, kolkata, adelaide, kathmandu := load("America/New_York"), load("Asia/Kolkata"), load("Australia/Adelaide"), load("Asia/Kathmandu")
	cases := []struct {
		name  string
		now   time.Time
		zones []*time.Location
		want  time.Time
	}{
		{"inside the window", time.Date(2026, 6, 1, 12, 0, 0, 0, ny), []*time.Location{ny}, time.Date(2026, 6, 1, 12, 0, 0, 0, ny)},
		{"before 08:00", time.Date(2026, 6, 1, 7, 59, 59, 0, ny), []*time.Location{ny}, time.Date(2026, 6, 1, 8, 0, 0, 0, ny)},
		{"at 21:00 is too late", time.Date(2026, 6, 1, 21, 0, 0, 0, ny), []*time.Location{ny}, time.Date(2026, 6, 2, 8, 0, 0, 0, ny)},
		{"half-hour offset", time.Date(2026, 6, 1, 7, 30, 0, 0, kolkata), []*time.Location{kolkata}, time.Date(2026, 6, 1, 8, 0, 0, 0, kolkata)},
		{"quarter-hour offset", time.Date(2026, 6, 1, 22, 0, 0, 0, kathmandu), []*time.Location{kathmandu}, time.Date(2026, 6, 2, 8, 0, 0, 0, kathmandu)},
		// 8 March 2026: New York springs forward at 02:00.
		{"spring forward night", time.Date(2026, 3, 7, 23, 0, 0, 0, ny), []*time.Location{ny}, time.Date(2026, 3, 8, 8, 0, 0, 0, ny)},
		// 1 November 2026: New York falls back at 02:00.
		{"fall back night", time.Date(2026, 10, 31, 22, 0, 0, 0, ny), []*time.Location{ny}, time.Date(2026, 11, 1, 8, 0, 0, 0, ny)},
		// 5 April 2026: Adelaide ends daylight saving.
		{"southern DST end", time.Date(2026, 4, 4, 21, 30, 0, 0, adelaide), []*time.Location{adelaide}, time.Date(2026, 4, 5, 8, 0, 0, 0, adelaide)},
		{"strictest of two zones", time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC), []*time.Location{ny, kolkata},
			// 08:00 New York is 17:30 Kolkata: inside both windows.
			time.Date(2026, 6, 1, 8, 0, 0, 0, ny)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := campaign.NextAllowed(tc.now, tc.zones)
			if !ok || !got.Equal(tc.want) {
				t.Errorf("NextAllowed = %v %v, want %v", got, ok, tc.want)
			}
		})
	}
	if _, ok := campaign.NextAllowed(time.Now(), nil); ok {
		t.Error("no zone known, yet a window was found")
	}
	// Two 13-hour windows always overlap; three zones 8 hours apart share
	// no instant, so the strictest reading never calls.
	if _, ok := campaign.NextAllowed(time.Now(), []*time.Location{load("Etc/UTC"), load("Etc/GMT-8"), load("Etc/GMT+8")}); ok {
		t.Error("zones 8 hours apart share a calling window")
	}
}

func TestPER04_ZonesFromPhoneOrCountryWhenUnknown(t *testing.T) {
	if z := campaign.Zones("", "+61881234567", "AU"); len(z) == 0 || len(z) > 3 {
		t.Errorf("zones of an Adelaide number = %v", z)
	}
	if z := campaign.Zones("", "", "DE"); len(z) != 1 || z[0].String() != "Europe/Berlin" {
		t.Errorf("zones of DE = %v", z)
	}
	if z := campaign.Zones("", "", ""); len(z) != 0 {
		t.Errorf("zones of nothing = %v", z)
	}
}

func TestRET02_DraftsExpireAfter30Days(t *testing.T) {
	w := stacktest.New(t)
	seed(t, w, "acme", []contact.Contact{{Email: "a@example.com", Consent: contact.Consent{Email: contact.Granted}}})
	owner := w.Token(t, "acme", auth.Principal{Role: auth.Owner})
	camp := createCampaign(t, w, owner, "email")
	w.Do(t, "POST", "/v1/campaigns/"+camp.ID+"/enqueue", owner, `{"all":true}`)
	w.Drain(t, campaign.Queue)
	w.Clock.Advance(campaign.DraftTTL - time.Minute)
	owner = w.Token(t, "acme", auth.Principal{Role: auth.Owner})
	if ds := stacktest.Decode[drafts](t, w.Do(t, "GET", "/v1/campaigns/"+camp.ID+"/drafts", owner, "")).Items; len(ds) != 1 {
		t.Fatalf("drafts before 30 days = %d, want 1", len(ds))
	}
	w.Clock.Advance(2 * time.Minute)
	owner = w.Token(t, "acme", auth.Principal{Role: auth.Owner})
	if ds := stacktest.Decode[drafts](t, w.Do(t, "GET", "/v1/campaigns/"+camp.ID+"/drafts", owner, "")).Items; len(ds) != 0 {
		t.Errorf("drafts after 30 days = %d, want 0", len(ds))
	}
}

func TestPER01_CampaignValidationAndRoles(t *testing.T) {
	w := stacktest.New(t)
	owner := w.Token(t, "acme", auth.Principal{Role: auth.Owner})
	rep := w.Token(t, "acme", auth.Principal{Role: auth.Rep})
	cases := []struct {
		name, body string
		field      string
	}{
		{"email without postal address", `{"name":"x","channel":"email","template":"hi","sender":{"name":"A"},"reason":"r"}`, "sender.postalAddress"},
		{"unknown channel", `{"name":"x","channel":"fax","template":"hi","sender":{"name":"A"}}`, "channel"},
		{"broken template", `{"name":"x","channel":"call","template":"{{.FirstName","sender":{"name":"A"}}`, "template"},
		{"unknown field", `{"name":"x","channel":"call","template":"hi","sender":{"name":"A"},"budget":1}`, "budget"},
	}
	for _, tc := range cases {
		rec := w.Do(t, "POST", "/v1/campaigns", owner, tc.body)
		if rec.Code != 422 || !strings.Contains(rec.Body.String(), `"field":"`+tc.field+`"`) {
			t.Errorf("%s = %d %s, want 422 naming %s", tc.name, rec.Code, rec.Body, tc.field)
		}
	}
	if rec := w.Do(t, "POST", "/v1/campaigns", rep, `{}`); rec.Code != 403 {
		t.Errorf("rep creating a campaign = %d, want 403", rec.Code)
	}
	if rec := w.Do(t, "GET", "/v1/campaigns/cmp_nope", owner, ""); rec.Code != 404 {
		t.Errorf("unknown campaign = %d, want 404", rec.Code)
	}
	if rec := w.Do(t, "POST", "/v1/campaigns/cmp_nope/enqueue", owner, `{"all":true,"contactIds":["x"]}`); rec.Code != 422 {
		t.Errorf("both all and ids = %d, want 422", rec.Code)
	}
}

func TestING05_BadPersonalizationJobIsDroppedNotRetried(t *testing.T) {
	w := stacktest.New(t)
	ctx := stacktest.Ctx("acme")
	if _, err := w.Stack.Queues.Send(ctx, campaign.Queue, []queue.Message{{Body: []byte("junk")}, {Body: []byte(`{"v":1,"org":"acme","campaign":"cmp_gone","contact":"c"}`)}}, 0); err != nil {
		t.Fatal(err)
	}
	if n := w.Drain(t, campaign.Queue); n != 2 {
		t.Errorf("handled = %d, want 2", n)
	}
	if n := w.Drain(t, campaign.Queue); n != 0 {
		t.Errorf("%d bad jobs came back", n)
	}
}
