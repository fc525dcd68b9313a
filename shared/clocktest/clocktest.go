// Package clocktest provides the settable clock that tests inject where
// production code takes a `Now func() time.Time`, so deadlines, expiry and
// retention are tested without sleeping.
package clocktest

import (
	"sync"
	"time"
)

// Clock is a settable clock. It may be used concurrently.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// At returns a clock showing t.
func At(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
