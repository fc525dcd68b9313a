package csvimport

import (
	"encoding/csv"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/alto/alto/shared/contact"
	"github.com/alto/alto/shared/importtest"
)

// parseRows is the size of the memory-flatness run: a million rows.
const parseRows = 1_000_000

// heap samples the heap while a parse runs: the largest heap seen
// (garbage included) and the live heap, after a collection, at two points.
type heap struct {
	peak, live100k, live1M uint64
}

func (h *heap) sample() {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	h.peak = max(h.peak, m.HeapAlloc)
}

func live() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkParse1MRows reads, maps and normalizes a million-row file
// streamed from a generator (the parse step of an import, without the
// store or the queue), sampling the heap every 10,000 rows. Constant memory
// shows as a live heap that is the same after 1,000,000 rows as after
// 100,000 (live-MB-1M against live-MB-100k) and a small peak-heap-MB.
func BenchmarkParse1MRows(b *testing.B) {
	for b.Loop() {
		var h heap
		start := time.Now()
		rd, err := NewReader(importtest.Reader(parseRows, 3))
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			row, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			contact.Normalize(row.Contact, "")
			if n++; n%10_000 == 0 {
				h.sample()
			}
			if n == 100_000 {
				h.live100k = live()
			}
		}
		if n != parseRows {
			b.Fatalf("rows = %d, want %d", n, parseRows)
		}
		h.live1M = live()
		b.ReportMetric(float64(parseRows)/time.Since(start).Seconds(), "rows/s")
		b.ReportMetric(float64(h.peak)/(1<<20), "peak-heap-MB")
		b.ReportMetric(float64(h.live100k)/(1<<20), "live-MB-100k")
		b.ReportMetric(float64(h.live1M)/(1<<20), "live-MB-1M")
	}
}

// BenchmarkParse1MRowsBaseline reads the same file with bare encoding/csv
// and nothing else: the floor under BenchmarkParse1MRows.
func BenchmarkParse1MRowsBaseline(b *testing.B) {
	for b.Loop() {
		r := csv.NewReader(importtest.Reader(parseRows, 3))
		r.ReuseRecord = true
		r.FieldsPerRecord = -1
		n := 0
		for {
			_, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != parseRows+1 {
			b.Fatalf("records = %d", n)
		}
	}
}
