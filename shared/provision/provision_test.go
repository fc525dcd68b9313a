package provision_test

import (
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	snsapi "github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/alto/alto/shared/awstest"
	"github.com/alto/alto/shared/provision"
	"github.com/alto/alto/shared/stack"
)

func TestMain(m *testing.M) { os.Exit(awstest.Main(m)) }

// TestENC01_ResourcesEncryptedUnderTheDataKey checks that what Create makes
// is what the stack opens, and that the table, the buckets, the queues
// and the alarm topic are encrypted under the data key, as the CDK stack
// has them.
func TestENC01_ResourcesEncryptedUnderTheDataKey(t *testing.T) {
	cfg := awstest.Config(t)
	res, err := provision.Create(t.Context(), cfg, awstest.Name(t))
	if err != nil {
		t.Fatal(err)
	}
	st, err := stack.OpenAWS(stack.Config{Data: t.TempDir()}, cfg, res)
	if err != nil {
		t.Fatalf("OpenAWS over the created resources: %v", err)
	}
	st.Close()
	if res.KeysetKey == "" || res.KeysetKey == res.DataKey {
		t.Errorf("keyset key %q, data key %q: want two keys", res.KeysetKey, res.DataKey)
	}

	table, err := dynamodb.NewFromConfig(cfg).DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: &res.Table})
	if err != nil {
		t.Fatal(err)
	}
	if sse := table.Table.SSEDescription; sse == nil || aws.ToString(sse.KMSMasterKeyArn) != res.DataKey {
		t.Errorf("table encryption = %+v, want the data key %s", sse, res.DataKey)
	}

	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	for _, b := range []string{res.ImportsBucket, res.ExportsBucket, res.AuditBucket} {
		enc, err := s3c.GetBucketEncryption(t.Context(), &s3.GetBucketEncryptionInput{Bucket: aws.String(b)})
		if err != nil {
			t.Fatalf("bucket %s: %v", b, err)
		}
		rules := enc.ServerSideEncryptionConfiguration.Rules
		if len(rules) != 1 || aws.ToString(rules[0].ApplyServerSideEncryptionByDefault.KMSMasterKeyID) != res.DataKey {
			t.Errorf("bucket %s: encryption %+v, want the data key", b, rules)
		}
	}

	sqsc := sqs.NewFromConfig(cfg)
	for name, url := range res.Queues {
		out, err := sqsc.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameKmsMasterKeyId, sqstypes.QueueAttributeNameRedrivePolicy}})
		if err != nil {
			t.Fatalf("queue %s: %v", name, err)
		}
		if got := out.Attributes[string(sqstypes.QueueAttributeNameKmsMasterKeyId)]; got != res.DataKey {
			t.Errorf("queue %s: KMS key %q, want the data key", name, got)
		}
	}
	for _, primary := range []string{"ingress", "personalization", "jobs"} {
		out, err := sqsc.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(res.Queues[primary]),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameRedrivePolicy}})
		if err != nil || out.Attributes[string(sqstypes.QueueAttributeNameRedrivePolicy)] == "" {
			t.Errorf("queue %s: no redrive policy to its dead-letter queue (%v)", primary, err)
		}
	}

	topic, err := snsapi.NewFromConfig(cfg).GetTopicAttributes(t.Context(), &snsapi.GetTopicAttributesInput{TopicArn: &res.AlarmTopic})
	if err != nil {
		t.Fatal(err)
	}
	if got := topic.Attributes["KmsMasterKeyId"]; got != res.DataKey {
		t.Errorf("alarm topic: KMS key %q, want the data key", got)
	}
}
