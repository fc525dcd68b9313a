package incident

import (
	"testing"
	"time"
)

func TestINC03_AddBusinessDays(t *testing.T) {
	us, err := NewCalendar(nil, "2026-11-26", "2026-12-25", "2027-01-01")
	if err != nil {
		t.Fatal(err)
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	eu, err := NewCalendar(berlin)
	if err != nil {
		t.Fatal(err)
	}
	day := func(s string) time.Time {
		d, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	tests := []struct {
		name string
		cal  Calendar
		from string
		want string
	}{
		{"friday to next friday", Calendar{}, "2026-11-20T15:30:00Z", "2026-11-27T15:30:00Z"},
		{"saturday to the friday after", Calendar{}, "2026-11-21T09:00:00Z", "2026-11-27T09:00:00Z"},
		{"sunday to the friday after", Calendar{}, "2026-11-22T23:59:00Z", "2026-11-27T23:59:00Z"},
		{"monday to next monday", Calendar{}, "2026-11-23T08:00:00Z", "2026-11-30T08:00:00Z"},
		{"wednesday over a weekend", Calendar{}, "2026-11-25T12:00:00Z", "2026-12-02T12:00:00Z"},
		{"holiday skipped", us, "2026-11-20T15:30:00Z", "2026-11-30T15:30:00Z"},
		{"two holidays over the year end", us, "2026-12-24T10:00:00Z", "2027-01-04T10:00:00Z"},
		{"resolved on a holiday", us, "2026-11-26T10:00:00Z", "2026-12-03T10:00:00Z"},
		// 23:30 UTC on Friday is already Saturday 00:30 in Berlin: due the
		// Friday after, 00:30 Berlin, which is Thursday 23:30 UTC.
		{"weekend in the calendar's zone", eu, "2026-11-20T23:30:00Z", "2026-11-26T23:30:00Z"},
		{"friday in the calendar's zone", eu, "2026-11-20T22:30:00Z", "2026-11-27T22:30:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.cal.AddBusinessDays(day(tt.from), RCABusinessDays)
			if want := day(tt.want); !got.Equal(want) {
				t.Errorf("AddBusinessDays(%s, 5) = %s (%s), want %s", tt.from, got.UTC().Format(time.RFC3339), got.Weekday(), tt.want)
			}
		})
	}
}

func TestNewCalendarRefusesBadDates(t *testing.T) {
	for _, h := range []string{"2026-13-01", "26-11-26", "tomorrow", ""} {
		if _, err := NewCalendar(nil, h); err == nil {
			t.Errorf("NewCalendar(%q) succeeded, want an error", h)
		}
	}
}
