package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsses"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/alto/alto/infra/cdk/alarms"
	"github.com/alto/alto/infra/cdk/api"
	"github.com/alto/alto/infra/cdk/buckets"
	"github.com/alto/alto/infra/cdk/functions"
	"github.com/alto/alto/infra/cdk/keys"
	"github.com/alto/alto/infra/cdk/nag"
	"github.com/alto/alto/infra/cdk/queues"
	"github.com/alto/alto/infra/cdk/schedules"
	"github.com/alto/alto/infra/cdk/table"
	"github.com/alto/alto/shared/campaign"
	"github.com/alto/alto/shared/ingest"
	"github.com/alto/alto/shared/jobs"
	"github.com/alto/alto/shared/queue"
)

// queuePlan is one SQS queue: its settings come from the domain package that
// owns it (the same ones the local runtime uses), its visibility timeout
// from its consumer's timeout in the functions catalog.
type queuePlan struct {
	configs  []queue.Config // the queue and its dead-letter queue
	consumer string         // the function that consumes it
	// maxConcurrency bounds the consumer's concurrent invocations; 0: unbounded.
	maxConcurrency int
}

var queuePlans = []queuePlan{
	{configs: ingest.Queues(), consumer: "ingest"},
	// Bounded: personalization may call a model with its own rate limits.
	{configs: campaign.Queues(), consumer: "personalize", maxConcurrency: 5},
	// Jobs (exports, import parses, purges) stream whole tenants or files
	// in bounded steps; a few at a time keep the table's load even.
	{configs: jobs.Queues(), consumer: "export", maxConcurrency: 5},
}

// ingestTakesUploads says whether functions/ingest handles S3
// ObjectCreated events (ING-02): it does (stack.HandleIngest takes SQS
// batches and S3 events alike), so the imports bucket notifies it.
const ingestTakesUploads = true

// AltoStackProps configures the stack.
type AltoStackProps struct {
	Config Config
	// Specs are the functions to deploy: functions.Present of the
	// repository's functions/ folder.
	Specs []functions.Spec
	// NotifyImports sends the imports bucket's ObjectCreated events to the
	// ingest function, when it exists.
	NotifyImports bool
}

// AltoStack is one Alto deployment in one region.
type AltoStack struct {
	awscdk.Stack
	Keys      keys.Keys
	Table     table.Table
	Buckets   buckets.Buckets
	Queues    map[string]queues.Queue // by queue name
	Alarms    alarms.Alarms
	Functions functions.Functions
	API       *api.API // nil until functions/api exists
	Schedules schedules.Schedules
	// Senders are the SES identities of Config.MailFrom, the address and
	// its domain (whichever the operator verified); none without it.
	Senders []awsses.IEmailIdentity
	// Waiting says, in sentences, what is not deployed until a function exists.
	Waiting []string
}

