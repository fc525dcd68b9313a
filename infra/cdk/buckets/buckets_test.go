package buckets_test

import (
	"fmt"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"

	"github.com/alto/alto/infra/cdk/buckets"
	"github.com/alto/alto/infra/cdk/cdktest"
)

func TestMain(m *testing.M) { cdktest.Main(m) }

func build(t *testing.T, props buckets.Props) (assertions.Template, buckets.Buckets) {
	t.Helper()
	stack := cdktest.Stack(t)
	props.Key = awskms.NewKey(stack, jsii.String("Key"), nil)
	b := buckets.NewBuckets(stack, "Buckets", &props)
	return cdktest.Template(t, stack), b
}

func TestBuckets_FiveBucketsBlockPublicAccess(t *testing.T) {
	tmpl, _ := build(t, buckets.Props{})
	got := cdktest.OfType(t, tmpl, "AWS::S3::Bucket")
	if len(got) != 5 {
		t.Fatalf("buckets: got %d, want 5", len(got))
	}
	want := map[string]interface{}{
		"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true,
	}
	for id, b := range got {
		pab, _ := b.Properties["PublicAccessBlockConfiguration"].(map[string]interface{})
		for k, v := range want {
			if pab[k] != v {
				t.Errorf("%s PublicAccessBlockConfiguration.%s: got %v, want %v", id, k, pab[k], v)
			}
		}
		own, _ := b.Properties["OwnershipControls"].(map[string]interface{})
		if fmt.Sprint(own["Rules"]) != "[map[ObjectOwnership:BucketOwnerEnforced]]" {
			t.Errorf("%s OwnershipControls: got %v, want BucketOwnerEnforced", id, own["Rules"])
		}
		if b.DeletionPolicy != "Retain" {
			t.Errorf("%s DeletionPolicy: got %q, want Retain", id, b.DeletionPolicy)
		}
	}
}

func TestACC06_BucketsRefuseRequestsWithoutTLS12(t *testing.T) {
	tmpl, _ := build(t, buckets.Props{})
	bucketIDs := cdktest.OfType(t, tmpl, "AWS::S3::Bucket")
	policies := cdktest.OfType(t, tmpl, "AWS::S3::BucketPolicy")
	for id := range bucketIDs {
		t.Run(id, func(t *testing.T) {
			var ssl, tls bool
			for _, p := range policies {
				if fmt.Sprint(p.Properties["Bucket"]) != fmt.Sprint(map[string]interface{}{"Ref": id}) {
					continue
				}
				for _, s := range p.Properties["PolicyDocument"].(map[string]interface{})["Statement"].([]interface{}) {
					st := s.(map[string]interface{})
					if st["Effect"] != "Deny" || st["Action"] != "s3:*" {
						continue
					}
					cond := fmt.Sprint(st["Condition"])
					ssl = ssl || cond == "map[Bool:map[aws:SecureTransport:false]]"
					tls = tls || cond == "map[NumericLessThan:map[s3:TlsVersion:1.2]]"
				}
			}
			if !ssl {
				t.Errorf("bucket policy: no Deny on aws:SecureTransport=false")
			}
			if !tls {
				t.Errorf("bucket policy: no Deny on s3:TlsVersion < 1.2")
			}
		})
	}
}

func TestENC01_BucketsUseTheCustomerManagedKey(t *testing.T) {
	tmpl, _ := build(t, buckets.Props{})
	key := cdktest.LogicalID(t, tmpl, "AWS::KMS::Key")
	var kms, s3 int
	for id, b := range cdktest.OfType(t, tmpl, "AWS::S3::Bucket") {
		rule := b.Properties["BucketEncryption"].(map[string]interface{})["ServerSideEncryptionConfiguration"].([]interface{})[0].(map[string]interface{})
		sse := rule["ServerSideEncryptionByDefault"].(map[string]interface{})
		switch {
		case sse["SSEAlgorithm"] == "aws:kms" && fmt.Sprint(sse["KMSMasterKeyID"]) == fmt.Sprint(map[string]interface{}{"Fn::GetAtt": []interface{}{key, "Arn"}}):
			kms++
			if rule["BucketKeyEnabled"] != true {
				t.Errorf("%s: BucketKeyEnabled: got %v, want true", id, rule["BucketKeyEnabled"])
			}
		case sse["SSEAlgorithm"] == "AES256" && b.Properties["LoggingConfiguration"] == nil:
			s3++ // the access-log bucket: S3 logging targets accept only SSE-S3
		default:
			t.Errorf("%s: encryption %v, want the customer-managed key", id, sse)
		}
	}
	if kms != 4 || s3 != 1 {
		t.Errorf("buckets under the CMK: got %d (+%d access-log), want 4 (+1)", kms, s3)
	}
}

