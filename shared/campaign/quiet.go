package campaign

import (
	"strconv"
	"time"
	_ "time/tzdata" // zone data inside the binary: Lambda has none

	"github.com/nyaruka/phonenumbers"
)

// The calling window of PER-04 (TCPA): calls only from 08:00 to 21:00 in
// the contact's own time.
const (
	windowStart = 8
	windowEnd   = 21
)

// nextAllowedIn returns the first instant at or after t inside the calling
// window in loc.
func nextAllowedIn(t time.Time, loc *time.Location) time.Time {
	local := t.In(loc)
	y, m, d := local.Date()
	start := time.Date(y, m, d, windowStart, 0, 0, 0, loc)
	end := time.Date(y, m, d, windowEnd, 0, 0, 0, loc)
	switch {
	case local.Before(start):
		return start
	case local.Before(end):
		return t
	default:
		return time.Date(y, m, d+1, windowStart, 0, 0, 0, loc)
	}
}

// NextAllowed returns the first instant at or after t that is inside the
// calling window in every one of zones (the strictest reading when the
// contact's zone is not known exactly), and false if there is none within
// a week (the windows never overlap) or zones is empty.
func NextAllowed(t time.Time, zones []*time.Location) (time.Time, bool) {
	if len(zones) == 0 {
		return time.Time{}, false
	}
	limit := t.Add(7 * 24 * time.Hour)
	for t.Before(limit) {
		moved := false
		for _, z := range zones {
			if n := nextAllowedIn(t, z); n.After(t) {
				t, moved = n, true
			}
		}
		if !moved {
			return t, true
		}
	}
	return time.Time{}, false
}

// Zones returns the time zones a contact may be in: its own IANA zone when
// known, else the zones of its phone number, else those of its country's
// calling code. It returns none when nothing is known.
func Zones(timeZone, phone, country string) []*time.Location {
	if timeZone != "" {
		if loc, err := time.LoadLocation(timeZone); err == nil {
			return []*time.Location{loc}
		}
	}
	var names []string
	if phone != "" {
		if n, err := phonenumbers.Parse(phone, country); err == nil {
			names, _ = phonenumbers.GetTimezonesForNumber(n)
		}
	}
	if len(names) == 0 || names[0] == phonenumbers.UNKNOWN_TIMEZONE {
		names = nil
		if code := phonenumbers.GetCountryCodeForRegion(country); country != "" && code != 0 {
			names, _ = phonenumbers.GetTimezonesForPrefix("+" + strconv.Itoa(code))
		}
	}
	var zones []*time.Location
	for _, name := range names {
		if loc, err := time.LoadLocation(name); err == nil {
			zones = append(zones, loc)
		}
	}
	return zones
}