// NewAltoStack defines the whole deployment as a stack named id in the
// configured region (the account stays the deploying credentials' unless
// configured), so that it synthesizes with no AWS account at hand.
func NewAltoStack(scope constructs.Construct, id string, props *AltoStackProps) AltoStack {
	cfg := props.Config
	env := &awscdk.Environment{Region: jsii.String(cfg.Region)}
	if cfg.Account != "" {
		env.Account = jsii.String(cfg.Account)
	}
	stack := awscdk.NewStack(scope, jsii.String(id), &awscdk.StackProps{
		Env:         env,
		Description: jsii.String(fmt.Sprintf("Alto: privacy-grade data platform (%s data residency)", cfg.Residency)),
	})
	// Every resource says which residency it belongs to.
	awscdk.Tags_Of(stack).Add(jsii.String("alto:residency"), jsii.String(cfg.Residency), nil)
	s := AltoStack{Stack: stack, Queues: map[string]queues.Queue{}}

	s.Keys = keys.NewKeys(stack, "Keys", nil)
	s.Table = table.NewTable(stack, "Table", &table.Props{Key: s.Keys.Data})
	s.Buckets = buckets.NewBuckets(stack, "Buckets", &buckets.Props{Key: s.Keys.Data, AuditRetentionDays: cfg.AuditRetentionDays})
	for _, p := range queuePlans {
		primary, dead := split(p.configs)
		consumer, ok := functions.Lookup(p.consumer)
		if !ok {
			panic(fmt.Sprintf("cdk: queue %s: consumer %s is not in the functions catalog", primary.Name, p.consumer))
		}
		s.Queues[primary.Name] = queues.NewQueue(stack, primary.Name, &queues.Props{
			Key:                 s.Keys.Data,
			Retention:           primary.Retention,
			DeadLetterRetention: dead.Retention,
			MaxReceives:         primary.MaxReceives,
			ConsumerTimeout:     consumer.Timeout,
		})
	}
	s.Alarms = alarms.NewAlarms(stack, "Alarms", &alarms.Props{Key: s.Keys.Ops, Email: cfg.AlarmEmail})

	environment := map[string]string{
		functions.EnvResidency:     cfg.Residency,
		functions.EnvTable:         *s.Table.Table.TableName(),
		functions.EnvTableIndex:    table.IndexName,
		functions.EnvKeysetKey:     *s.Keys.Keysets.KeyArn(),
		functions.EnvDataKey:       *s.Keys.Data.KeyArn(),
		functions.EnvImportsBucket: *s.Buckets.Imports.BucketName(),
		functions.EnvExportsBucket: *s.Buckets.Exports.BucketName(),
		functions.EnvArchiveBucket: *s.Buckets.Archive.BucketName(),
		functions.EnvAuditBucket:   *s.Buckets.AuditDigests.BucketName(),
		functions.EnvIngressQueue:  *s.Queues[ingest.Queue].Queue.QueueUrl(),
		functions.EnvPersonalQueue: *s.Queues[campaign.Queue].Queue.QueueUrl(),
		functions.EnvJobsQueue:     *s.Queues[jobs.Queue].Queue.QueueUrl(),
		functions.EnvAlarmTopic:    *s.Alarms.Topic.TopicArn(),
		// The consumers dead-letter poison messages themselves, with their reason.
		functions.EnvIngressDeadLetter: *s.Queues[ingest.Queue].DeadLetter.QueueUrl(),
		functions.EnvJobsDeadLetter:    *s.Queues[jobs.Queue].DeadLetter.QueueUrl(),
	}
	if cfg.MailFrom != "" {
		environment[functions.EnvMailFrom] = cfg.MailFrom
		_, domain, _ := strings.Cut(cfg.MailFrom, "@")
		s.Senders = []awsses.IEmailIdentity{
			awsses.EmailIdentity_FromEmailIdentityName(stack, jsii.String("MailSender"), jsii.String(cfg.MailFrom)),
			awsses.EmailIdentity_FromEmailIdentityName(stack, jsii.String("MailDomain"), jsii.String(domain)),
		}
	}
	if cfg.Domain != "" {
		environment[functions.EnvBaseURL] = "https://" + cfg.Domain
	}
	if cfg.Issuer != "" {
		environment[functions.EnvIssuer] = cfg.Issuer
		environment[functions.EnvAudience] = cfg.Audience
		environment[functions.EnvJWKSURL] = cfg.JWKSURL
	}
	s.Functions = functions.NewFunctions(stack, "Functions", &functions.Props{
		Specs: props.Specs, AssetDir: cfg.AssetDir, Key: s.Keys.Ops, Environment: environment,
	})
	names := make([]string, 0, len(s.Functions.ByName))
	for name := range s.Functions.ByName {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fn := s.Functions.ByName[name]
		grant(&s, name, fn, props.NotifyImports)
		suppressGrantFamilies(fn)
		s.Alarms.OnFunction(name, fn)
	}

	for _, p := range queuePlans {
		primary, _ := split(p.configs)
		q := s.Queues[primary.Name]
		s.Alarms.OnDeadLetter(primary.Name, q.DeadLetter)
		if fn, ok := s.Functions.ByName[p.consumer]; ok {
			q.Consume(fn, queues.ConsumeOptions{MaxConcurrency: p.maxConcurrency})
		} else {
			s.Waiting = append(s.Waiting, fmt.Sprintf("the %s queue (and its dead-letter queue and alarm) exists; its consumer waits for functions/%s", primary.Name, p.consumer))
		}
	}

	if fn, ok := s.Functions.ByName["api"]; ok {
		a := api.NewAPI(stack, "Api", &api.Props{
			Handler: fn, Key: s.Keys.Ops,
			RateLimit: cfg.RateLimit, BurstLimit: cfg.BurstLimit, WAFRateLimit: cfg.WAFRateLimit,
			Domain: cfg.Domain, CertificateArn: cfg.CertificateArn,
		})
		s.API = &a
		awscdk.NewCfnOutput(stack, jsii.String("ApiUrl"), &awscdk.CfnOutputProps{Value: a.URL, Description: jsii.String("Where API clients reach Alto")})
	} else {
		s.Waiting = append(s.Waiting, "the API Gateway REST API and its web ACL wait for functions/api")
	}

	switch fn, ok := s.Functions.ByName["ingest"]; {
	case ok && props.NotifyImports:
		s.Buckets.NotifyImports(fn)
	case ok:
		s.Waiting = append(s.Waiting, "the imports bucket's ObjectCreated notification waits for functions/ingest to handle S3 events (ING-02)")
	default:
		s.Waiting = append(s.Waiting, "the imports bucket's ObjectCreated notification waits for functions/ingest")
	}

	targets := map[string]awslambda.IFunction{}
	for name, fn := range s.Functions.ByName {
		targets[name] = fn
	}
	s.Schedules = schedules.NewSchedules(stack, "Schedules", &schedules.Props{Functions: targets})
	for _, p := range schedules.Plan {
		if fn, ok := s.Schedules.Waiting[p.Name]; ok {
			s.Waiting = append(s.Waiting, fmt.Sprintf("the %s schedule (every %d min) waits for functions/%s", p.Name, int(p.Every.Minutes()), fn))
		}
	}
	for _, spec := range functions.Catalog {
		if _, ok := s.Functions.ByName[spec.Name]; !ok {
			s.Waiting = append(s.Waiting, fmt.Sprintf("functions/%s does not exist yet: no Lambda function, role or log group for it", spec.Name))
		}
	}
	return s
}

