package functions_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/jsii-runtime-go"

	"github.com/alto/alto/infra/cdk/cdktest"
	"github.com/alto/alto/infra/cdk/functions"
)

func TestMain(m *testing.M) { cdktest.Main(m) }

func TestPresent(t *testing.T) {
	for _, tc := range []struct {
		name    string
		dirs    []string
		want    []string
		wantErr string
	}{
		{"only api", []string{"api"}, []string{"api"}, ""},
		{"catalog order", []string{"purge", "api", "ingest"}, []string{"api", "ingest", "purge"}, ""},
		{"unknown folder", []string{"api", "mailer"}, nil, "[mailer]"},
		{"none", nil, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, d := range tc.dirs {
				if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(dir, "README.md"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			specs, err := functions.Present(dir)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Present: got error %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Present: %v", err)
			}
			var got []string
			for _, s := range specs {
				got = append(got, s.Name)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Present: got %v, want %v", got, tc.want)
			}
		})
	}
	if _, err := functions.Present(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Errorf("Present of a missing folder: got nil error, want one")
	}
}

// The repository's functions/ folder holds only functions the catalog knows,
// so every one of them is deployed.
func TestPresent_EveryRepositoryFunctionIsDeployed(t *testing.T) {
	specs, err := functions.Present("../../../functions")
	if err != nil {
		t.Fatalf("Present(functions/): %v", err)
	}
	entries, err := os.ReadDir("../../../functions")
	if err != nil {
		t.Fatal(err)
	}
	var dirs int
	for _, e := range entries {
		if e.IsDir() {
			dirs++
		}
	}
	if len(specs) != dirs {
		t.Errorf("deployed %d functions, functions/ holds %d", len(specs), dirs)
	}
}

func TestCheckAssets(t *testing.T) {
	specs := functions.Catalog[:2]
	if err := functions.CheckAssets(cdktest.Assets(t, "api", "ingest"), specs); err != nil {
		t.Errorf("CheckAssets with both assets: %v", err)
	}
	err := functions.CheckAssets(cdktest.Assets(t, "api"), specs)
	if err == nil || !strings.Contains(err.Error(), "ingest") || !strings.Contains(err.Error(), "make build") {
		t.Errorf("CheckAssets without ingest: got %v, want an error naming ingest and make build", err)
	}
}

func build(t *testing.T, names ...string) (assertions.Template, functions.Functions) {
	t.Helper()
	stack := cdktest.Stack(t)
	var specs []functions.Spec
	for _, n := range names {
		s, ok := functions.Lookup(n)
		if !ok {
			t.Fatalf("no catalog entry %s", n)
		}
		specs = append(specs, s)
	}
	f := functions.NewFunctions(stack, "Functions", &functions.Props{
		Specs: specs, AssetDir: cdktest.Assets(t, names...),
		Key:         awskms.NewKey(stack, jsii.String("Key"), nil),
		Environment: map[string]string{functions.EnvResidency: "us"},
	})
	return cdktest.Template(t, stack), f
}

func TestFunctions_RuntimeArchitectureAndSettings(t *testing.T) {
	tmpl, f := build(t, "api", "export")
	for _, name := range []string{"api", "export"} {
		t.Run(name, func(t *testing.T) {
			spec, _ := functions.Lookup(name)
			fn := cdktest.Resources(t, tmpl)[cdktest.ID(t, f.ByName[name])]
			for k, want := range map[string]interface{}{
				"Runtime":       "provided.al2023",
				"Architectures": []interface{}{"arm64"},
				"Handler":       "bootstrap",
				"MemorySize":    float64(spec.Memory),
				"Timeout":       spec.Timeout.Seconds(),
				"Environment":   map[string]interface{}{"Variables": map[string]interface{}{"ALTO_RESIDENCY": "us"}},
			} {
				if got := fn.Properties[k]; !reflect.DeepEqual(got, want) {
					t.Errorf("%s: got %v, want %v", k, got, want)
				}
			}
		})
	}
}

func TestENC01_LogGroupsAndEnvironmentUseTheKey(t *testing.T) {
	tmpl, _ := build(t, "api")
	key := fmt.Sprint(map[string]interface{}{"Fn::GetAtt": []interface{}{cdktest.LogicalID(t, tmpl, "AWS::KMS::Key"), "Arn"}})
	for id, lg := range cdktest.OfType(t, tmpl, "AWS::Logs::LogGroup") {
		if got := fmt.Sprint(lg.Properties["KmsKeyId"]); got != key {
			t.Errorf("%s KmsKeyId: got %s, want %s", id, got, key)
		}
		if got := lg.Properties["RetentionInDays"]; got != float64(90) {
			t.Errorf("%s RetentionInDays: got %v, want 90", id, got)
		}
	}
	for id, fn := range cdktest.OfType(t, tmpl, "AWS::Lambda::Function") {
		if got := fmt.Sprint(fn.Properties["KmsKeyArn"]); got != key {
			t.Errorf("%s KmsKeyArn: got %s, want %s", id, got, key)
		}
		lc, _ := fn.Properties["LoggingConfig"].(map[string]interface{})
		if lc["LogGroup"] == nil || lc["LogFormat"] != "JSON" {
			t.Errorf("%s LoggingConfig: got %v, want its own log group, JSON", id, lc)
		}
	}
}

// A function's role holds no managed policy and may only write its own log
// group until the stack grants it more.
func TestFunctions_RolesStartWithTheirLogGroupOnly(t *testing.T) {
	tmpl, _ := build(t, "api", "ingest")
	for id, r := range cdktest.OfType(t, tmpl, "AWS::IAM::Role") {
		if r.Properties["ManagedPolicyArns"] != nil {
			t.Errorf("%s ManagedPolicyArns: got %v, want none", id, r.Properties["ManagedPolicyArns"])
		}
	}
	policies := cdktest.OfType(t, tmpl, "AWS::IAM::Policy")
	if len(policies) != 2 {
		t.Fatalf("policies: got %d, want 2", len(policies))
	}
	for id, p := range policies {
		for _, s := range p.Properties["PolicyDocument"].(map[string]interface{})["Statement"].([]interface{}) {
			st := s.(map[string]interface{})
			if got := fmt.Sprint(st["Action"]); got != "[logs:CreateLogStream logs:PutLogEvents]" {
				t.Errorf("%s actions: got %s, want logs:CreateLogStream and logs:PutLogEvents", id, got)
			}
			if !strings.Contains(fmt.Sprint(st["Resource"]), "Fn::GetAtt:[Functions") {
				t.Errorf("%s resource: got %v, want its log group", id, st["Resource"])
			}
		}
	}
}
