package incident_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alto/alto/shared/audit"
	"github.com/alto/alto/shared/incident"
	"github.com/alto/alto/shared/store"
	"github.com/alto/alto/shared/tenant"
)

// failedAuth appends a failed authentication from source at the given time.
func (e *env) failedAuth(t *testing.T, at time.Time, source string) {
	t.Helper()
	e.at(at)
	e.appendAudit(t, tenant.Platform, audit.Entry{Type: incident.TypeAuthFailed, Actor: "anonymous",
		Detail: map[string]string{"reason": "invalid signature or algorithm", incident.DetailSource: source, "route": "GET /v1/me"}})
}

// detected returns the incidents a detector opened.
func (e *env) detected(t *testing.T, detector string) []incident.View {
	t.Helper()
	var out []incident.View
	for _, v := range e.incidents(t) {
		if v.Source == "detector:"+detector {
			out = append(out, v)
		}
	}
	return out
}

// TestINC04_AuthBurstDetector is the third must-show: 50 failed
// authentications in a minute from one client open an incident by
// themselves; 5 do not.
func TestINC04_AuthBurstDetector(t *testing.T) {
	tests := []struct {
		name    string
		count   int
		every   time.Duration
		sources int
		want    int
	}{
		{"50 in a minute from one source trip", 50, time.Second, 1, 1},
		{"5 in a minute do not", 5, time.Second, 1, 0},
		{"49 in a minute do not", 49, time.Second, 1, 0},
		{"50 spread over 10 minutes do not", 50, 12 * time.Second, 1, 0},
		{"50 from 50 sources do not", 50, time.Second, 50, 0},
		{"200 in a minute are one incident", 200, 250 * time.Millisecond, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			for i := range tt.count {
				e.failedAuth(t, T.Add(time.Duration(i)*tt.every), fmt.Sprintf("ip:%04x", i%tt.sources))
			}
			e.at(e.clock.Now().Add(time.Minute))
			e.tick(t)
			e.tick(t)
			got := e.detected(t, "auth-burst")
			if len(got) != tt.want {
				t.Fatalf("incidents opened = %d, want %d", len(got), tt.want)
			}
			if tt.want == 0 {
				if n := len(e.alarms(t, "incident.detected")); n != 0 {
					t.Errorf("detected alarms = %d, want 0", n)
				}
				return
			}
			v := got[0]
			if v.Severity != incident.High || !v.Affected.Internal() || !strings.Contains(v.Description, "ip:0000") {
				t.Errorf("incident = %+v, want an internal high-severity one naming the source digest", v)
			}
			if n := len(e.alarms(t, "incident.detected")); n != 1 {
				t.Errorf("detected alarms = %d, want 1", n)
			}
			if msgs := e.mailTo(t, securityTeam); len(msgs) != 1 || !strings.Contains(msgs[0].Text, v.ID) {
				t.Errorf("security team e-mails = %d, want 1 about %s", len(msgs), v.ID)
			}
		})
	}
}

// TestINC04_AuthBurstAcrossRuns: a burst split by a run is still seen, a
// burst that goes on is one incident, and a new burst after a pause is
// another.
func TestINC04_AuthBurstAcrossRuns(t *testing.T) {
	e := newEnv(t)
	for i := range 30 {
		e.failedAuth(t, T.Add(time.Duration(i)*time.Second), "ip:beef")
	}
	e.tick(t)
	if n := len(e.detected(t, "auth-burst")); n != 0 {
		t.Fatalf("after 30 failures: %d incidents, want 0", n)
	}
	for i := 30; i < 50; i++ {
		e.failedAuth(t, T.Add(time.Duration(i)*time.Second), "ip:beef")
	}
	e.tick(t)
	if n := len(e.detected(t, "auth-burst")); n != 1 {
		t.Fatalf("after 50 failures over two runs: %d incidents, want 1", n)
	}
	for i := 50; i < 150; i++ { // the burst goes on for another 100 seconds
		e.failedAuth(t, T.Add(time.Duration(i)*time.Second), "ip:beef")
	}
	e.tick(t)
	if n := len(e.detected(t, "auth-burst")); n != 1 {
		t.Errorf("a burst that goes on: %d incidents, want 1", n)
	}
	for i := range 50 { // after a pause of 10 minutes: a new burst
		e.failedAuth(t, T.Add(160*time.Second+10*time.Minute+time.Duration(i)*time.Second), "ip:beef")
	}
	e.tick(t)
	if n := len(e.detected(t, "auth-burst")); n != 2 {
		t.Errorf("a second burst after a pause: %d incidents, want 2", n)
	}
}

