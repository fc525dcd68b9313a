package incident

import (
	"fmt"
	"time"
)

// Calendar counts business days: Monday to Friday in its location, less
// its holidays. The zero Calendar is UTC without holidays. It is a value;
// copies may be used concurrently.
type Calendar struct {
	loc      *time.Location
	holidays map[string]bool // "2006-01-02" in loc
}

// NewCalendar returns a Calendar in loc (nil means UTC) with the given
// holidays as "YYYY-MM-DD" dates. Returns an error naming the first date
// that does not parse.
func NewCalendar(loc *time.Location, holidays ...string) (Calendar, error) {
	if loc == nil {
		loc = time.UTC
	}
	c := Calendar{loc: loc, holidays: make(map[string]bool, len(holidays))}
	for _, h := range holidays {
		d, err := time.ParseInLocation(time.DateOnly, h, loc)
		if err != nil {
			return Calendar{}, fmt.Errorf("incident: holiday %q: want YYYY-MM-DD", h)
		}
		c.holidays[d.Format(time.DateOnly)] = true
	}
	return c, nil
}

func (c Calendar) location() *time.Location {
	if c.loc == nil {
		return time.UTC
	}
	return c.loc
}

// BusinessDay reports whether t falls on a business day.
func (c Calendar) BusinessDay(t time.Time) bool {
	t = t.In(c.location())
	if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
		return false
	}
	return !c.holidays[t.Format(time.DateOnly)]
}

// AddBusinessDays returns the moment n business days after t, at the same
// wall-clock time in the calendar's location: the days after t are counted
// one by one, skipping weekends and holidays, so a Friday plus 5 is the
// next Friday and a Saturday plus 5 the Friday after it. n ≤ 0 returns t.
func (c Calendar) AddBusinessDays(t time.Time, n int) time.Time {
	loc := c.location()
	d := t.In(loc)
	for counted := 0; counted < n; {
		d = d.AddDate(0, 0, 1)
		if c.BusinessDay(d) {
			counted++
		}
	}
	return d.In(t.Location())
}
