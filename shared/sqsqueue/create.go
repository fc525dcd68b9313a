package sqsqueue

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/alto/alto/shared/queue"
)

// SQS's bounds on a queue's retention period.
const (
	minRetention = time.Minute
	maxRetention = 14 * 24 * time.Hour
)

// CreateQueues creates the SQS queues cfgs describe, named prefix + Name, as
// the CDK stack does: each with its retention and default visibility, and
// those with MaxReceives and DeadLetter with a redrive policy to the
// dead-letter queue (which must be among cfgs). If kmsKeyID is set the
// queues are encrypted with that KMS key (ENC-01), else with SQS-managed
// keys. It is for tests and for running the stack against an
// AWS-compatible server. Returns an error wrapping queue.ErrInvalid for a
// configuration SQS cannot hold (retention outside 1 minute to 14 days,
// visibility above 12 hours, a dead-letter queue not in cfgs).
func CreateQueues(ctx context.Context, client *sqs.Client, prefix, kmsKeyID string, cfgs []queue.Config) error {
	byName := make(map[string]queue.Config, len(cfgs))
	for _, c := range cfgs {
		byName[c.Name] = c
	}
	for _, c := range cfgs {
		if err := checkConfig(c, byName); err != nil {
			return fmt.Errorf("sqsqueue: create queue %s: %w", c.Name, err)
		}
	}
	arns := make(map[string]string, len(cfgs))
	for _, c := range cfgs {
		attrs := map[string]string{
			string(types.QueueAttributeNameMessageRetentionPeriod): strconv.FormatInt(seconds(c.Retention), 10),
			string(types.QueueAttributeNameVisibilityTimeout):      strconv.FormatInt(seconds(c.Visibility), 10),
		}
		if kmsKeyID != "" {
			attrs[string(types.QueueAttributeNameKmsMasterKeyId)] = kmsKeyID
		} else {
			attrs[string(types.QueueAttributeNameSqsManagedSseEnabled)] = "true"
		}
		out, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(prefix + c.Name), Attributes: attrs})
		if err != nil {
			return fmt.Errorf("sqsqueue: create queue %s: %w", c.Name, err)
		}
		got, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl:       out.QueueUrl,
			AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn},
		})
		if err != nil {
			return fmt.Errorf("sqsqueue: create queue %s: get its ARN: %w", c.Name, err)
		}
		arns[c.Name] = got.Attributes[string(types.QueueAttributeNameQueueArn)]
	}
	for _, c := range cfgs {
		if c.MaxReceives == 0 {
			continue
		}
		policy, err := json.Marshal(map[string]any{"deadLetterTargetArn": arns[c.DeadLetter], "maxReceiveCount": c.MaxReceives})
		if err != nil {
			return fmt.Errorf("sqsqueue: create queue %s: redrive policy: %w", c.Name, err)
		}
		url, err := client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(prefix + c.Name)})
		if err == nil {
			_, err = client.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{
				QueueUrl:   url.QueueUrl,
				Attributes: map[string]string{string(types.QueueAttributeNameRedrivePolicy): string(policy)},
			})
		}
		if err != nil {
			return fmt.Errorf("sqsqueue: create queue %s: set redrive policy: %w", c.Name, err)
		}
	}
	return nil
}

func checkConfig(c queue.Config, byName map[string]queue.Config) error {
	switch {
	case c.Retention < minRetention || c.Retention > maxRetention:
		return fmt.Errorf("retention %v, want %v to %v: %w", c.Retention, minRetention, maxRetention, queue.ErrInvalid)
	case c.Visibility < 0 || c.Visibility > queue.MaxVisibility:
		return fmt.Errorf("visibility %v, want 0 to %v: %w", c.Visibility, queue.MaxVisibility, queue.ErrInvalid)
	case c.MaxReceives < 0 || c.MaxReceives > 1000:
		return fmt.Errorf("max receives %d, want 0 to 1000: %w", c.MaxReceives, queue.ErrInvalid)
	}
	if c.MaxReceives > 0 {
		if _, ok := byName[c.DeadLetter]; !ok || c.DeadLetter == c.Name {
			return fmt.Errorf("dead-letter queue %q is not among the queues created: %w", c.DeadLetter, queue.ErrInvalid)
		}
	}
	return nil
}
