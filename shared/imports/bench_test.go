package imports_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alto/alto/shared/auth"
	"github.com/alto/alto/shared/imports"
	"github.com/alto/alto/shared/importtest"
	"github.com/alto/alto/shared/ingest"
	"github.com/alto/alto/shared/jobs"
	"github.com/alto/alto/shared/stacktest"
)

// benchRows is the size of the end-to-end import: 100,000 rows, or
// ALTO_BENCH_IMPORT_ROWS.
func benchRows(b *testing.B) int {
	n := 100_000
	if s := os.Getenv("ALTO_BENCH_IMPORT_ROWS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 1 {
			b.Fatalf("ALTO_BENCH_IMPORT_ROWS = %q", s)
		}
	}
	return n
}

// BenchmarkImport100kRows imports a 100,000-row file (3% invalid) end to end
// on the embedded stack, as `serve` runs it: the POST, the streamed PUT to
// the signed URL, the parse job and the ingest of every row (sealed,
// indexed, audited, each a durable bbolt transaction) until the import is
// done. It reports rows/s and the peak heap, sampled every 50ms while it
// runs.
func BenchmarkImport100kRows(b *testing.B) {
	rows := benchRows(b)
	for b.Loop() {
		w := stacktest.New(b)
		tok := w.Token(b, "acme", auth.Principal{Role: auth.Owner})
		var peak atomic.Uint64
		stop := make(chan struct{})
		var sampler sync.WaitGroup
		sampler.Add(1)
		go func() {
			defer sampler.Done()
			t := time.NewTicker(50 * time.Millisecond)
			defer t.Stop()
			var m runtime.MemStats
			for {
				runtime.ReadMemStats(&m)
				if m.HeapAlloc > peak.Load() {
					peak.Store(m.HeapAlloc)
				}
				select {
				case <-stop:
					return
				case <-t.C:
				}
			}
		}()
		start := time.Now()
		rec := w.Do(b, "POST", "/v1/imports", tok, `{"filename":"bench.csv"}`)
		created := stacktest.Decode[imports.Created](b, rec)
		put := httptest.NewRequest("PUT", created.UploadURL, importtest.Reader(rows, 3))
		put.RemoteAddr = "192.0.2.1:1234"
		res := httptest.NewRecorder()
		w.Stack.API.ServeHTTP(res, put)
		if res.Code != http.StatusOK {
			b.Fatalf("upload = %d %s", res.Code, res.Body)
		}
		for {
			n := w.Drain(b, jobs.Queue) + w.Drain(b, ingest.Queue)
			if n == 0 {
				break
			}
		}
		elapsed := time.Since(start)
		close(stop)
		sampler.Wait()
		imp, err := w.Stack.Imports.Get(stacktest.Ctx("acme"), auth.Principal{Role: auth.Owner}, created.ID)
		if err != nil || imp.Status != imports.Done || imp.Accepted+imp.Rejected != rows {
			b.Fatalf("import = %+v, %v; want done with %d rows", imp, err, rows)
		}
		b.ReportMetric(float64(rows)/elapsed.Seconds(), "rows/s")
		b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
	}
}
