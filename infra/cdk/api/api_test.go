package api_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"

	"github.com/alto/alto/infra/cdk/api"
	"github.com/alto/alto/infra/cdk/cdktest"
)

func TestMain(m *testing.M) { cdktest.Main(m) }

const certArn = "arn:aws:acm:us-east-1:111111111111:certificate/00000000-0000-0000-0000-000000000000"

func build(t *testing.T, props api.Props) (assertions.Template, api.API) {
	t.Helper()
	stack := cdktest.Stack(t)
	props.Key = awskms.NewKey(stack, jsii.String("Key"), nil)
	props.Handler = awslambda.NewFunction(stack, jsii.String("Handler"), &awslambda.FunctionProps{
		Runtime: awslambda.Runtime_PROVIDED_AL2023(), Handler: jsii.String("bootstrap"),
		Code: awslambda.Code_FromAsset(jsii.String(cdktest.Assets(t, "api")+"/api"), nil),
	})
	a := api.NewAPI(stack, "Api", &props)
	return cdktest.Template(t, stack), a
}

func TestAPI_ProxiesEveryRequestToTheFunction(t *testing.T) {
	tmpl, _ := build(t, api.Props{})
	cdktest.Has(t, tmpl, "AWS::ApiGateway::Resource", map[string]interface{}{"PathPart": "{proxy+}"})
	cdktest.Count(t, tmpl, "AWS::ApiGateway::Method", 2) // ANY / and ANY /{proxy+}
	cdktest.Has(t, tmpl, "AWS::ApiGateway::Method", map[string]interface{}{
		"HttpMethod":  "ANY",
		"Integration": assertions.Match_ObjectLike(&map[string]interface{}{"Type": "AWS_PROXY", "IntegrationHttpMethod": "POST"}),
	})
	cdktest.Has(t, tmpl, "AWS::ApiGateway::RestApi", map[string]interface{}{
		"EndpointConfiguration":     map[string]interface{}{"Types": []interface{}{"REGIONAL"}},
		"DisableExecuteApiEndpoint": assertions.Match_Absent(),
	})
}

func TestACC04_StageThrottling(t *testing.T) {
	for _, tc := range []struct {
		name        string
		props       api.Props
		rate, burst int
	}{
		{"defaults", api.Props{}, api.DefaultRateLimit, api.DefaultBurstLimit},
		{"configured", api.Props{RateLimit: 20, BurstLimit: 40}, 20, 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmpl, _ := build(t, tc.props)
			cdktest.Has(t, tmpl, "AWS::ApiGateway::Stage", map[string]interface{}{
				"StageName": "prod",
				"MethodSettings": assertions.Match_ArrayWith(&[]interface{}{map[string]interface{}{
					"HttpMethod": "*", "ResourcePath": "/*",
					"ThrottlingRateLimit": tc.rate, "ThrottlingBurstLimit": tc.burst,
					"LoggingLevel": "ERROR", "DataTraceEnabled": false, "MetricsEnabled": true,
					"CachingEnabled": false,
				}}),
			})
		})
	}
}

func TestACC04_WebACLRateRuleGuardsTheStage(t *testing.T) {
	for _, tc := range []struct {
		name  string
		props api.Props
		limit int
	}{
		{"default", api.Props{}, api.DefaultWAFRateLimit},
		{"configured", api.Props{WAFRateLimit: 300}, 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmpl, a := build(t, tc.props)
			cdktest.Has(t, tmpl, "AWS::WAFv2::WebACL", map[string]interface{}{
				"Scope":         "REGIONAL",
				"DefaultAction": map[string]interface{}{"Allow": map[string]interface{}{}},
				"Rules": assertions.Match_ArrayWith(&[]interface{}{
					assertions.Match_ObjectLike(&map[string]interface{}{
						"Name":   "RatePerIP",
						"Action": map[string]interface{}{"Block": map[string]interface{}{}},
						"Statement": map[string]interface{}{"RateBasedStatement": map[string]interface{}{
							"Limit": tc.limit, "AggregateKeyType": "IP", "EvaluationWindowSec": 300,
						}},
					}),
				}),
			})
			acl := cdktest.ID(t, a.WebACL)
			stage := cdktest.ID(t, a.RestAPI.DeploymentStage())
			cdktest.Has(t, tmpl, "AWS::WAFv2::WebACLAssociation", map[string]interface{}{
				"WebACLArn":   map[string]interface{}{"Fn::GetAtt": []interface{}{acl, "Arn"}},
				"ResourceArn": assertions.Match_AnyValue(),
			})
			for id, assoc := range cdktest.OfType(t, tmpl, "AWS::WAFv2::WebACLAssociation") {
				if !strings.Contains(fmt.Sprint(assoc.Properties["ResourceArn"]), stage) {
					t.Errorf("%s ResourceArn: got %v, want the stage %s", id, assoc.Properties["ResourceArn"], stage)
				}
			}
		})
	}
}