// TestINC04_DetectorsDoNotOpenIncidentsTwice: with its checkpoint lost, a
// detector reads the log again and opens nothing new.
func TestINC04_DetectorsDoNotOpenIncidentsTwice(t *testing.T) {
	e := newEnv(t)
	for i := range 50 {
		e.failedAuth(t, T.Add(time.Duration(i)*time.Second), "ip:0001")
	}
	e.tick(t)
	if n := len(e.detected(t, "auth-burst")); n != 1 {
		t.Fatalf("incidents = %d, want 1", n)
	}
	pctx := tenant.WithPlatform(context.Background())
	for _, it := range rawItems(t, e.store, pctx, "INCIDENT-DETECT") {
		if err := e.store.Delete(pctx, store.Key{PK: it.PK, SK: it.SK}); err != nil {
			t.Fatal(err)
		}
	}
	e.tick(t)
	if n := len(e.detected(t, "auth-burst")); n != 1 {
		t.Errorf("after re-reading the log: %d incidents, want still 1", n)
	}
	if n := len(e.alarms(t, "incident.detected")); n != 1 {
		t.Errorf("detected alarms = %d, want 1", n)
	}
}

// TestINC04_DetectorsReadOnlyNewEntries: each run reads what was appended
// since the last one, not the whole log.
func TestINC04_DetectorsReadOnlyNewEntries(t *testing.T) {
	var log *countingLog
	e := newEnv(t, func(c *incident.Config, e *env) {
		log = &countingLog{AuditLog: c.Audit}
		c.Audit = log
	})
	e.tenantWith(t, "acme", []string{"owner@acme.example"}, "")
	acme := tenant.ID("acme")
	for range 1002 { // more than one page of List
		e.appendAudit(t, acme, audit.Entry{Type: "contact.read", Actor: "u1"})
	}
	e.tick(t)
	if n := log.reset(); n != 1002 {
		t.Errorf("first run listed %d entries, want the whole log but its head (1002 of 1003 with the settings entry)", n)
	}
	e.tick(t)
	if n := log.reset(); n != 0 {
		t.Errorf("a run with nothing new read %d entries, want 0", n)
	}
	for range 3 {
		e.appendAudit(t, acme, audit.Entry{Type: "contact.read", Actor: "u1"})
	}
	e.tick(t)
	if n := log.reset(); n > 4 {
		t.Errorf("a run after 3 new entries read %d entries, want at most 4", n)
	}
}

// TestINC04_CrossTenantDetector: any cross-tenant access attempt opens an
// incident; an org's attempts close together are one; nothing else trips.
func TestINC04_CrossTenantDetector(t *testing.T) {
	attempt := func(e *env, t *testing.T, at time.Time, org string) {
		t.Helper()
		e.at(at)
		e.appendAudit(t, tenant.Platform, audit.Entry{Type: incident.TypeCrossTenant, Actor: "u-7",
			Detail: map[string]string{incident.DetailOrg: org, "route": "GET /v1/contacts/{id}", incident.DetailSource: "ip:aa"}})
	}
	t.Run("trips", func(t *testing.T) {
		e := newEnv(t)
		attempt(e, t, T, "acme")
		e.tick(t)
		got := e.detected(t, "cross-tenant")
		if len(got) != 1 || !strings.Contains(got[0].Description, "acme") {
			t.Fatalf("incidents = %+v, want one naming acme", got)
		}
		attempt(e, t, T.Add(10*time.Minute), "acme")   // the same incident
		attempt(e, t, T.Add(11*time.Minute), "globex") // another org
		e.tick(t)
		attempt(e, t, T.Add(3*time.Hour), "acme") // after a quiet hour
		e.tick(t)
		if n := len(e.detected(t, "cross-tenant")); n != 3 {
			t.Errorf("incidents = %d, want 3 (acme, globex, acme again)", n)
		}
	})
	t.Run("does not trip", func(t *testing.T) {
		e := newEnv(t)
		e.appendAudit(t, tenant.Platform, audit.Entry{Type: "access.denied", Actor: "u-7"})
		e.appendAudit(t, "acme", audit.Entry{Type: "contact.read", Actor: "u-7"})
		e.tick(t)
		if n := len(e.incidents(t)); n != 0 {
			t.Errorf("incidents = %d, want 0", n)
		}
	})
}

