package contact

import (
	"sync"
	"time"
)

// maxZones bounds the zone names a zoneCache remembers: well above the
// IANA database's ~600 names, so every real zone fits, while a file full
// of made-up names cannot grow the cache without end.
const maxZones = 1024

// zoneCache remembers whether time.LoadLocation accepts a name, so that
// normalizing a million rows reads the zone database once per zone instead
// of once per row (LoadLocation opens and parses the zone file on every
// call). It holds at most maxZones names; past that, names it does not
// know are looked up every time and not remembered. It may be used
// concurrently; the zero value is ready to use.
type zoneCache struct {
	mu    sync.RWMutex
	valid map[string]bool
}

// zones is the cache Normalize uses.
var zones zoneCache

// isZone reports whether name is an IANA time zone that time.LoadLocation
// loads ("Local" is not: it names the server's zone, not the contact's).
// A nil cache looks the name up every time.
func (z *zoneCache) isZone(name string) bool {
	if name == "Local" {
		return false
	}
	if z == nil {
		return loadable(name)
	}
	z.mu.RLock()
	ok, known := z.valid[name]
	z.mu.RUnlock()
	if known {
		return ok
	}
	ok = loadable(name)
	z.mu.Lock()
	if z.valid == nil {
		z.valid = make(map[string]bool)
	}
	if len(z.valid) < maxZones {
		z.valid[name] = ok
	}
	z.mu.Unlock()
	return ok
}

func loadable(name string) bool {
	_, err := time.LoadLocation(name)
	return err == nil
}
