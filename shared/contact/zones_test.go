package contact

import (
	"fmt"
	"sync"
	"testing"
)

// TestZoneCacheAgreesWithLoadLocation checks that the cache answers what
// time.LoadLocation answers, the first time and from memory.
func TestZoneCacheAgreesWithLoadLocation(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"Europe/Berlin", true},
		{"America/New_York", true},
		{"UTC", true},
		{"Local", false}, // the server's zone, never a contact's
		{"Mars/Olympus_Mons", false},
		{"../../etc/passwd", false},
		{"", true}, // LoadLocation's UTC; Normalize never asks for it
	}
	var z zoneCache
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, round := range []string{"first", "cached"} {
				if got := z.isZone(tc.name); got != tc.want {
					t.Errorf("%s isZone(%q) = %v, want %v", round, tc.name, got, tc.want)
				}
			}
			var uncached *zoneCache
			if got := uncached.isZone(tc.name); got != tc.want {
				t.Errorf("uncached isZone(%q) = %v, want %v", tc.name, got, tc.want)
			}
		})
	}
}

// TestZoneCacheIsBounded feeds more made-up names than the cache holds:
// it stops remembering at maxZones and still answers correctly.
func TestZoneCacheIsBounded(t *testing.T) {
	var z zoneCache
	for i := range maxZones + 100 {
		if z.isZone(fmt.Sprintf("Nowhere/Zone%d", i)) {
			t.Fatalf("made-up zone %d accepted", i)
		}
	}
	if got := len(z.valid); got != maxZones {
		t.Errorf("cache holds %d names, want the bound %d", got, maxZones)
	}
	if !z.isZone("Asia/Tokyo") {
		t.Error("a real zone is refused once the cache is full")
	}
	if _, kept := z.valid["Asia/Tokyo"]; kept {
		t.Error("a full cache still remembered a new name")
	}
}

// TestZoneCacheConcurrent runs lookups from many goroutines (for -race).
func TestZoneCacheConcurrent(t *testing.T) {
	var z zoneCache
	names := []string{"Europe/Paris", "Asia/Kolkata", "Nowhere/X", "America/Chicago"}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				name := names[(g+i)%len(names)]
				if got, want := z.isZone(name), name != "Nowhere/X"; got != want {
					t.Errorf("isZone(%q) = %v, want %v", name, got, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestNormalizeTimeZone checks the time zone rule of Normalize through the
// cache: real zones kept, others refused with a reason that does not
// repeat the value.
func TestNormalizeTimeZone(t *testing.T) {
	tests := []struct {
		zone    string
		wantErr bool
	}{
		{"Europe/Berlin", false},
		{" Europe/Berlin ", false},
		{"Local", true},
		{"Mars/Olympus_Mons", true},
	}
	for _, tc := range tests {
		t.Run(tc.zone, func(t *testing.T) {
			for range 2 { // the second time from the cache
				_, errs := Normalize(Contact{Email: "ada@example.com", TimeZone: tc.zone}, "")
				got := false
				for _, e := range errs {
					if e.Field == "timeZone" {
						got = true
					}
				}
				if got != tc.wantErr {
					t.Fatalf("timeZone error = %v (%v), want %v", got, errs, tc.wantErr)
				}
			}
		})
	}
}

// benchRows are contacts as a CSV import gives them: a handful of time
// zones over many rows.
var benchRows = func() []Contact {
	zones := []string{"America/New_York", "America/Los_Angeles", "Europe/Berlin", "Europe/London", "Asia/Tokyo", "Australia/Sydney"}
	rows := make([]Contact, 1000)
	for i := range rows {
		rows[i] = Contact{Email: fmt.Sprintf("Person%04d@Example.com", i), FirstName: " Ada ", LastName: "Lovelace",
			Company: "Example Industries", Country: "us", TimeZone: zones[i%len(zones)],
			Consent: Consent{Email: Granted, Basis: "consent"}}
	}
	return rows
}()

func benchNormalize(b *testing.B, zones *zoneCache) {
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, errs := normalize(benchRows[i%len(benchRows)], "", zones); len(errs) > 0 {
			b.Fatal(errs)
		}
	}
}

// BenchmarkNormalize normalizes contacts with a time zone each, the zone
// looked up through the cache.
func BenchmarkNormalize(b *testing.B) { benchNormalize(b, &zones) }

// BenchmarkNormalizeBaseline is the same without the cache: every row
// loads its zone file (time.LoadLocation), as Normalize did before.
func BenchmarkNormalizeBaseline(b *testing.B) { benchNormalize(b, nil) }
