// Package functions defines Alto's Lambda functions from the assets of
// make build: provided.al2023 on arm64, each with its own role and its own
// log group (retention, encrypted with a customer-managed key). A role
// starts empty but for writing its log group; everything else a function
// may do is granted by the caller with Grant* calls.
package functions

import (
	"fmt"
	"path/filepath"
	"sort"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Environment variables the stack sets on every function: the contract
// between the CDK app and the functions' AWS adapters (stack.AWSFromEnv
// reads them; the app's tests check that every function gets what it
// reads). Queue variables hold queue URLs, bucket variables bucket names.
const (
	EnvResidency     = "ALTO_RESIDENCY"      // "us" or "eu" (OPS-02)
	EnvTable         = "ALTO_TABLE"          // the DynamoDB table's name
	EnvTableIndex    = "ALTO_TABLE_INDEX"    // the blind-index GSI's name
	EnvKeysetKey     = "ALTO_KEYSET_KEY_ARN" // the KMS key wrapping tenant keysets
	EnvDataKey       = "ALTO_DATA_KEY_ARN"   // the KMS key of SSE-KMS writes
	EnvImportsBucket = "ALTO_IMPORTS_BUCKET"
	EnvExportsBucket = "ALTO_EXPORTS_BUCKET"
	EnvArchiveBucket = "ALTO_ARCHIVE_BUCKET"
	EnvAuditBucket   = "ALTO_AUDIT_BUCKET"
	EnvIngressQueue  = "ALTO_INGRESS_QUEUE"
	EnvPersonalQueue = "ALTO_PERSONALIZATION_QUEUE"
	EnvJobsQueue     = "ALTO_JOBS_QUEUE"
	// The dead-letter queues the consumers move poison messages to
	// themselves, with their reason (ING-05).
	EnvIngressDeadLetter = "ALTO_INGRESS_DEAD_LETTER_QUEUE"
	EnvJobsDeadLetter    = "ALTO_JOBS_DEAD_LETTER_QUEUE"
	EnvAlarmTopic        = "ALTO_ALARM_TOPIC_ARN" // the SNS topic of OPS-04 alarms
	// Set only when configured: the SES-verified sender of e-mail.
	EnvMailFrom = "ALTO_MAIL_FROM"
	// Set only when configured: the custom domain, and the identity
	// provider whose JWTs the API trusts.
	EnvBaseURL  = "ALTO_BASE_URL" // https://<domain>
	EnvIssuer   = "ALTO_ISSUER"
	EnvAudience = "ALTO_AUDIENCE"
	EnvJWKSURL  = "ALTO_JWKS_URL"
)

// LogRetention is how long function logs are kept (RET-04: 90 days).
const LogRetention = awslogs.RetentionDays_THREE_MONTHS

// Props configures the functions.
type Props struct {
	Specs    []Spec // the functions to define; see Present
	AssetDir string // the output of make build: <AssetDir>/<name>/bootstrap
	// Key encrypts the log groups and the functions' environment; its key
	// policy must let CloudWatch Logs use it. Required.
	Key         awskms.IKey
	Environment map[string]string // set on every function
}

// Functions holds the functions.
type Functions struct {
	constructs.Construct
	ByName map[string]awslambda.Function
}

// NewFunctions defines props.Specs under scope/id, one construct
// <id>/<Name> each. It panics, as construct code does, on a spec without a
// name, memory or timeout, or an asset that does not exist (the app checks
// with CheckAssets first).
func NewFunctions(scope constructs.Construct, id string, props *Props) Functions {
	if err := CheckAssets(props.AssetDir, props.Specs); err != nil {
		panic(err.Error())
	}
	env := map[string]*string{}
	keys := make([]string, 0, len(props.Environment))
	for k := range props.Environment {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env[k] = jsii.String(props.Environment[k])
	}

	c := constructs.NewConstruct(scope, jsii.String(id))
	f := Functions{Construct: c, ByName: map[string]awslambda.Function{}}
	for _, s := range props.Specs {
		if s.Name == "" || s.Memory <= 0 || s.Timeout <= 0 {
			panic(fmt.Sprintf("functions: incomplete spec %+v", s))
		}
		fc := constructs.NewConstruct(c, jsii.String(s.Name))
		logs := awslogs.NewLogGroup(fc, jsii.String("Logs"), &awslogs.LogGroupProps{
			Retention:     LogRetention,
			EncryptionKey: props.Key,
			RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
		})
		role := awsiam.NewRole(fc, jsii.String("Role"), &awsiam.RoleProps{
			AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
			Description: jsii.String("Alto " + s.Name + " function: writes its log group; the rest comes from Grant* calls"),
		})
		logs.GrantWrite(role)
		fn := awslambda.NewFunction(fc, jsii.String("Function"), &awslambda.FunctionProps{
			Description:           jsii.String(s.Purpose),
			Runtime:               awslambda.Runtime_PROVIDED_AL2023(),
			Architecture:          awslambda.Architecture_ARM_64(),
			Handler:               jsii.String("bootstrap"),
			Code:                  awslambda.Code_FromAsset(jsii.String(filepath.Join(props.AssetDir, s.Name)), nil),
			MemorySize:            jsii.Number(s.Memory),
			Timeout:               awscdk.Duration_Seconds(jsii.Number(s.Timeout.Seconds())),
			Role:                  role,
			LogGroup:              logs,
			LoggingFormat:         awslambda.LoggingFormat_JSON,
			Environment:           &env,
			EnvironmentEncryption: props.Key,
		})
		f.ByName[s.Name] = fn
	}
	return f
}
