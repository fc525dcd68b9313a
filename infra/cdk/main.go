// Command cdk is Alto's AWS deployment as one CDK app (OPS-01): cdk.json
// runs it as `go run ./infra/cdk`, and `make synth` runs it directly. It
// synthesizes one stack, Alto-<region>, with no AWS account at hand: the
// region comes from the context (OPS-02), the account from the deploying
// credentials.
//
// One construct per package: keys (KMS), table (DynamoDB), buckets (S3),
// queues (SQS), functions (Lambda), api (API Gateway and WAF), schedules
// (EventBridge), alarms (CloudWatch and SNS); stack.go assembles them and
// grants each function what it needs. nag/ runs cdk-nag's AwsSolutions pack
// on the templates it writes.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/alto/alto/infra/cdk/functions"
)

func main() {
	defer jsii.Close()
	if err := run(os.Getenv("CDK_OUTDIR"), nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		jsii.Close()
		os.Exit(1)
	}
}

// run synthesizes the app into outdir (default cdk.out) and tells on
// stderr what waits for a function. Context comes from ./cdk.json (which the
// CDK CLI passes on itself, but `go run` does not), then CDK_CONTEXT_JSON
// (the CLI's -c values), then extra. It returns an error for a bad
// configuration or missing assets.
func run(outdir string, extra map[string]interface{}) error {
	if outdir == "" {
		outdir = "cdk.out"
	}
	file, err := fileContext("cdk.json")
	if err != nil {
		return err
	}
	props := &awscdk.AppProps{Outdir: jsii.String(outdir), Context: &file}
	if extra != nil {
		props.PostCliContext = &extra
	}
	app := awscdk.NewApp(props)
	cfg, err := ConfigFrom(func(key string) interface{} { return app.Node().TryGetContext(jsii.String(key)) })
	if err != nil {
		return err
	}
	specs, err := functions.Present(cfg.FunctionsDir)
	if err != nil {
		return fmt.Errorf("cdk: %w", err)
	}
	if err := functions.CheckAssets(cfg.AssetDir, specs); err != nil {
		return fmt.Errorf("cdk: %w", err)
	}
	s := NewAltoStack(app, cfg.StackName(), &AltoStackProps{Config: cfg, Specs: specs, NotifyImports: ingestTakesUploads})
	app.Synth(nil)
	for _, w := range s.Waiting {
		fmt.Fprintf(os.Stderr, "cdk: %s: %s\n", cfg.StackName(), w)
	}
	return nil
}

// fileContext returns the "context" object of the cdk.json at path, or an
// empty one when there is no such file.
func fileContext(path string) (map[string]interface{}, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]interface{}{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cdk: read %s: %w", path, err)
	}
	var doc struct {
		Context map[string]interface{} `json:"context"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("cdk: read %s: %w", path, err)
	}
	if doc.Context == nil {
		doc.Context = map[string]interface{}{}
	}
	return doc.Context, nil
}
