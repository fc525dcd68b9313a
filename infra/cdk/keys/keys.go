// Package keys defines Alto's customer-managed KMS keys (ENC-01): one for
// the data at rest (DynamoDB, S3, SQS), one that wraps the per-tenant
// keysets (ENC-02), and one for operations (CloudWatch Logs, the alarm
// topic). Each rotates every 90 days.
//
// Key policies name their actions one by one: the account may administer
// each key and delegate its use through IAM (which the other constructs do
// only with Grant* calls); no statement allows "kms:*". Service principals
// get what they need on the operations key only.
package keys

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// RotationDays is the automatic rotation period of every key (ENC-01).
const RotationDays = 90

// Props configures the keys. The zero value is usable.
type Props struct {
	// RemovalPolicy applies to every key; zero means RETAIN, so that deleting
	// the stack never makes backups and retained data unreadable by accident.
	RemovalPolicy awscdk.RemovalPolicy
}

// Keys holds the keys.
type Keys struct {
	constructs.Construct
	// Data encrypts the table, the buckets (but the access-log bucket, which
	// S3 allows only SSE-S3) and the queues.
	Data awskms.Key
	// Keysets wraps each tenant's keyset; functions Encrypt and Decrypt
	// with it, with the tenant as encryption context.
	Keysets awskms.Key
	// Ops encrypts log groups and the alarm topic; CloudWatch Logs and
	// CloudWatch alarms may use it.
	Ops awskms.Key
}

// adminActions administer a key; useActions are those IAM policies may
// delegate. Listed one by one so no statement holds a wildcard.
var adminActions = []string{
	"kms:CancelKeyDeletion", "kms:CreateAlias", "kms:DeleteAlias", "kms:DescribeKey",
	"kms:DisableKey", "kms:DisableKeyRotation", "kms:EnableKey", "kms:EnableKeyRotation",
	"kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListAliases", "kms:ListGrants",
	"kms:ListKeyPolicies", "kms:ListKeyRotations", "kms:ListResourceTags", "kms:PutKeyPolicy",
	"kms:RevokeGrant", "kms:RotateKeyOnDemand", "kms:ScheduleKeyDeletion", "kms:TagResource",
	"kms:UntagResource", "kms:UpdateAlias", "kms:UpdateKeyDescription",
}

var useActions = []string{
	"kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo",
	"kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext",
	"kms:CreateGrant", "kms:RetireGrant",
}

// NewKeys defines the three keys under scope/id.
func NewKeys(scope constructs.Construct, id string, props *Props) Keys {
	if props == nil {
		props = &Props{}
	}
	removal := props.RemovalPolicy
	if removal == "" {
		removal = awscdk.RemovalPolicy_RETAIN
	}
	c := constructs.NewConstruct(scope, jsii.String(id))
	k := Keys{
		Construct: c,
		Data:      newKey(c, "Data", "Alto data at rest: DynamoDB, S3, SQS", removal),
		Keysets:   newKey(c, "Keysets", "Alto per-tenant keyset wrapping (ENC-02)", removal),
		Ops:       newKey(c, "Ops", "Alto operations: CloudWatch Logs and the alarm topic", removal),
	}

	stack := awscdk.Stack_Of(c)
	logs := awsiam.NewPrincipalWithConditions(
		awsiam.NewServicePrincipal(jsii.String("logs."+*stack.Region()+".amazonaws.com"), nil),
		&map[string]interface{}{"ArnLike": map[string]interface{}{
			"kms:EncryptionContext:aws:logs:arn": stack.FormatArn(&awscdk.ArnComponents{
				Service: jsii.String("logs"), Resource: jsii.String("log-group"),
				ResourceName: jsii.String("*"), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME,
			}),
		}})
	k.Ops.Grant(logs, *jsii.Strings("kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo",
		"kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey")...)
	// CloudWatch alarms publish to the encrypted alarm topic.
	k.Ops.Grant(awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil),
		*jsii.Strings("kms:Decrypt", "kms:GenerateDataKey")...)
	return k
}

func newKey(scope constructs.Construct, id, description string, removal awscdk.RemovalPolicy) awskms.Key {
	policy := awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{
		Statements: &[]awsiam.PolicyStatement{
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:        jsii.String("AccountAdministersAndDelegatesThroughIAM"),
				Principals: &[]awsiam.IPrincipal{awsiam.NewAccountRootPrincipal()},
				Actions:    jsii.Strings(append(append([]string{}, adminActions...), useActions...)...),
				Resources:  jsii.Strings("*"), // in a key policy, "*" is this key
			}),
		},
	})
	return awskms.NewKey(scope, jsii.String(id), &awskms.KeyProps{
		Description:       jsii.String(description),
		EnableKeyRotation: jsii.Bool(true),
		RotationPeriod:    awscdk.Duration_Days(jsii.Number(RotationDays)),
		Policy:            policy,
		RemovalPolicy:     removal,
		PendingWindow:     awscdk.Duration_Days(jsii.Number(30)),
	})
}