// TestINC04_ExportSpikeDetector: a day's export volume far above the
// tenant's norm opens an incident affecting the tenant, which is notified.
func TestINC04_ExportSpikeDetector(t *testing.T) {
	const mb = 1 << 20
	tests := []struct {
		name    string
		history []int64 // bytes on each of the previous days
		today   []int64 // exports today
		want    int
	}{
		{"30x the norm trips", []int64{200 * mb, 180 * mb, 220 * mb, 200 * mb, 200 * mb}, []int64{3000 * mb, 3000 * mb}, 1},
		{"5x the norm does not", []int64{200 * mb, 180 * mb, 220 * mb, 200 * mb}, []int64{500 * mb, 500 * mb}, 0},
		{"too little history does not", []int64{0, 0, 1 * mb, 1 * mb}, []int64{5000 * mb}, 0},
		{"far above a tiny norm but small does not", []int64{1000, 1000, 1000}, []int64{50 * mb}, 0},
		{"days without exports are not the norm", []int64{0, 400 * mb, 0, 0, 400 * mb, 0, 400 * mb, 0}, []int64{2000 * mb}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			day := T.Add(-time.Duration(len(tt.history)) * 24 * time.Hour)
			e.at(day.Add(-time.Hour)) // audit times only go forward
			e.tenantWith(t, "acme", []string{"owner@acme.example"}, "")
			for _, n := range tt.history {
				if n > 0 {
					e.at(day)
					e.appendAudit(t, "acme", audit.Entry{Type: incident.TypeExportCreated, Actor: "u1",
						Detail: map[string]string{incident.DetailBytes: strconv.FormatInt(n, 10)}})
				}
				day = day.Add(24 * time.Hour)
			}
			for i, n := range tt.today {
				e.at(T.Add(time.Duration(i) * time.Hour))
				e.appendAudit(t, "acme", audit.Entry{Type: incident.TypeExportCreated, Actor: "u1",
					Detail: map[string]string{incident.DetailBytes: strconv.FormatInt(n, 10)}})
			}
			e.tick(t)
			e.tick(t)
			got := e.detected(t, "export-spike")
			if len(got) != tt.want {
				t.Fatalf("incidents = %d, want %d", len(got), tt.want)
			}
			if tt.want == 0 {
				return
			}
			if !got[0].Affected.Includes("acme") || got[0].Affected.All {
				t.Errorf("affected = %+v, want acme", got[0].Affected)
			}
			if msgs := e.mailTo(t, "owner@acme.example"); len(msgs) != 1 || !strings.Contains(msgs[0].Subject, "Export volume") {
				t.Errorf("acme's owner got %d messages, want the notice of the spike", len(msgs))
			}
		})
	}
}

// TestINC04_OldEntriesOpenNothing: a first run over an old log learns from
// it but opens no incident about the past.
func TestINC04_OldEntriesOpenNothing(t *testing.T) {
	e := newEnv(t)
	for i := range 60 {
		e.failedAuth(t, T.Add(time.Duration(i)*time.Second), "ip:0ld")
	}
	e.at(T.Add(48 * time.Hour))
	e.tick(t)
	if n := len(e.detected(t, "auth-burst")); n != 0 {
		t.Errorf("incidents about a burst two days ago = %d, want 0", n)
	}
}
