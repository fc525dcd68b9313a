package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"

	"github.com/alto/alto/infra/cdk/cdktest"
	"github.com/alto/alto/infra/cdk/functions"
	"github.com/alto/alto/shared/campaign"
	"github.com/alto/alto/shared/dynamo"
	"github.com/alto/alto/shared/ingest"
	"github.com/alto/alto/shared/jobs"
	"github.com/alto/alto/shared/stack"
)

func TestMain(m *testing.M) { cdktest.Main(m) }

// everyFunction names every function of the catalog: the stack as it will
// be once they all exist.
func everyFunction() []string {
	var out []string
	for _, s := range functions.Catalog {
		out = append(out, s.Name)
	}
	return out
}

// todaysFunctions names the functions of the repository's functions/ folder.
func todaysFunctions(t *testing.T) []string {
	t.Helper()
	specs, err := functions.Present("../../functions")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range specs {
		out = append(out, s.Name)
	}
	return out
}

// deployment is one synthesized app.
type deployment struct {
	stack  AltoStack
	tmpl   assertions.Template
	outdir string
}

// synth synthesizes the stack with context ctx and the named functions
// (placeholder assets), as run does, into a temporary folder.
func synth(t *testing.T, ctx map[string]interface{}, notifyImports bool, names ...string) deployment {
	t.Helper()
	outdir := t.TempDir()
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outdir), PostCliContext: &ctx})
	cfg, err := ConfigFrom(func(key string) interface{} { return app.Node().TryGetContext(jsii.String(key)) })
	if err != nil {
		t.Fatalf("ConfigFrom(%v): %v", ctx, err)
	}
	cfg.AssetDir = cdktest.Assets(t, names...)
	var specs []functions.Spec
	for _, n := range names {
		s, _ := functions.Lookup(n)
		specs = append(specs, s)
	}
	s := NewAltoStack(app, cfg.StackName(), &AltoStackProps{Config: cfg, Specs: specs, NotifyImports: notifyImports})
	app.Synth(nil)
	return deployment{stack: s, tmpl: cdktest.Template(t, s.Stack), outdir: outdir}
}

