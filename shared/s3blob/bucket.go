package s3blob

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// CreateBucket creates the bucket a Store expects, as the CDK stack does:
// default encryption SSE-KMS under kmsKeyID (with an S3 bucket key), all
// public access blocked, and a lifecycle rule that removes the parts of
// multipart uploads left incomplete for a day. It is for tests and for
// running the stack against an AWS-compatible server. The client's region
// must be us-east-1 (no location constraint is sent). Returns the service's
// error if the bucket exists.
func CreateBucket(ctx context.Context, client *s3.Client, name, kmsKeyID string) error {
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &name}); err != nil {
		return fmt.Errorf("s3blob: create bucket %s: %w", name, err)
	}
	_, err := client.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{
		Bucket: &name,
		ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{
			Rules: []types.ServerSideEncryptionRule{{
				ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{
					SSEAlgorithm:   types.ServerSideEncryptionAwsKms,
					KMSMasterKeyID: &kmsKeyID,
				},
				BucketKeyEnabled: aws.Bool(true),
			}},
		},
	})
	if err != nil {
		return fmt.Errorf("s3blob: create bucket %s: default encryption: %w", name, err)
	}
	_, err = client.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{
		Bucket: &name,
		PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{
			BlockPublicAcls:       aws.Bool(true),
			BlockPublicPolicy:     aws.Bool(true),
			IgnorePublicAcls:      aws.Bool(true),
			RestrictPublicBuckets: aws.Bool(true),
		},
	})
	if err != nil {
		return fmt.Errorf("s3blob: create bucket %s: block public access: %w", name, err)
	}
	_, err = client.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{
		Bucket: &name,
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{
			Rules: []types.LifecycleRule{{
				ID:                             aws.String("abort-incomplete-uploads"),
				Status:                         types.ExpirationStatusEnabled,
				Filter:                         &types.LifecycleRuleFilter{Prefix: aws.String("")},
				AbortIncompleteMultipartUpload: &types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(1)},
			}},
		},
	})
	if err != nil {
		return fmt.Errorf("s3blob: create bucket %s: lifecycle: %w", name, err)
	}
	return nil
}