func TestAPI_ManagedRuleGroupsLetLargeBatchesThrough(t *testing.T) {
	tmpl, _ := build(t, api.Props{})
	for _, group := range []string{"AWSManagedRulesAmazonIpReputationList", "AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"} {
		t.Run(group, func(t *testing.T) {
			cdktest.Has(t, tmpl, "AWS::WAFv2::WebACL", map[string]interface{}{
				"Rules": assertions.Match_ArrayWith(&[]interface{}{assertions.Match_ObjectLike(&map[string]interface{}{
					"Name":           group,
					"OverrideAction": map[string]interface{}{"None": map[string]interface{}{}},
				})}),
			})
		})
	}
	cdktest.Has(t, tmpl, "AWS::WAFv2::WebACL", map[string]interface{}{
		"Rules": assertions.Match_ArrayWith(&[]interface{}{assertions.Match_ObjectLike(&map[string]interface{}{
			"Statement": map[string]interface{}{"ManagedRuleGroupStatement": map[string]interface{}{
				"VendorName": "AWS", "Name": "AWSManagedRulesCommonRuleSet",
				"RuleActionOverrides": []interface{}{map[string]interface{}{
					"Name": "SizeRestrictions_BODY", "ActionToUse": map[string]interface{}{"Count": map[string]interface{}{}},
				}},
			}},
		})}),
	})
}

func TestACC06_CustomDomainUsesTLS12Only(t *testing.T) {
	tmpl, a := build(t, api.Props{Domain: "api.example.com", CertificateArn: certArn})
	cdktest.Has(t, tmpl, "AWS::ApiGateway::DomainName", map[string]interface{}{
		"DomainName":             "api.example.com",
		"SecurityPolicy":         "TLS_1_2",
		"RegionalCertificateArn": certArn,
		"EndpointConfiguration":  map[string]interface{}{"Types": []interface{}{"REGIONAL"}},
	})
	cdktest.Has(t, tmpl, "AWS::ApiGateway::RestApi", map[string]interface{}{"DisableExecuteApiEndpoint": true})
	if got := *a.URL; got != "https://api.example.com/" {
		t.Errorf("URL: got %s, want https://api.example.com/", got)
	}

	plain, _ := build(t, api.Props{})
	cdktest.Count(t, plain, "AWS::ApiGateway::DomainName", 0)
}

func TestAPI_DomainWithoutCertificatePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Errorf("NewAPI with a domain and no certificate: no panic, want one")
		}
	}()
	build(t, api.Props{Domain: "api.example.com"})
}

func TestENC06_AccessLogsCarryNoPersonalData(t *testing.T) {
	tmpl, _ := build(t, api.Props{})
	stages := cdktest.OfType(t, tmpl, "AWS::ApiGateway::Stage")
	if len(stages) != 1 {
		t.Fatalf("stages: got %d, want 1", len(stages))
	}
	for id, s := range stages {
		als, _ := s.Properties["AccessLogSetting"].(map[string]interface{})
		format, _ := als["Format"].(string)
		if als["DestinationArn"] == nil || !strings.Contains(format, "$context.requestId") {
			t.Fatalf("%s AccessLogSetting: got %v, want a destination and a format with the request ID", id, als)
		}
		// Filled in with sample values, the template is JSON.
		sample := strings.NewReplacer(`$context.error.messageString`, `"Forbidden"`, `$context.`, ``).Replace(format)
		var line map[string]interface{}
		if err := json.Unmarshal([]byte(sample), &line); err != nil || len(line) != len(api.AccessLogFields) {
			t.Errorf("%s access log format is not one JSON object of %d fields: %v: %s", id, len(api.AccessLogFields), err, format)
		}
		for _, banned := range []string{"sourceIp", "userAgent", "$context.path", "identity", "authorizer", "caller", "user"} {
			if strings.Contains(format, banned) {
				t.Errorf("%s access log format holds %q: %s", id, banned, format)
			}
		}
	}
	key := fmt.Sprint(map[string]interface{}{"Fn::GetAtt": []interface{}{cdktest.LogicalID(t, tmpl, "AWS::KMS::Key"), "Arn"}})
	for id, lg := range cdktest.OfType(t, tmpl, "AWS::Logs::LogGroup") {
		if got := fmt.Sprint(lg.Properties["KmsKeyId"]); got != key {
			t.Errorf("%s KmsKeyId: got %s, want %s", id, got, key)
		}
	}
}
