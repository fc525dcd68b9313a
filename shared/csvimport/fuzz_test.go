package csvimport

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

// FuzzReader feeds arbitrary bytes through the header mapping and the row
// reader. Whatever the input, the reader must not panic, must fail only with
// a *FileError, must number rows by increasing file lines from 2, and must
// read after a resume exactly the rows a single pass reads (a checkpoint
// loses and repeats nothing). The seed corpus is in testdata/fuzz/FuzzReader.
func FuzzReader(f *testing.F) {
	f.Add([]byte("email,first name\nada@example.com,Ada\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rd, err := NewReader(bytes.NewReader(data))
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) || fe.Line != 1 || fe.Reason == "" {
				t.Fatalf("NewReader: %v, want nil or a *FileError on line 1", err)
			}
			return
		}
		type step struct {
			pos Position
			row Row
		}
		var steps []step
		var fatal error
		for len(steps) < 5000 {
			pos := rd.Position()
			row, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				var fe *FileError
				if !errors.As(err, &fe) {
					t.Fatalf("Next: %v, want only *FileError", err)
				}
				fatal = err
				break
			}
			if pos.Offset > int64(len(data)) || row.Line < 2 || len(steps) > 0 && row.Line <= steps[len(steps)-1].row.Line {
				t.Fatalf("row at line %d after %+v: lines must increase from 2", row.Line, steps)
			}
			steps = append(steps, step{pos, row})
		}
		if fatal != nil || len(steps) < 2 {
			return
		}
		mid := steps[len(steps)/2]
		resumed := Resume(bytes.NewReader(data[mid.pos.Offset:]), rd.Mapping(), mid.pos)
		for i, want := range steps[len(steps)/2:] {
			got, err := resumed.Next()
			if err != nil || !reflect.DeepEqual(got, want.row) {
				t.Fatalf("resumed row %d = %+v, %v; want %+v", i, got, err, want.row)
			}
		}
	})
}
