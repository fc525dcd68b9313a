package stack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	snsapi "github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/alto/alto/shared/blob"
	"github.com/alto/alto/shared/campaign"
	"github.com/alto/alto/shared/dynamo"
	"github.com/alto/alto/shared/ingest"
	"github.com/alto/alto/shared/jobs"
	"github.com/alto/alto/shared/kmskeys"
	"github.com/alto/alto/shared/notify"
	"github.com/alto/alto/shared/s3blob"
	"github.com/alto/alto/shared/ses"
	"github.com/alto/alto/shared/sns"
	"github.com/alto/alto/shared/sqsqueue"
)

// Environment variables of the AWS stack: the CDK stack sets them on every
// function (infra/cdk/functions lists the same names, and its tests check
// that they agree). Queue variables hold queue URLs, bucket variables
// bucket names, key variables KMS key ARNs.
const (
	EnvTable         = "ALTO_TABLE"
	EnvTableIndex    = "ALTO_TABLE_INDEX"
	EnvKeysetKey     = "ALTO_KEYSET_KEY_ARN"
	EnvDataKey       = "ALTO_DATA_KEY_ARN"
	EnvImportsBucket = "ALTO_IMPORTS_BUCKET"
	EnvExportsBucket = "ALTO_EXPORTS_BUCKET"
	EnvAuditBucket   = "ALTO_AUDIT_BUCKET"
	EnvAlarmTopic    = "ALTO_ALARM_TOPIC_ARN"
	// EnvMailFrom is the SES-verified sender of e-mail; optional, but
	// without it every e-mail fails (see OpenAWS).
	EnvMailFrom = "ALTO_MAIL_FROM"
	// EnvUploadsQueue is the URL of UploadsQueue, under make run-aws only.
	EnvUploadsQueue = "ALTO_UPLOADS_QUEUE"
)

// QueueEnv maps each queue the stack sends to onto the environment variable
// holding its URL.
var QueueEnv = map[string]string{
	ingest.Queue:           "ALTO_INGRESS_QUEUE",
	ingest.DeadLetterQueue: "ALTO_INGRESS_DEAD_LETTER_QUEUE",
	campaign.Queue:         "ALTO_PERSONALIZATION_QUEUE",
	jobs.Queue:             "ALTO_JOBS_QUEUE",
	jobs.DeadLetterQueue:   "ALTO_JOBS_DEAD_LETTER_QUEUE",
}

// UploadsQueue is the queue that carries the imports bucket's
// ObjectCreated events to the local runtime's poller under `make run-aws`
// (an AWS-compatible server cannot invoke a local process). In AWS the
// events invoke functions/ingest instead, and there is no such queue.
const UploadsQueue = "uploads"

// AWS names the AWS resources a stack runs on: what the CDK stack gives
// every function in ALTO_* environment variables.
type AWS struct {
	Table      string
	TableIndex string // the blind-index GSI: must be dynamo.IndexName
	// KeysetKey wraps tenant keysets (ENC-02); DataKey encrypts what the
	// stack writes to S3 (SSE-KMS, ENC-01). ARNs or key IDs.
	KeysetKey, DataKey           string
	ImportsBucket, ExportsBucket string
	// AuditBucket keeps the audit chains' digests (AUD-02): write-once
	// in AWS (S3 Object Lock).
	AuditBucket string
	// Queues maps queue names (the keys of QueueEnv, and UploadsQueue
	// under make run-aws) to queue URLs.
	Queues     map[string]string
	AlarmTopic string
	MailFrom   string // optional
}

// required lists the variables AWSFromEnv needs, with where each goes.
func (a *AWS) required() map[string]*string {
	return map[string]*string{
		EnvTable: &a.Table, EnvTableIndex: &a.TableIndex, EnvKeysetKey: &a.KeysetKey, EnvDataKey: &a.DataKey,
		EnvImportsBucket: &a.ImportsBucket, EnvExportsBucket: &a.ExportsBucket, EnvAuditBucket: &a.AuditBucket,
		EnvAlarmTopic: &a.AlarmTopic,
	}
}

// AWSFromEnv reads the resources from environment variables through
// getenv (os.Getenv in a function). Returns an error naming every required
// variable that is empty.
func AWSFromEnv(getenv func(string) string) (AWS, error) {
	a := AWS{MailFrom: getenv(EnvMailFrom), Queues: map[string]string{}}
	if u := getenv(EnvUploadsQueue); u != "" {
		a.Queues[UploadsQueue] = u
	}
	for name, dst := range a.required() {
		*dst = getenv(name)
	}
	for q, name := range QueueEnv {
		if u := getenv(name); u != "" {
			a.Queues[q] = u
		}
	}
	if missing := a.missing(); missing != "" {
		return AWS{}, fmt.Errorf("stack: AWS environment: %s not set", missing)
	}
	return a, nil
}

