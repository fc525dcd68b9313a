// Package cdktest holds what the CDK construct tests share: a bare stack to
// build one construct on, template assertions that fail the test instead of
// panicking (jsii turns a failed JavaScript assertion into a Go panic), the
// template's resources as plain Go values, and placeholder Lambda assets.
//
// Tests using it must not call t.Parallel: they share the one jsii runtime
// of the test process.
package cdktest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Region is the region of the bare stacks.
const Region = "us-east-1"

// Stack returns an empty stack in Region, in an app that writes to a
// temporary folder.
func Stack(tb testing.TB) awscdk.Stack {
	tb.Helper()
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(tb.TempDir())})
	return awscdk.NewStack(app, jsii.String("Bare"), &awscdk.StackProps{
		Env: &awscdk.Environment{Region: jsii.String(Region)},
	})
}

// Template synthesizes stack and returns its template.
func Template(tb testing.TB, stack awscdk.Stack) assertions.Template {
	tb.Helper()
	var tmpl assertions.Template
	try(tb, "synthesize "+*stack.StackName(), func() { tmpl = assertions.Template_FromStack(stack, nil) })
	if tmpl == nil {
		tb.FailNow()
	}
	return tmpl
}

// Has fails the test unless the template holds a resource of type typ whose
// properties match props (an assertions matcher or a map matched as
// Match.objectLike).
func Has(tb testing.TB, tmpl assertions.Template, typ string, props interface{}) {
	tb.Helper()
	try(tb, typ, func() { tmpl.HasResourceProperties(jsii.String(typ), props) })
}

// Count fails the test unless the template holds exactly n resources of type typ.
func Count(tb testing.TB, tmpl assertions.Template, typ string, n int) {
	tb.Helper()
	try(tb, typ, func() { tmpl.ResourceCountIs(jsii.String(typ), jsii.Number(n)) })
}

// Resource is one resource of a synthesized template.
type Resource struct {
	Type       string                 `json:"Type"`
	Properties map[string]interface{} `json:"Properties"`
	Metadata   map[string]interface{} `json:"Metadata"`
	// DeletionPolicy is "Retain", "Delete" or empty.
	DeletionPolicy string `json:"DeletionPolicy"`
}

// Resources returns the template's resources by logical ID.
func Resources(tb testing.TB, tmpl assertions.Template) map[string]Resource {
	tb.Helper()
	raw, err := json.Marshal(tmpl.ToJSON())
	if err != nil {
		tb.Fatalf("cdktest: template to JSON: %v", err)
	}
	var doc struct {
		Resources map[string]Resource `json:"Resources"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		tb.Fatalf("cdktest: read template: %v", err)
	}
	return doc.Resources
}

// OfType returns the resources of type typ by logical ID.
func OfType(tb testing.TB, tmpl assertions.Template, typ string) map[string]Resource {
	tb.Helper()
	out := map[string]Resource{}
	for id, r := range Resources(tb, tmpl) {
		if r.Type == typ {
			out[id] = r
		}
	}
	return out
}

// Assets returns a folder laid out like the output of `make build`, with a
// placeholder build/<name>/bootstrap for each name: enough for synthesis,
// which only hashes and copies the file.
func Assets(tb testing.TB, names ...string) string {
	tb.Helper()
	dir := tb.TempDir()
	for _, n := range names {
		if err := os.MkdirAll(filepath.Join(dir, n), 0o755); err != nil {
			tb.Fatalf("cdktest: asset folder %s: %v", n, err)
		}
		if err := os.WriteFile(filepath.Join(dir, n, "bootstrap"), []byte("placeholder for "+n), 0o755); err != nil {
			tb.Fatalf("cdktest: asset %s: %v", n, err)
		}
	}
	return dir
}

// try runs f and turns a panic (a failed jsii call) into a test error.
func try(tb testing.TB, what string, f func()) {
	tb.Helper()
	defer func() {
		if r := recover(); r != nil {
			tb.Errorf("%s: %v", what, r)
		}
	}()
	f()
}

// LogicalID returns the logical ID of the template's only resource of type
// typ, and fails the test when there is not exactly one.
func LogicalID(tb testing.TB, tmpl assertions.Template, typ string) string {
	tb.Helper()
	got := OfType(tb, tmpl, typ)
	if len(got) != 1 {
		tb.Fatalf("cdktest: %d resources of type %s, want 1", len(got), typ)
	}
	for id := range got {
		return id
	}
	return ""
}

// ID returns the logical ID of c's CloudFormation resource (c itself or its
// default child).
func ID(tb testing.TB, c constructs.IConstruct) string {
	tb.Helper()
	el, ok := c.(awscdk.CfnElement)
	if !ok {
		el, ok = c.Node().DefaultChild().(awscdk.CfnElement)
	}
	if !ok {
		tb.Fatalf("cdktest: %s has no CloudFormation resource", *c.Node().Path())
	}
	id, ok := awscdk.Stack_Of(c).Resolve(el.LogicalId()).(string)
	if !ok {
		tb.Fatalf("cdktest: %s: logical ID does not resolve to a string", *c.Node().Path())
	}
	return id
}

// Main runs the tests of m with TMPDIR set to a folder of its own, which it
// removes afterwards: the jsii runtime unpacks itself into a temporary
// folder that only jsii.Close would remove, and jsii.Close races with the
// runtime's own goroutine (go test -race reports it). A package's TestMain
// calls it.
func Main(m *testing.M) {
	dir, err := os.MkdirTemp("", "cdktest-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "cdktest: %v\n", err)
		os.Exit(2)
	}
	old, had := os.LookupEnv("TMPDIR")
	os.Setenv("TMPDIR", dir)
	code := m.Run()
	if had {
		os.Setenv("TMPDIR", old)
	} else {
		os.Unsetenv("TMPDIR")
	}
	os.RemoveAll(dir)
	os.Exit(code)
}