// grant gives the function name what it needs, through Grant* calls only.
// A function the catalog lists but this table does not gets nothing beyond
// its log group. uploads says whether ingest receives the imports bucket's
// ObjectCreated events (it then queues a parse job).
func grant(s *AltoStack, name string, fn awslambda.Function, uploads bool) {
	b, q, t := s.Buckets, s.Queues, s.Table.Table
	// Every function reads and writes the table and seals with the tenant
	// keysets, which the keysets key wraps.
	t.GrantReadWriteData(fn)
	s.Keys.Keysets.GrantEncryptDecrypt(fn)
	mail := func() {
		for _, id := range s.Senders {
			id.GrantSendEmail(fn)
		}
	}
	switch name {
	case "api":
		b.Imports.GrantPut(fn, nil)  // presigned upload URLs
		b.Exports.GrantRead(fn, nil) // presigned download URLs
		q[ingest.Queue].Queue.GrantSendMessages(fn)
		q[campaign.Queue].Queue.GrantSendMessages(fn)
		q[jobs.Queue].Queue.GrantSendMessages(fn)
		b.AuditDigests.GrantRead(fn, nil) // verifies audit chains against their digests (AUD-02)
		mail()                            // incident and policy notices go out at once
	case "ingest":
		q[ingest.Queue].DeadLetter.GrantSendMessages(fn) // poison messages, with their reason (ING-05)
		if uploads {
			q[jobs.Queue].Queue.GrantSendMessages(fn) // an upload starts a parse job
		}
	case "personalize":
	case "export":
		// The jobs consumer: exports, and the parse jobs of imports.
		b.Exports.GrantPut(fn, nil)
		b.Exports.GrantRead(fn, nil)   // resumes a multipart export
		b.Exports.GrantDelete(fn, nil) // a run that lost its claim removes its archive
		b.Imports.GrantRead(fn, nil)
		b.Imports.GrantDelete(fn, nil)                 // an import file is deleted once parsed (RET-01)
		q[ingest.Queue].Queue.GrantSendMessages(fn)    // parsed rows go to the ingress queue
		q[jobs.Queue].Queue.GrantSendMessages(fn)      // continuation jobs
		q[jobs.Queue].DeadLetter.GrantSendMessages(fn) // jobs no retry can fix, with their reason
	case "purge":
		b.Imports.GrantDelete(fn, nil)
		b.Exports.GrantDelete(fn, nil)
		// A workspace purge lists what is left of the tenant in both
		// buckets, reading none of it.
		for _, bucket := range []awss3.Bucket{b.Imports, b.Exports} {
			awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{Grantee: fn,
				Actions: jsii.Strings("s3:ListBucket"), ResourceArns: jsii.Strings(*bucket.BucketArn())})
		}
		b.Archive.GrantReadWrite(fn, nil)
		b.Archive.GrantDelete(fn, nil)
		b.AuditDigests.GrantPut(fn, nil)
		b.AuditDigests.GrantRead(fn, nil) // a digest is written once: the sweep looks first
		q[jobs.Queue].Queue.GrantSendMessages(fn)
		s.Alarms.Topic.GrantPublish(fn)
		mail() // purge confirmations, notice reminders
	case "incident":
		s.Alarms.Topic.GrantPublish(fn)
		mail() // incident notices, updates and alarms to the security team
	}
}