// missing names the variables of the resources a lacks, sorted and joined
// by commas; "" if none.
func (a AWS) missing() string {
	var names []string
	for name, v := range a.required() {
		if *v == "" {
			names = append(names, name)
		}
	}
	for q, name := range QueueEnv {
		if a.Queues[q] == "" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// Env returns a as the environment variables AWSFromEnv reads.
func (a AWS) Env() map[string]string {
	env := map[string]string{}
	for name, v := range a.required() {
		env[name] = *v
	}
	for q, name := range QueueEnv {
		env[name] = a.Queues[q]
	}
	if a.MailFrom != "" {
		env[EnvMailFrom] = a.MailFrom
	}
	if u := a.Queues[UploadsQueue]; u != "" {
		env[EnvUploadsQueue] = u
	}
	return env
}

// OpenAWS assembles the stack over the AWS adapters of res, reached
// through awsCfg: the store and the keysets on DynamoDB (one table), the
// master key on KMS (a tenant's keyset is unwrapped once per tenant per
// process: ENC-02), blobs on S3 (imports and exports buckets, SSE-KMS
// under DataKey), the audit digests in the audit bucket, queues on SQS,
// e-mail on SES from MailFrom and alarms on SNS. With awsCfg.BaseEndpoint
// set (an AWS-compatible server such as moto_server), S3 is addressed
// path-style. cfg.Data keeps only the local issuer's key and the log
// digest key; cfg.NoSync is unused.
//
// DynamoDB's time to live and SQS's retention forget expired items and
// messages, so the sweep leaves them be. The imports bucket's
// ObjectCreated events reach HandleIngest (functions/ingest) in AWS, or
// the uploads poller when res names UploadsQueue. Without MailFrom every
// e-mail fails with an error naming ALTO_MAIL_FROM. Returns an error if a
// resource is missing from res or the table's index is not the one the
// store queries.
func OpenAWS(cfg Config, awsCfg aws.Config, res AWS) (*Stack, error) {
	cfg = cfg.withDefaults()
	if missing := res.missing(); missing != "" {
		return nil, fmt.Errorf("stack: open AWS: no %s", missing)
	}
	if res.TableIndex != dynamo.IndexName {
		return nil, fmt.Errorf("stack: open AWS: the table's blind index is %q, want %q", res.TableIndex, dynamo.IndexName)
	}
	db := dynamodb.NewFromConfig(awsCfg)
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.UsePathStyle = awsCfg.BaseEndpoint != nil })
	var b buckets
	var vault blob.Store
	var err error
	for dst, name := range map[*blob.Store]string{&b.imports: res.ImportsBucket, &b.exports: res.ExportsBucket, &vault: res.AuditBucket} {
		if *dst, err = s3blob.New(client, s3blob.Options{Bucket: name, KMSKeyID: res.DataKey, Now: cfg.Now}); err != nil {
			return nil, fmt.Errorf("stack: open AWS: %w", err)
		}
	}
	var mailer notify.Mailer = unsentMail{}
	if res.MailFrom != "" {
		if mailer, err = ses.New(sesv2.NewFromConfig(awsCfg), ses.Options{From: res.MailFrom}); err != nil {
			return nil, fmt.Errorf("stack: open AWS: %s: %w", EnvMailFrom, err)
		}
	}
	p := Ports{
		Store:      dynamo.New(db, res.Table, dynamo.Options{Now: cfg.Now}),
		Keysets:    dynamo.NewKeysets(db, res.Table),
		Master:     kmskeys.New(kms.NewFromConfig(awsCfg), res.KeysetKey, kmskeys.Options{}),
		Blobs:      b,
		AuditVault: vault,
		Queues:     sqsqueue.New(sqs.NewFromConfig(awsCfg), sqsqueue.Options{URLs: res.Queues}),
		Mailer:     mailer,
		Alarms:     sns.New(snsapi.NewFromConfig(awsCfg), res.AlarmTopic),
	}
	if cfg.Ports != nil {
		p = cfg.Ports(p)
	}
	st, err := Assemble(cfg, p)
	if err != nil {
		return nil, err
	}
	if res.MailFrom == "" {
		st.Logger.Warn("e-mail is off: " + EnvMailFrom + " is not set, so every e-mail fails")
	}
	if res.Queues[UploadsQueue] != "" {
		st.uploadsQueue = UploadsQueue
	}
	return st, nil
}

// unsentMail is the Mailer of an AWS stack without a sender: it sends
// nothing and says why.
type unsentMail struct{}

var errNoSender = errors.New("stack: no e-mail sender: set " + EnvMailFrom + " (alto:mailFrom in the CDK context) to an address SES has verified")

func (unsentMail) Send(context.Context, notify.Email) error { return errNoSender }

// OpenEnv opens the stack of a Lambda function from its environment: on
// AWS when ALTO_TABLE is set (the CDK stack sets it with the other ALTO_*
// variables of AWSFromEnv; credentials, region and AWS_ENDPOINT_URL come
// from the SDK's default chain), else the embedded stack in ALTO_DATA
// (default /tmp/alto), which each function instance keeps to itself: fit
// for trying the API, not for keeping data. ConfigFromEnv configures both;
// on AWS the stack logs JSON lines, scrubbed, to standard error (the
// function's log group).
func OpenEnv(ctx context.Context) (*Stack, error) {
	cfg := ConfigFromEnv()
	if os.Getenv(EnvTable) == "" {
		return Open(cfg)
	}
	cfg.Log = slog.NewJSONHandler(os.Stderr, nil)
	res, err := AWSFromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("stack: AWS configuration: %w", err)
	}
	return OpenAWS(cfg, awsCfg, res)
}
