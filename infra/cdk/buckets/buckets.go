// Package buckets defines Alto's S3 buckets: imports (uploaded CSV files,
// gone after a day: RET-01), exports (short-lived subject and workspace
// exports), archive (the termination stage: RET-07), audit digests (S3
// Object Lock in compliance mode: AUD-02, RET-05) and the access-log bucket
// the others log to.
//
// Every bucket blocks public access, refuses requests without TLS 1.2 or
// later (enforceSSL and a minimum TLS version: ACC-06), disables ACLs and
// expires noncurrent object versions after 14 days (RET-06). Every bucket
// but the access-log bucket is encrypted with the customer-managed data key
// (ENC-01); S3 server access logging accepts only SSE-S3 on its target.
package buckets

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3notifications"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/alto/alto/infra/cdk/nag"
)

// Lifetimes enforced by S3 lifecycle rules. S3 runs expiry once a day, at
// midnight UTC after the object's age passes the rule: the bound holds to
// within a day, and the functions delete what they are done with sooner.
const (
	ImportsDays      = 1  // RET-01: uploaded import files
	ExportsDays      = 7  // finished exports, downloaded through short-lived links
	ArchiveDays      = 90 // RET-07: the archived stage after termination
	AccessLogDays    = 90 // RET-04: logs
	NoncurrentDays   = 14 // RET-06: object versions
	MinAuditDays     = 1
	MaxAuditDays     = 7 * 365 // RET-05: configurable up to 7 years
	DefaultAuditDays = 365     // RET-05: 1 year by default
)

// Props configures the buckets.
type Props struct {
	Key awskms.IKey // encrypts every bucket but the access-log bucket; required
	// AuditRetentionDays is the Object Lock retention of audit digests,
	// MinAuditDays..MaxAuditDays; zero means DefaultAuditDays.
	AuditRetentionDays int
}

// Buckets holds the buckets.
type Buckets struct {
	constructs.Construct
	Imports, Exports, Archive, AuditDigests awss3.Bucket
	AccessLogs                              awss3.Bucket
}

// NewBuckets defines the buckets under scope/id. It panics when
// props.AuditRetentionDays is out of range, as construct code does for a
// mistake in the app (the app validates its configuration first).
func NewBuckets(scope constructs.Construct, id string, props *Props) Buckets {
	audit := props.AuditRetentionDays
	if audit == 0 {
		audit = DefaultAuditDays
	}
	if audit < MinAuditDays || audit > MaxAuditDays {
		panic(fmt.Sprintf("buckets: audit retention %d days, want %d..%d", audit, MinAuditDays, MaxAuditDays))
	}
	c := constructs.NewConstruct(scope, jsii.String(id))
	// Server access logs are delivered under a bucket policy, not an ACL,
	// so that every bucket can disable ACLs.
	c.Node().SetContext(jsii.String("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"), true)

	logs := awss3.NewBucket(c, jsii.String("AccessLogs"), &awss3.BucketProps{
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:        jsii.Bool(true),
		MinimumTLSVersion: jsii.Number(1.2),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		LifecycleRules:    expire(AccessLogDays),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
	})

	b := Buckets{Construct: c, AccessLogs: logs}
	b.Imports = bucket(c, "Imports", props.Key, logs, false, expire(ImportsDays), nil)
	b.Exports = bucket(c, "Exports", props.Key, logs, false, expire(ExportsDays), nil)
	b.Archive = bucket(c, "Archive", props.Key, logs, true, expire(ArchiveDays), nil)
	b.AuditDigests = bucket(c, "AuditDigests", props.Key, logs, true, expire(audit),
		awss3.ObjectLockRetention_Compliance(awscdk.Duration_Days(jsii.Number(audit))))
	return b
}

// NotifyImports invokes fn for every object created in the imports bucket
// (ING-02). CDK applies the notification through its own custom resource,
// whose findings are suppressed here with their reasons.
func (b Buckets) NotifyImports(fn awslambda.IFunction) {
	b.Imports.AddEventNotification(awss3.EventType_OBJECT_CREATED, awss3notifications.NewLambdaDestination(fn))
	stack := awscdk.Stack_Of(b.Construct)
	for _, child := range *stack.Node().Children() {
		if !strings.HasPrefix(*child.Node().Id(), "BucketNotificationsHandler") {
			continue
		}
		role := child.Node().FindChild(jsii.String("Role"))
		nag.Suppress(role, nag.Rule{ID: "AwsSolutions-IAM4",
			AppliesTo: []string{"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"},
			Reason:    "CDK's bucket-notification custom resource writes its own logs with the AWS basic execution policy; it touches no data."})
		nag.Suppress(role.Node().FindChild(jsii.String("DefaultPolicy")), nag.Rule{ID: "AwsSolutions-IAM5",
			AppliesTo: []string{"Resource::*"},
			Reason:    "CDK's bucket-notification custom resource is granted s3:PutBucketNotification alone, which CDK scopes to * by design; it runs only at deployment."})
		nag.Suppress(child, nag.Rule{ID: "AwsSolutions-L1",
			Reason: "CDK's bucket-notification custom resource pins the Python runtime CDK ships and tests it with; it runs only at deployment and holds no data."})
		return
	}
	panic("buckets: CDK's bucket-notification handler was not found; its construct ID changed")
}

// expire is the lifecycle of a bucket whose objects live days days.
func expire(days int) *[]*awss3.LifecycleRule {
	return &[]*awss3.LifecycleRule{
		{
			Id:                                  jsii.String(fmt.Sprintf("expire-after-%d-days", days)),
			Enabled:                             jsii.Bool(true),
			Expiration:                          awscdk.Duration_Days(jsii.Number(days)),
			NoncurrentVersionExpiration:         awscdk.Duration_Days(jsii.Number(NoncurrentDays)),
			AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(1)),
		},
		{
			Id:                        jsii.String("remove-expired-delete-markers"),
			Enabled:                   jsii.Bool(true),
			ExpiredObjectDeleteMarker: jsii.Bool(true),
		},
	}
}

func bucket(scope constructs.Construct, id string, key awskms.IKey, logs awss3.IBucket, versioned bool,
	lifecycle *[]*awss3.LifecycleRule, lock awss3.ObjectLockRetention) awss3.Bucket {
	props := &awss3.BucketProps{
		Encryption:             awss3.BucketEncryption_KMS,
		EncryptionKey:          key,
		BucketKeyEnabled:       jsii.Bool(true),
		BlockPublicAccess:      awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:             jsii.Bool(true),
		MinimumTLSVersion:      jsii.Number(1.2),
		ObjectOwnership:        awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		Versioned:              jsii.Bool(versioned),
		LifecycleRules:         lifecycle,
		ServerAccessLogsBucket: logs,
		ServerAccessLogsPrefix: jsii.String(strings.ToLower(id) + "/"),
		RemovalPolicy:          awscdk.RemovalPolicy_RETAIN,
	}
	if lock != nil {
		props.ObjectLockEnabled = jsii.Bool(true)
		props.ObjectLockDefaultRetention = lock
	}
	return awss3.NewBucket(scope, jsii.String(id), props)
}