// suppressGrantFamilies records why cdk-nag's wildcard findings on a
// function's policy do not apply: CDK's Grant* calls name AWS's action
// families (kms:GenerateDataKey*, s3:GetObject*, …) and the objects or
// indexes under one resource, never a service's every action or every
// resource.
func suppressGrantFamilies(fn awslambda.Function) {
	policy := fn.Role().Node().TryFindChild(jsii.String("DefaultPolicy"))
	if policy == nil {
		return
	}
	nag.Suppress(policy,
		nag.Rule{ID: "AwsSolutions-IAM5", AppliesTo: []string{`/^Action::kms:(ReEncrypt|GenerateDataKey)\*$/`},
			Reason: "KMS Grant* calls on one Alto key: ReEncrypt* and GenerateDataKey* are the action families envelope encryption needs, on that key only."},
		nag.Rule{ID: "AwsSolutions-IAM5", AppliesTo: []string{`/^Action::s3:(GetObject|GetBucket|List|DeleteObject|Abort|PutObjectLegalHold|PutObjectRetention|PutObjectTagging|PutObjectVersionTagging)\*$/`},
			Reason: "S3 Grant* calls on one Alto bucket: the read, write or delete action families they name apply to that bucket and its objects only."},
		nag.Rule{ID: "AwsSolutions-IAM5", AppliesTo: []string{`/^Resource::<Buckets[A-Za-z]+[0-9A-F]{8}\.Arn>\/\*$/`},
			Reason: "S3 Grant* calls on one Alto bucket cover the objects in it (bucket ARN/*), which hold per-tenant keys the function cannot list outside its grant."},
		nag.Rule{ID: "AwsSolutions-IAM5", AppliesTo: []string{`/^Resource::<Table[A-Za-z]*[0-9A-F]{8}\.Arn>\/index\/\*$/`},
			Reason: "The table grant covers the table's own global secondary index (the blind index), which queries need."},
	)
}

// split returns the queue of configs that has a dead-letter queue, and that
// dead-letter queue. It panics when configs hold no such pair.
func split(configs []queue.Config) (primary, dead queue.Config) {
	for _, c := range configs {
		if c.DeadLetter != "" {
			primary = c
		}
	}
	for _, c := range configs {
		if c.Name == primary.DeadLetter {
			dead = c
		}
	}
	if primary.Name == "" || dead.Name == "" {
		panic(fmt.Sprintf("cdk: queue configs %+v: want a queue and its dead-letter queue", configs))
	}
	return primary, dead
}
