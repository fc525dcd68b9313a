package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/alto/alto/shared/awstest"
	"github.com/alto/alto/shared/provision"
	"github.com/alto/alto/shared/stack"
)

// openAWS opens the stack of `serve --aws` (make run-aws): the production
// adapters (DynamoDB, S3, SQS, KMS, SES, SNS) on an AWS-compatible
// endpoint, the data folder keeping only the issuer's and the log digest
// keys. The resources are those named by the ALTO_* variables when
// ALTO_TABLE is set; otherwise openAWS creates them (provision.Create) and
// prints their variables, for the next run. The endpoint is
// AWS_ENDPOINT_URL, reached with the SDK's default configuration; when
// that is unset, openAWS starts a moto_server of its own on a free
// loopback port, which forgets everything when it stops. The returned
// release stops what openAWS started; call it after closing the stack.
func openAWS(ctx context.Context, cfg stack.Config, stdout io.Writer) (*stack.Stack, func(), error) {
	release := func() {}
	var awsCfg aws.Config
	if os.Getenv("AWS_ENDPOINT_URL") != "" {
		var err error
		if awsCfg, err = config.LoadDefaultConfig(ctx); err != nil {
			return nil, nil, fmt.Errorf("serve --aws: AWS configuration: %w", err)
		}
	} else {
		srv, err := awstest.Start()
		if err != nil {
			return nil, nil, fmt.Errorf("serve --aws: %w", err)
		}
		release = func() { srv.Stop() }
		awsCfg = aws.Config{Region: awstest.Region, BaseEndpoint: aws.String(srv.URL()),
			Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}
		fmt.Fprintf(stdout, "Started moto_server at %s: everything stored there is gone when Alto stops\n", srv.URL())
	}
	res, err := resources(ctx, awsCfg, stdout, os.Getenv("AWS_ENDPOINT_URL") != "")
	if err == nil {
		var st *stack.Stack
		if st, err = stack.OpenAWS(cfg, awsCfg, res); err == nil {
			return st, release, nil
		}
	}
	release()
	return nil, nil, err
}

// resources returns the resources named by the environment when ALTO_TABLE
// is set, and otherwise creates a fresh set, printing its variables if
// the endpoint outlives the process (show).
func resources(ctx context.Context, awsCfg aws.Config, stdout io.Writer, show bool) (stack.AWS, error) {
	if os.Getenv(stack.EnvTable) != "" {
		return stack.AWSFromEnv(os.Getenv)
	}
	var b [4]byte
	rand.Read(b[:])
	res, err := provision.Create(ctx, awsCfg, "alto-local-"+hex.EncodeToString(b[:]))
	if err != nil {
		return stack.AWS{}, fmt.Errorf("serve --aws: create the resources: %w", err)
	}
	if !show {
		return res, nil
	}
	env := res.Env()
	names := make([]string, 0, len(env))
	for k := range env {
		names = append(names, k)
	}
	sort.Strings(names)
	fmt.Fprintf(stdout, "Created the stack's resources at %s; to use them again (with AWS_ENDPOINT_URL set):\n", aws.ToString(awsCfg.BaseEndpoint))
	for _, k := range names {
		fmt.Fprintf(stdout, "  export %s=%s\n", k, env[k])
	}
	return res, nil
}