func TestRET01_ImportsExpireAfterOneDay(t *testing.T) {
	tmpl, b := build(t, buckets.Props{})
	r := cdktest.Resources(t, tmpl)[cdktest.ID(t, b.Imports)]
	if r.Properties["VersioningConfiguration"] != nil {
		t.Errorf("imports: versioning %v, want none (no copy may outlive the day)", r.Properties["VersioningConfiguration"])
	}
	if got := expiration(r); got != 1 {
		t.Errorf("imports: expiration got %d days, want 1", got)
	}
}

func TestRET06_NoncurrentVersionsExpireAfter14Days(t *testing.T) {
	tmpl, _ := build(t, buckets.Props{})
	for id, b := range cdktest.OfType(t, tmpl, "AWS::S3::Bucket") {
		var found bool
		for _, r := range rules(b) {
			if fmt.Sprint(r["NoncurrentVersionExpiration"]) == "map[NoncurrentDays:14]" && r["Status"] == "Enabled" {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no enabled rule expiring noncurrent versions after 14 days", id)
		}
	}
}

func TestAUD02_AuditDigestsAreWriteOnceInComplianceMode(t *testing.T) {
	for _, tc := range []struct {
		name string
		days int
		want int
	}{
		{"default one year", 0, 365},
		{"seven years", 2555, 2555},
		{"one day", 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmpl, _ := build(t, buckets.Props{AuditRetentionDays: tc.days})
			cdktest.Has(t, tmpl, "AWS::S3::Bucket", map[string]interface{}{
				"ObjectLockEnabled": true,
				"ObjectLockConfiguration": map[string]interface{}{
					"ObjectLockEnabled": "Enabled",
					"Rule":              map[string]interface{}{"DefaultRetention": map[string]interface{}{"Mode": "COMPLIANCE", "Days": tc.want}},
				},
				"VersioningConfiguration": map[string]interface{}{"Status": "Enabled"},
				"LifecycleConfiguration": map[string]interface{}{"Rules": assertions.Match_ArrayWith(&[]interface{}{
					assertions.Match_ObjectLike(&map[string]interface{}{"ExpirationInDays": tc.want}),
				})},
			})
		})
	}
}

func TestBuckets_AuditRetentionOutOfRangePanics(t *testing.T) {
	for _, days := range []int{-1, 2556} {
		t.Run(fmt.Sprint(days), func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("NewBuckets with %d audit days: no panic, want one", days)
				}
			}()
			stack := cdktest.Stack(t)
			buckets.NewBuckets(stack, "Buckets", &buckets.Props{Key: awskms.NewKey(stack, jsii.String("Key"), nil), AuditRetentionDays: days})
		})
	}
}

func TestBuckets_NotifyImportsInvokesTheFunction(t *testing.T) {
	stack := cdktest.Stack(t)
	b := buckets.NewBuckets(stack, "Buckets", &buckets.Props{Key: awskms.NewKey(stack, jsii.String("Key"), nil)})
	fn := awslambda.NewFunction(stack, jsii.String("Ingest"), &awslambda.FunctionProps{
		Runtime: awslambda.Runtime_PROVIDED_AL2023(), Handler: jsii.String("bootstrap"),
		Code: awslambda.Code_FromAsset(jsii.String(cdktest.Assets(t, "ingest")+"/ingest"), nil),
	})
	b.NotifyImports(fn)
	tmpl := cdktest.Template(t, stack)
	cdktest.Has(t, tmpl, "Custom::S3BucketNotifications", map[string]interface{}{
		"NotificationConfiguration": map[string]interface{}{"LambdaFunctionConfigurations": []interface{}{
			map[string]interface{}{"Events": []interface{}{"s3:ObjectCreated:*"}, "LambdaFunctionArn": assertions.Match_AnyValue()},
		}},
	})
}

func rules(b cdktest.Resource) []map[string]interface{} {
	lc, _ := b.Properties["LifecycleConfiguration"].(map[string]interface{})
	rs, _ := lc["Rules"].([]interface{})
	out := make([]map[string]interface{}, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.(map[string]interface{}))
	}
	return out
}

func expiration(b cdktest.Resource) int {
	for _, r := range rules(b) {
		if d, ok := r["ExpirationInDays"].(float64); ok && r["Status"] == "Enabled" {
			return int(d)
		}
	}
	return 0
}
