// Package provision creates the AWS resources an Alto stack runs on, as
// the CDK stack (infra/cdk) creates them in AWS, on an AWS-compatible
// endpoint such as moto_server, and returns them as a stack.AWS for
// stack.OpenAWS. The tests of the AWS stack (stacktest.NewAWS) and
// `make run-aws` use it; production is deployed with the CDK app.
package provision

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	snsapi "github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/alto/alto/shared/campaign"
	"github.com/alto/alto/shared/dynamo"
	"github.com/alto/alto/shared/ingest"
	"github.com/alto/alto/shared/jobs"
	"github.com/alto/alto/shared/queue"
	"github.com/alto/alto/shared/s3blob"
	"github.com/alto/alto/shared/sns"
	"github.com/alto/alto/shared/sqsqueue"
	"github.com/alto/alto/shared/stack"
)

// uploads configures stack.UploadsQueue: S3 events of the imports bucket,
// kept at most a day like the bucket's files.
var uploads = queue.Config{Name: stack.UploadsQueue, Retention: ingest.Retention, Visibility: time.Minute}

// Create creates, with names starting with prefix (lowercase letters,
// digits and hyphens, at most 40 characters), what the CDK stack would: a
// KMS key wrapping keysets and one encrypting data; the table (on demand,
// time to live, the blind index, under the data key); the imports, exports
// and audit digest buckets (SSE-KMS under the data key, public access
// blocked; the audit bucket without the Object Lock of AWS); the
// queues of ingest, personalization and jobs with their dead-letter queues
// and redrive policies (under the data key); the alarm topic; and a
// verified SES sender, prefix@alto.example. Unlike the CDK stack, the
// imports bucket's ObjectCreated events go to stack.UploadsQueue, which
// the local runtime polls. cfg reaches the endpoint (S3 path-style).
// Returns the first error, naming what failed; what was created before it
// stays.
func Create(ctx context.Context, cfg aws.Config, prefix string) (stack.AWS, error) {
	res := stack.AWS{Table: prefix, TableIndex: dynamo.IndexName, ImportsBucket: prefix + "-imports",
		ExportsBucket: prefix + "-exports", AuditBucket: prefix + "-audit", MailFrom: prefix + "@alto.example", Queues: map[string]string{}}
	keys := kms.NewFromConfig(cfg)
	for _, dst := range []*string{&res.KeysetKey, &res.DataKey} {
		out, err := keys.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("alto " + prefix)})
		if err != nil {
			return stack.AWS{}, fmt.Errorf("provision: create KMS key: %w", err)
		}
		*dst = aws.ToString(out.KeyMetadata.Arn)
	}
	if err := dynamo.CreateTable(ctx, dynamodb.NewFromConfig(cfg), res.Table, dynamo.TableOptions{KMSKeyID: res.DataKey}); err != nil {
		return stack.AWS{}, fmt.Errorf("provision: %w", err)
	}
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	for _, b := range []string{res.ImportsBucket, res.ExportsBucket, res.AuditBucket} {
		if err := s3blob.CreateBucket(ctx, s3c, b, res.DataKey); err != nil {
			return stack.AWS{}, fmt.Errorf("provision: %w", err)
		}
	}
	sqsc := sqs.NewFromConfig(cfg)
	cfgs := slices.Concat(ingest.Queues(), campaign.Queues(), jobs.Queues(), []queue.Config{uploads})
	if err := sqsqueue.CreateQueues(ctx, sqsc, prefix+"-", res.DataKey, cfgs); err != nil {
		return stack.AWS{}, fmt.Errorf("provision: %w", err)
	}
	for _, c := range cfgs {
		out, err := sqsc.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(prefix + "-" + c.Name)})
		if err != nil {
			return stack.AWS{}, fmt.Errorf("provision: queue %s: %w", c.Name, err)
		}
		res.Queues[c.Name] = aws.ToString(out.QueueUrl)
	}
	if err := notifyUploads(ctx, sqsc, s3c, res); err != nil {
		return stack.AWS{}, err
	}
	var err error
	if res.AlarmTopic, err = sns.CreateTopic(ctx, snsapi.NewFromConfig(cfg), prefix+"-alarms", res.DataKey); err != nil {
		return stack.AWS{}, fmt.Errorf("provision: %w", err)
	}
	if _, err := sesv2.NewFromConfig(cfg).CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: &res.MailFrom}); err != nil {
		return stack.AWS{}, fmt.Errorf("provision: SES sender: %w", err)
	}
	return res, nil
}

// notifyUploads sends the imports bucket's ObjectCreated events to the
// uploads queue.
func notifyUploads(ctx context.Context, sqsc *sqs.Client, s3c *s3.Client, res stack.AWS) error {
	attrs, err := sqsc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(res.Queues[stack.UploadsQueue]),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		return fmt.Errorf("provision: uploads queue: %w", err)
	}
	_, err = s3c.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{
		Bucket: &res.ImportsBucket,
		NotificationConfiguration: &s3types.NotificationConfiguration{QueueConfigurations: []s3types.QueueConfiguration{{
			QueueArn: aws.String(attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]),
			Events:   []s3types.Event{s3types.EventS3ObjectCreated},
		}}},
	})
	if err != nil {
		return fmt.Errorf("provision: notify uploads of %s: %w", res.ImportsBucket, err)
	}
	return nil
}