func TestOPS01_AppSynthesizesOfflineWithoutCredentials(t *testing.T) {
	for _, v := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"} {
		t.Setenv(v, "")
	}
	fnDir, names := t.TempDir(), todaysFunctions(t)
	for _, n := range names {
		if err := os.Mkdir(filepath.Join(fnDir, n), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	outdir := t.TempDir()
	ctx := map[string]interface{}{"alto:functions": fnDir, "alto:assets": cdktest.Assets(t, names...)}
	if err := run(outdir, ctx); err != nil {
		t.Fatalf("run: %v", err)
	}
	raw, err := os.ReadFile(filepath.Join(outdir, "manifest.json"))
	if err != nil {
		t.Fatalf("manifest: %v", err)
	}
	var manifest struct {
		Missing   []interface{} `json:"missing"`
		Artifacts map[string]struct {
			Environment string `json:"environment"`
		} `json:"artifacts"`
	}
	if err := json.Unmarshal(raw, &manifest); err != nil {
		t.Fatal(err)
	}
	if len(manifest.Missing) != 0 {
		t.Errorf("manifest: %d context lookups need an AWS account, want none: %v", len(manifest.Missing), manifest.Missing)
	}
	if got := manifest.Artifacts["Alto-us-east-1"].Environment; got != "aws://unknown-account/us-east-1" {
		t.Errorf("environment: got %q, want aws://unknown-account/us-east-1", got)
	}
	if _, err := os.Stat(filepath.Join(outdir, "Alto-us-east-1.template.json")); err != nil {
		t.Errorf("template: %v", err)
	}
}

func TestRun_RefusesBadInput(t *testing.T) {
	fnDir := t.TempDir()
	if err := os.Mkdir(filepath.Join(fnDir, "api"), 0o755); err != nil {
		t.Fatal(err)
	}
	unknown := t.TempDir()
	for _, d := range []string{"api", "mailer"} {
		if err := os.Mkdir(filepath.Join(unknown, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		ctx  map[string]interface{}
		want string
	}{
		{"missing assets", map[string]interface{}{"alto:functions": fnDir, "alto:assets": t.TempDir()}, "make build"},
		{"function not in the catalog", map[string]interface{}{"alto:functions": unknown, "alto:assets": cdktest.Assets(t, "api")}, "mailer"},
		{"region outside US and EU", map[string]interface{}{"alto:region": "ap-southeast-2"}, "alto:region"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(t.TempDir(), tc.ctx)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("run: got %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}

// The AwsSolutions pack of cdk-nag passes with no unsuppressed finding, on
// the stack as it deploys today and as it will once every planned function
// exists (so that none of them brings an unreviewed finding).
func TestOPS01_AwsSolutionsChecksPass(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node: %v (cdk-nag runs on Node)", err)
	}
	if _, err := os.Stat("nag/node_modules/cdk-nag"); err != nil {
		t.Fatalf("cdk-nag is not installed: run `npm ci --prefix infra/cdk/nag` (make test does): %v", err)
	}
	for _, tc := range []struct {
		name   string
		names  []string
		notify bool
		ctx    map[string]interface{}
	}{
		{"functions today", todaysFunctions(t), ingestTakesUploads, nil},
		{"every planned function", everyFunction(), true, nil},
		{"with an e-mail sender", everyFunction(), true, map[string]interface{}{ctxMailFrom: "alto@acme.example"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := synth(t, tc.ctx, tc.notify, tc.names...)
			out, err := exec.Command(node, "nag/nag.js", d.outdir).CombinedOutput()
			if err != nil {
				t.Errorf("nag: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), "0 unsuppressed findings") {
				t.Errorf("nag: want 0 unsuppressed findings, got:\n%s", out)
			}
			for _, line := range strings.Split(string(out), "\n") {
				if strings.Contains(line, `"Suppressed",""`) {
					t.Errorf("suppression without a reason: %s", line)
				}
			}
		})
	}
}

// Must show 2: no resource without encryption, no bucket without Block
// Public Access and SSL enforcement, no queue without a dead-letter queue,
// no *FullAccess policy and no Action "*".
func TestOPS01_TemplateFollowsBestPractice(t *testing.T) {
	d := synth(t, nil, true, everyFunction()...)
	res := cdktest.Resources(t, d.tmpl)
	keys := map[string]bool{}
	for id, r := range res {
		if r.Type == "AWS::KMS::Key" {
			keys[id] = true
		}
	}
	cmk := func(v interface{}) bool {
		m, _ := v.(map[string]interface{})
		ga, _ := m["Fn::GetAtt"].([]interface{})
		return len(ga) == 2 && keys[fmt.Sprint(ga[0])] && ga[1] == "Arn"
	}
	dlqs := map[string]bool{}
	for _, r := range res {
		if rp, ok := r.Properties["RedrivePolicy"].(map[string]interface{}); ok {
			ga := rp["deadLetterTargetArn"].(map[string]interface{})["Fn::GetAtt"].([]interface{})
			dlqs[fmt.Sprint(ga[0])] = true
		}
	}
	ssl := secureTransportDenied(res)

	ids := make([]string, 0, len(res))
	for id := range res {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		r := res[id]
		p := r.Properties
		switch r.Type {
		case "AWS::DynamoDB::Table":
			if sse, _ := p["SSESpecification"].(map[string]interface{}); sse["SSEType"] != "KMS" || !cmk(sse["KMSMasterKeyId"]) {
				t.Errorf("%s: table not encrypted with an Alto CMK: %v", id, sse)
			}
		case "AWS::S3::Bucket":
			sse := p["BucketEncryption"].(map[string]interface{})["ServerSideEncryptionConfiguration"].([]interface{})[0].(map[string]interface{})["ServerSideEncryptionByDefault"].(map[string]interface{})
			accessLog := p["LoggingConfiguration"] == nil && sse["SSEAlgorithm"] == "AES256"
			if !accessLog && !cmk(sse["KMSMasterKeyID"]) {
				t.Errorf("%s: bucket not encrypted with an Alto CMK: %v", id, sse)
			}
			pab, _ := p["PublicAccessBlockConfiguration"].(map[string]interface{})
			for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
				if pab[k] != true {
					t.Errorf("%s: %s is %v, want true", id, k, pab[k])
				}
			}
			if !ssl[id] {
				t.Errorf("%s: no policy denies requests without TLS", id)
			}
		case "AWS::SQS::Queue":
			if !cmk(p["KmsMasterKeyId"]) {
				t.Errorf("%s: queue not encrypted with an Alto CMK", id)
			}
			if p["RedrivePolicy"] == nil && !dlqs[id] {
				t.Errorf("%s: queue without a dead-letter queue (and not one itself)", id)
			}
			if !ssl[id] {
				t.Errorf("%s: no policy denies requests without TLS", id)
			}
		case "AWS::SNS::Topic":
			if !cmk(p["KmsMasterKeyId"]) {
				t.Errorf("%s: topic not encrypted with an Alto CMK", id)
			}
			if !ssl[id] {
				t.Errorf("%s: no policy denies requests without TLS", id)
			}
		case "AWS::Logs::LogGroup":
			if !cmk(p["KmsKeyId"]) {
				t.Errorf("%s: log group not encrypted with an Alto CMK", id)
			}
		case "AWS::Lambda::Function":
			// CDK's bucket-notification handler is CDK's own code and holds no data.
			if p["Runtime"] == "provided.al2023" && !cmk(p["KmsKeyArn"]) {
				t.Errorf("%s: function environment not encrypted with an Alto CMK", id)
			}
		case "AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy":
			if strings.Contains(fmt.Sprint(p["ManagedPolicyArns"]), "FullAccess") {
				t.Errorf("%s: managed policy %v", id, p["ManagedPolicyArns"])
			}
			docs := []interface{}{p["PolicyDocument"]}
			if pols, ok := p["Policies"].([]interface{}); ok {
				for _, pol := range pols {
					docs = append(docs, pol.(map[string]interface{})["PolicyDocument"])
				}
			}
			for _, doc := range docs {
				for _, st := range statements(doc) {
					for _, a := range strs(st["Action"]) {
						if a == "*" || (strings.HasSuffix(a, ":*") && fmt.Sprint(st["Resource"]) == "*") {
							t.Errorf("%s: action %q on %v", id, a, st["Resource"])
						}
					}
				}
			}
		}
	}
}

func TestOPS02_RegionFromContext(t *testing.T) {
	for _, tc := range []struct {
		name              string
		ctx               map[string]interface{}
		region, residency string
	}{
		{"default is the US", nil, "us-east-1", "us"},
		{"EU", map[string]interface{}{"alto:region": "eu-central-1"}, "eu-central-1", "eu"},
		{"another US region", map[string]interface{}{"alto:region": "us-west-2"}, "us-west-2", "us"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := synth(t, tc.ctx, false, "api")
			if got := *d.stack.Region(); got != tc.region {
				t.Errorf("region: got %s, want %s", got, tc.region)
			}
			if got, want := *d.stack.StackName(), "Alto-"+tc.region; got != want {
				t.Errorf("stack name: got %s, want %s", got, want)
			}
			cdktest.Has(t, d.tmpl, "AWS::Lambda::Function", map[string]interface{}{
				"Environment": map[string]interface{}{"Variables": assertions.Match_ObjectLike(&map[string]interface{}{"ALTO_RESIDENCY": tc.residency})},
			})
			cdktest.Has(t, d.tmpl, "AWS::DynamoDB::Table", map[string]interface{}{
				"Tags": []interface{}{map[string]interface{}{"Key": "alto:residency", "Value": tc.residency}},
			})
			// CloudWatch Logs of this region only may use the operations key.
			cdktest.Has(t, d.tmpl, "AWS::KMS::Key", map[string]interface{}{
				"KeyPolicy": assertions.Match_ObjectLike(&map[string]interface{}{"Statement": assertions.Match_ArrayWith(&[]interface{}{
					assertions.Match_ObjectLike(&map[string]interface{}{"Principal": map[string]interface{}{"Service": "logs." + tc.region + ".amazonaws.com"}}),
				})}),
			})
		})
	}
	for _, bad := range []string{"ap-southeast-2", "us-gov-west-1", "cn-north-1", "eu-central", ""} {
		t.Run("refuses "+bad, func(t *testing.T) {
			_, err := ConfigFrom(func(key string) interface{} {
				if key == ctxRegion {
					return bad
				}
				return nil
			})
			if err == nil {
				t.Errorf("ConfigFrom(region %q): got nil error, want one", bad)
			}
		})
	}
}

// An EU stack deploys beside a US one: both synthesize in one app, and no
// resource of either carries a fixed physical name that the other would
// collide with.
func TestOPS02_EUStackBesideUSStack(t *testing.T) {
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	assets := cdktest.Assets(t, "api")
	spec, _ := functions.Lookup("api")
	for _, region := range []string{"us-east-1", "eu-west-1"} {
		cfg, err := ConfigFrom(func(key string) interface{} {
			if key == ctxRegion {
				return region
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		cfg.AssetDir = assets
		NewAltoStack(app, cfg.StackName(), &AltoStackProps{Config: cfg, Specs: []functions.Spec{spec}})
	}
	asm := app.Synth(nil)
	if got := len(*asm.Stacks()); got != 2 {
		t.Fatalf("stacks: got %d, want 2", got)
	}
	named := map[string]string{
		"AWS::S3::Bucket": "BucketName", "AWS::DynamoDB::Table": "TableName", "AWS::SQS::Queue": "QueueName",
		"AWS::Lambda::Function": "FunctionName", "AWS::IAM::Role": "RoleName", "AWS::SNS::Topic": "TopicName",
		"AWS::Logs::LogGroup": "LogGroupName", "AWS::KMS::Alias": "AliasName", "AWS::WAFv2::WebACL": "Name",
		"AWS::Events::Rule": "Name", "AWS::CloudWatch::Alarm": "AlarmName",
	}
	for _, st := range *asm.Stacks() {
		doc, ok := st.Template().(map[string]interface{})
		if !ok {
			t.Fatalf("%s: template is %T", *st.StackName(), st.Template())
		}
		tmpl := assertions.Template_FromJSON(&doc, nil)
		for id, r := range cdktest.Resources(t, tmpl) {
			if prop, ok := named[r.Type]; ok && r.Properties[prop] != nil {
				t.Errorf("%s: %s has a fixed %s %v", *st.StackName(), id, prop, r.Properties[prop])
			}
		}
	}
}

func TestENC01_EveryKeyRotatesEvery90Days(t *testing.T) {
	d := synth(t, nil, true, everyFunction()...)
	got := cdktest.OfType(t, d.tmpl, "AWS::KMS::Key")
	if len(got) != 3 {
		t.Errorf("keys: got %d, want 3", len(got))
	}
	for id, k := range got {
		if k.Properties["EnableKeyRotation"] != true || k.Properties["RotationPeriodInDays"] != float64(90) {
			t.Errorf("%s: rotation %v every %v days, want on, 90", id, k.Properties["EnableKeyRotation"], k.Properties["RotationPeriodInDays"])
		}
	}
}

func TestRET01_IngressQueueAndImportsForgetWithinADay(t *testing.T) {
	d := synth(t, nil, false, todaysFunctions(t)...)
	res := cdktest.Resources(t, d.tmpl)
	q := d.stack.Queues[ingest.Queue]
	for _, c := range []struct {
		name string
		id   string
	}{{"ingress", cdktest.ID(t, q.Queue)}, {"ingress dead letters", cdktest.ID(t, q.DeadLetter)}} {
		if got := res[c.id].Properties["MessageRetentionPeriod"]; got != float64(24*3600) {
			t.Errorf("%s retention: got %v s, want 86400", c.name, got)
		}
	}
	imports := res[cdktest.ID(t, d.stack.Buckets.Imports)]
	cdktest.Has(t, d.tmpl, "AWS::S3::Bucket", map[string]interface{}{
		"LifecycleConfiguration": map[string]interface{}{"Rules": assertions.Match_ArrayWith(&[]interface{}{
			assertions.Match_ObjectLike(&map[string]interface{}{"ExpirationInDays": 1, "Status": "Enabled"}),
		})},
	})
	if rules := fmt.Sprint(imports.Properties["LifecycleConfiguration"]); !strings.Contains(rules, "ExpirationInDays:1 ") {
		t.Errorf("imports lifecycle: got %s, want expiry after 1 day", rules)
	}
}

func TestRET02_ProcessingDataExpiresWithin30Days(t *testing.T) {
	d := synth(t, nil, false, todaysFunctions(t)...)
	res := cdktest.Resources(t, d.tmpl)
	for _, name := range []string{campaign.Queue, jobs.Queue} {
		q := d.stack.Queues[name]
		for _, id := range []string{cdktest.ID(t, q.Queue), cdktest.ID(t, q.DeadLetter)} {
			if got, _ := res[id].Properties["MessageRetentionPeriod"].(float64); got == 0 || got > 30*86400 {
				t.Errorf("%s (%s) retention: got %v s, want set and at most 30 days", name, id, got)
			}
		}
	}
	// Drafts carry their expiry in the TTL attribute, which DynamoDB enforces.
	cdktest.Has(t, d.tmpl, "AWS::DynamoDB::Table", map[string]interface{}{
		"TimeToLiveSpecification": map[string]interface{}{"AttributeName": "ttl", "Enabled": true},
	})
	exports := fmt.Sprint(res[cdktest.ID(t, d.stack.Buckets.Exports)].Properties["LifecycleConfiguration"])
	if !strings.Contains(exports, "ExpirationInDays:7 ") {
		t.Errorf("exports lifecycle: got %s, want expiry after 7 days", exports)
	}
}

func TestRET06_BackupsAndObjectVersionsLast14Days(t *testing.T) {
	d := synth(t, nil, false, "api")
	cdktest.Has(t, d.tmpl, "AWS::DynamoDB::Table", map[string]interface{}{
		"PointInTimeRecoverySpecification": map[string]interface{}{"PointInTimeRecoveryEnabled": true, "RecoveryPeriodInDays": 14},
	})
	for id, b := range cdktest.OfType(t, d.tmpl, "AWS::S3::Bucket") {
		if rules := fmt.Sprint(b.Properties["LifecycleConfiguration"]); !strings.Contains(rules, "NoncurrentVersionExpiration:map[NoncurrentDays:14]") {
			t.Errorf("%s lifecycle: got %s, want noncurrent versions expiring after 14 days", id, rules)
		}
	}
}

func TestACC06_TLSEverywhere(t *testing.T) {
	cert := "arn:aws:acm:eu-west-1:111111111111:certificate/0000"
	d := synth(t, map[string]interface{}{"alto:region": "eu-west-1", "alto:domain": "api.example.eu", "alto:certificateArn": cert}, false, "api")
	cdktest.Has(t, d.tmpl, "AWS::ApiGateway::DomainName", map[string]interface{}{
		"DomainName": "api.example.eu", "SecurityPolicy": "TLS_1_2", "RegionalCertificateArn": cert,
	})
	cdktest.Has(t, d.tmpl, "AWS::ApiGateway::RestApi", map[string]interface{}{"DisableExecuteApiEndpoint": true})
	cdktest.Has(t, d.tmpl, "AWS::Lambda::Function", map[string]interface{}{
		"Environment": map[string]interface{}{"Variables": assertions.Match_ObjectLike(&map[string]interface{}{"ALTO_BASE_URL": "https://api.example.eu"})},
	})
	res := cdktest.Resources(t, d.tmpl)
	ssl := secureTransportDenied(res)
	for id, r := range res {
		switch r.Type {
		case "AWS::S3::Bucket", "AWS::SQS::Queue", "AWS::SNS::Topic":
			if !ssl[id] {
				t.Errorf("%s (%s): no policy denies requests without TLS", id, r.Type)
			}
		}
	}
	if _, err := ConfigFrom(func(key string) interface{} {
		return map[string]interface{}{ctxDomain: "api.example.eu"}[key]
	}); err == nil {
		t.Errorf("ConfigFrom with a domain and no certificate: got nil error, want one")
	}
}

func TestStack_FunctionsLearnTheIdentityProvider(t *testing.T) {
	d := synth(t, map[string]interface{}{ctxIssuer: "https://idp.example.com/", ctxAudience: "alto", ctxJWKSURL: "https://idp.example.com/jwks"}, false, "api")
	cdktest.Has(t, d.tmpl, "AWS::Lambda::Function", map[string]interface{}{
		"Environment": map[string]interface{}{"Variables": assertions.Match_ObjectLike(&map[string]interface{}{
			"ALTO_ISSUER": "https://idp.example.com/", "ALTO_AUDIENCE": "alto", "ALTO_JWKS_URL": "https://idp.example.com/jwks",
		})},
	})
}

func TestACC04_StageThrottlingAndWAFGuardTheAPI(t *testing.T) {
	d := synth(t, map[string]interface{}{"alto:rateLimit": "50", "alto:burstLimit": 80.0, "alto:wafRateLimit": "500"}, false, "api")
	cdktest.Has(t, d.tmpl, "AWS::ApiGateway::Stage", map[string]interface{}{
		"MethodSettings": assertions.Match_ArrayWith(&[]interface{}{assertions.Match_ObjectLike(&map[string]interface{}{
			"HttpMethod": "*", "ResourcePath": "/*", "ThrottlingRateLimit": 50, "ThrottlingBurstLimit": 80,
		})}),
	})
	cdktest.Has(t, d.tmpl, "AWS::WAFv2::WebACL", map[string]interface{}{
		"Rules": assertions.Match_ArrayWith(&[]interface{}{assertions.Match_ObjectLike(&map[string]interface{}{
			"Statement": map[string]interface{}{"RateBasedStatement": assertions.Match_ObjectLike(&map[string]interface{}{"Limit": 500, "AggregateKeyType": "IP"})},
		})}),
	})
	cdktest.Count(t, d.tmpl, "AWS::WAFv2::WebACLAssociation", 1)
}

func TestOPS04_AlarmOnEveryDeadLetterQueueAndFunction(t *testing.T) {
	for _, tc := range []struct {
		name  string
		names []string
	}{{"functions today", todaysFunctions(t)}, {"every planned function", everyFunction()}} {
		t.Run(tc.name, func(t *testing.T) {
			d := synth(t, nil, false, tc.names...)
			res := cdktest.Resources(t, d.tmpl)
			topic := fmt.Sprint([]interface{}{map[string]interface{}{"Ref": cdktest.ID(t, d.stack.Alarms.Topic)}})
			watched := map[string]bool{}
			for _, r := range res {
				if r.Type != "AWS::CloudWatch::Alarm" {
					continue
				}
				if got := fmt.Sprint(r.Properties["AlarmActions"]); got != topic {
					t.Errorf("alarm %v: actions %s, want the alarm topic", r.Properties["AlarmDescription"], got)
				}
				for _, dim := range r.Properties["Dimensions"].([]interface{}) {
					watched[fmt.Sprint(r.Properties["MetricName"], dim.(map[string]interface{})["Value"])] = true
				}
			}
			for name, q := range d.stack.Queues {
				key := fmt.Sprint("ApproximateNumberOfMessagesVisible", map[string]interface{}{"Fn::GetAtt": []interface{}{cdktest.ID(t, q.DeadLetter), "QueueName"}})
				if !watched[key] {
					t.Errorf("dead-letter queue of %s: no alarm", name)
				}
			}
			if len(d.stack.Queues) != 3 {
				t.Errorf("queues: got %d, want 3 (ingress, personalization, jobs)", len(d.stack.Queues))
			}
			for name, fn := range d.stack.Functions.ByName {
				for _, metric := range []string{"Errors", "Throttles"} {
					if !watched[fmt.Sprint(metric, map[string]interface{}{"Ref": cdktest.ID(t, fn)})] {
						t.Errorf("function %s: no %s alarm", name, metric)
					}
				}
			}
			if got, want := len(d.stack.Functions.ByName), len(tc.names); got != want {
				t.Errorf("functions: got %d, want %d", got, want)
			}
		})
	}
}

func TestING05_QueueConsumersReportBatchFailuresWithRoomToRetry(t *testing.T) {
	d := synth(t, nil, false, everyFunction()...)
	res := cdktest.Resources(t, d.tmpl)
	mappings := cdktest.OfType(t, d.tmpl, "AWS::Lambda::EventSourceMapping")
	if len(mappings) != 3 {
		t.Errorf("event source mappings: got %d, want 3", len(mappings))
	}
	for id, m := range mappings {
		if got := fmt.Sprint(m.Properties["FunctionResponseTypes"]); got != "[ReportBatchItemFailures]" {
			t.Errorf("%s FunctionResponseTypes: got %s, want [ReportBatchItemFailures]", id, got)
		}
		queue := res[m.Properties["EventSourceArn"].(map[string]interface{})["Fn::GetAtt"].([]interface{})[0].(string)]
		fn := res[m.Properties["FunctionName"].(map[string]interface{})["Ref"].(string)]
		vis, _ := queue.Properties["VisibilityTimeout"].(float64)
		timeout, _ := fn.Properties["Timeout"].(float64)
		if timeout == 0 || vis < 6*timeout {
			t.Errorf("%s: visibility %v s, want at least 6 × the consumer's %v s", id, vis, timeout)
		}
	}
}

func TestStack_WaitingSaysWhatWaitsForWhichFunction(t *testing.T) {
	d := synth(t, nil, false, "api", "ingest", "personalize", "incident")
	want := []string{
		"the jobs queue (and its dead-letter queue and alarm) exists; its consumer waits for functions/export",
		"the imports bucket's ObjectCreated notification waits for functions/ingest to handle S3 events (ING-02)",
		"the sweep schedule (every 60 min) waits for functions/purge",
		"functions/export does not exist yet: no Lambda function, role or log group for it",
		"functions/purge does not exist yet: no Lambda function, role or log group for it",
	}
	if !reflect.DeepEqual(d.stack.Waiting, want) {
		t.Errorf("Waiting:\ngot  %q\nwant %q", d.stack.Waiting, want)
	}
	cdktest.Count(t, d.tmpl, "AWS::Events::Rule", 1) // sla → incident
	cdktest.Count(t, d.tmpl, "Custom::S3BucketNotifications", 0)

	all := synth(t, nil, true, everyFunction()...)
	if len(all.stack.Waiting) != 0 {
		t.Errorf("Waiting with every function: got %q, want none", all.stack.Waiting)
	}
	cdktest.Count(t, all.tmpl, "AWS::Events::Rule", 2)
	cdktest.Count(t, all.tmpl, "Custom::S3BucketNotifications", 1)
}

// Each function may do what its job needs and no more.
func TestStack_FunctionsGetLeastPrivilege(t *testing.T) {
	d := synth(t, nil, true, everyFunction()...)
	res := cdktest.Resources(t, d.tmpl)
	actions := map[string]string{}
	for name, fn := range d.stack.Functions.ByName {
		pol := res[cdktest.ID(t, fn.Role().Node().FindChild(jsii.String("DefaultPolicy")))]
		actions[name] = fmt.Sprint(statements(pol.Properties["PolicyDocument"]))
	}
	for _, tc := range []struct {
		fn     string
		may    []string
		mayNot []string
	}{
		{"api", []string{"sqs:SendMessage", "s3:PutObject", "dynamodb:PutItem"}, []string{"sqs:ReceiveMessage", "s3:DeleteObject", "sns:Publish", "ses:"}},
		{"ingest", []string{"sqs:ReceiveMessage", "sqs:SendMessage"}, []string{"sns:Publish", "s3:", "ses:"}},
		{"personalize", []string{"sqs:ReceiveMessage"}, []string{"s3:", "sns:Publish", "sqs:SendMessage", "ses:"}},
		{"export", []string{"sqs:ReceiveMessage", "s3:PutObject", "s3:DeleteObject*"}, []string{"sns:Publish", "ses:"}},
		{"purge", []string{"sns:Publish", "s3:DeleteObject*", "s3:ListBucket"}, []string{"sqs:ReceiveMessage", "ses:"}},
		{"incident", []string{"sns:Publish"}, []string{"s3:", "sqs:", "ses:"}},
	} {
		t.Run(tc.fn, func(t *testing.T) {
			got := actions[tc.fn]
			for _, a := range tc.may {
				if !strings.Contains(got, a) {
					t.Errorf("%s may not %s; want it to", tc.fn, a)
				}
			}
			for _, a := range tc.mayNot {
				if strings.Contains(got, a) {
					t.Errorf("%s may %s; want it not to", tc.fn, a)
				}
			}
		})
	}
}

// secureTransportDenied returns the resources (buckets, queues, topics) that
// a resource policy denies to requests without TLS.
func secureTransportDenied(res map[string]cdktest.Resource) map[string]bool {
	out := map[string]bool{}
	for _, r := range res {
		var targets []interface{}
		switch r.Type {
		case "AWS::S3::BucketPolicy":
			targets = []interface{}{r.Properties["Bucket"]}
		case "AWS::SQS::QueuePolicy":
			targets, _ = r.Properties["Queues"].([]interface{})
		case "AWS::SNS::TopicPolicy":
			targets, _ = r.Properties["Topics"].([]interface{})
		default:
			continue
		}
		denies := false
		for _, st := range statements(r.Properties["PolicyDocument"]) {
			if st["Effect"] == "Deny" && fmt.Sprint(st["Condition"]) == "map[Bool:map[aws:SecureTransport:false]]" {
				denies = true
			}
		}
		if !denies {
			continue
		}
		for _, tg := range targets {
			if ref, ok := tg.(map[string]interface{})["Ref"].(string); ok {
				out[ref] = true
			}
		}
	}
	return out
}

func statements(doc interface{}) []map[string]interface{} {
	d, _ := doc.(map[string]interface{})
	list, _ := d["Statement"].([]interface{})
	out := make([]map[string]interface{}, 0, len(list))
	for _, s := range list {
		out = append(out, s.(map[string]interface{}))
	}
	return out
}

func strs(v interface{}) []string {
	switch a := v.(type) {
	case string:
		return []string{a}
	case []interface{}:
		out := make([]string, 0, len(a))
		for _, x := range a {
			out = append(out, fmt.Sprint(x))
		}
		return out
	}
	return nil
}

// policyOf returns the statements of fn's role policy, as text.
func policyOf(t *testing.T, res map[string]cdktest.Resource, fn awslambda.Function) string {
	t.Helper()
	pol := res[cdktest.ID(t, fn.Role().Node().FindChild(jsii.String("DefaultPolicy")))]
	return fmt.Sprint(statements(pol.Properties["PolicyDocument"]))
}

// With alto:mailFrom, the functions that send e-mail may send it from that
// sender (its address or its domain identity) and learn it; no other
// function may send e-mail.
func TestStack_MailSenderGoesToTheFunctionsThatMail(t *testing.T) {
	d := synth(t, map[string]interface{}{ctxMailFrom: "alto@acme.example"}, true, everyFunction()...)
	res := cdktest.Resources(t, d.tmpl)
	for name, fn := range d.stack.Functions.ByName {
		got := policyOf(t, res, fn)
		mails := name == "api" || name == "incident" || name == "purge"
		if has := strings.Contains(got, "ses:SendEmail"); has != mails {
			t.Errorf("%s may send e-mail: %v, want %v", name, has, mails)
		}
		if mails && (!strings.Contains(got, "identity/alto@acme.example") || !strings.Contains(got, "identity/acme.example")) {
			t.Errorf("%s may send from %s, want the sender's address and domain identities", name, got)
		}
	}
	cdktest.Has(t, d.tmpl, "AWS::Lambda::Function", map[string]interface{}{
		"Environment": map[string]interface{}{"Variables": assertions.Match_ObjectLike(&map[string]interface{}{"ALTO_MAIL_FROM": "alto@acme.example"})},
	})
}

// Every function gets every variable the AWS stack reads (stack.AWSFromEnv):
// the CDK app and the functions agree on the contract.
func TestStack_FunctionsGetWhatTheAWSStackReads(t *testing.T) {
	d := synth(t, map[string]interface{}{ctxMailFrom: "alto@acme.example"}, true, everyFunction()...)
	res := cdktest.Resources(t, d.tmpl)
	for name, fn := range d.stack.Functions.ByName {
		r := res[cdktest.ID(t, fn.Node().DefaultChild())]
		env, _ := r.Properties["Environment"].(map[string]interface{})
		vars, _ := env["Variables"].(map[string]interface{})
		got, err := stack.AWSFromEnv(func(k string) string {
			if v, ok := vars[k]; ok {
				return fmt.Sprint(v) // a literal, or a reference to a resource
			}
			return ""
		})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got.TableIndex != dynamo.IndexName || got.MailFrom != "alto@acme.example" {
			t.Errorf("%s: table index %q and sender %q, want %q and the configured one", name, got.TableIndex, got.MailFrom, dynamo.IndexName)
		}
	}
}
