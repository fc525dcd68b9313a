// Package api defines the public edge of Alto: an API Gateway REST API that
// proxies every request to the api function, with stage throttling and a
// WAFv2 web ACL (AWS managed rule groups and a per-IP rate-based rule:
// ACC-04), access logs that carry no personal data (ENC-06) in a log group
// encrypted with a customer-managed key (ENC-01), and a custom domain with
// the TLS 1.2 security policy when one is configured (ACC-06).
package api

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awswafv2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/alto/alto/infra/cdk/nag"
)

// Defaults of Props.
const (
	DefaultRateLimit    = 100  // requests per second, steady, across the stage
	DefaultBurstLimit   = 200  // requests, burst, across the stage
	DefaultWAFRateLimit = 1000 // requests per client IP in any 5 minutes
	StageName           = "prod"
)

// AccessLogFields are the fields of each access-log line, in order:
// identifiers, status and timings, never the caller's IP, user agent, path
// (which may hold an opt-out token or a record ID) or any header (ENC-06).
var AccessLogFields = [][2]string{
	{"requestId", "$context.requestId"},
	{"extendedRequestId", "$context.extendedRequestId"},
	{"requestTime", "$context.requestTimeEpoch"},
	{"httpMethod", "$context.httpMethod"},
	{"resourcePath", "$context.resourcePath"},
	{"status", "$context.status"},
	{"protocol", "$context.protocol"},
	{"responseLength", "$context.responseLength"},
	{"responseLatency", "$context.responseLatency"},
	{"integrationLatency", "$context.integrationLatency"},
	{"integrationStatus", "$context.integrationStatus"},
	{"wafStatus", "$context.waf.status"},
	{"error", "$context.error.messageString"}, // API Gateway quotes and escapes it
}

// accessLogFormat is AccessLogFields as the one-line JSON template API
// Gateway fills in.
func accessLogFormat() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, f := range AccessLogFields {
		if i > 0 {
			b.WriteByte(',')
		}
		if strings.HasSuffix(f[1], "String") {
			fmt.Fprintf(&b, "%q:%s", f[0], f[1])
		} else {
			fmt.Fprintf(&b, "%q:%q", f[0], f[1])
		}
	}
	b.WriteByte('}')
	return b.String()
}

// Props configures the API.
type Props struct {
	Handler awslambda.IFunction // the api function; required
	Key     awskms.IKey         // encrypts the access-log group; required
	// RateLimit and BurstLimit throttle the stage; zero means the defaults.
	RateLimit, BurstLimit int
	// WAFRateLimit blocks a client IP above this many requests in 5 minutes
	// (WAF allows 10..2,000,000,000); zero means DefaultWAFRateLimit.
	WAFRateLimit int
	// Domain and CertificateArn, both or neither, serve the API on a custom
	// domain with the TLS 1.2 security policy; the execute-api endpoint is
	// then disabled, so no client can reach the API another way.
	Domain, CertificateArn string
}

// API holds the API and its web ACL.
type API struct {
	constructs.Construct
	RestAPI awsapigateway.LambdaRestApi
	WebACL  awswafv2.CfnWebACL
	// URL is where clients reach the API: https://<Domain>/ or the stage URL.
	URL *string
}

// NewAPI defines the API under scope/id. It panics, as construct code does,
// when only one of Domain and CertificateArn is set or a limit is negative.
func NewAPI(scope constructs.Construct, id string, props *Props) API {
	if (props.Domain == "") != (props.CertificateArn == "") {
		panic("api: Domain and CertificateArn go together")
	}
	rate, burst, wafRate := orDefault(props.RateLimit, DefaultRateLimit), orDefault(props.BurstLimit, DefaultBurstLimit), orDefault(props.WAFRateLimit, DefaultWAFRateLimit)
	if rate < 0 || burst < 0 || wafRate < 10 {
		panic(fmt.Sprintf("api: limits rate %d, burst %d, WAF %d: want rate, burst >= 0 and WAF >= 10", rate, burst, wafRate))
	}
	c := constructs.NewConstruct(scope, jsii.String(id))
	logs := awslogs.NewLogGroup(c, jsii.String("AccessLogs"), &awslogs.LogGroupProps{
		Retention:     awslogs.RetentionDays_THREE_MONTHS,
		EncryptionKey: props.Key,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	restProps := &awsapigateway.LambdaRestApiProps{
		Handler:               props.Handler,
		Proxy:                 jsii.Bool(true),
		Description:           jsii.String("Alto HTTP API"),
		EndpointConfiguration: &awsapigateway.EndpointConfiguration{Types: &[]awsapigateway.EndpointType{awsapigateway.EndpointType_REGIONAL}},
		// API Gateway writes access logs through the account's CloudWatch role.
		CloudWatchRole: jsii.Bool(true),
		DeployOptions: &awsapigateway.StageOptions{
			StageName:            jsii.String(StageName),
			ThrottlingRateLimit:  jsii.Number(rate),
			ThrottlingBurstLimit: jsii.Number(burst),
			LoggingLevel:         awsapigateway.MethodLoggingLevel_ERROR,
			DataTraceEnabled:     jsii.Bool(false), // would log request and response bodies
			MetricsEnabled:       jsii.Bool(true),
			CachingEnabled:       jsii.Bool(false), // responses hold personal data
			AccessLogDestination: awsapigateway.NewLogGroupLogDestination(logs),
			AccessLogFormat:      awsapigateway.AccessLogFormat_Custom(jsii.String(accessLogFormat())),
		},
	}
	if props.Domain != "" {
		restProps.DomainName = &awsapigateway.DomainNameOptions{
			DomainName:     jsii.String(props.Domain),
			Certificate:    awscertificatemanager.Certificate_FromCertificateArn(c, jsii.String("Certificate"), jsii.String(props.CertificateArn)),
			SecurityPolicy: awsapigateway.SecurityPolicy_TLS_1_2,
			EndpointType:   awsapigateway.EndpointType_REGIONAL,
		}
		restProps.DisableExecuteApiEndpoint = jsii.Bool(true)
	}
	rest := awsapigateway.NewLambdaRestApi(c, jsii.String("RestApi"), restProps)

	authn := "Alto authenticates in the function: a JWT validated against the issuer's JWKS (ACC-01), or a SCIM bearer token; public routes (forms, opt-out, health, JWKS) must stay reachable without one."
	for _, m := range *rest.Methods() {
		nag.Suppress(m,
			nag.Rule{ID: "AwsSolutions-APIG4", Reason: authn},
			nag.Rule{ID: "AwsSolutions-COG4", Reason: authn})
	}
	nag.Suppress(rest, nag.Rule{ID: "AwsSolutions-APIG2",
		Reason: "One proxy method serves every route; the function validates each body against docs/openapi.yaml and answers RFC 9457 problem JSON with field and reason, which a gateway validator could not."})
	nag.Suppress(rest.Node().FindChild(jsii.String("CloudWatchRole")), nag.Rule{ID: "AwsSolutions-IAM4",
		AppliesTo: []string{"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"},
		Reason:    "API Gateway's account-level logging role needs AWS's push-to-CloudWatch policy; it is assumable by API Gateway only."})

	acl := webACL(c, wafRate)
	awswafv2.NewCfnWebACLAssociation(c, jsii.String("WebACLAssociation"), &awswafv2.CfnWebACLAssociationProps{
		ResourceArn: rest.DeploymentStage().StageArn(),
		WebAclArn:   acl.AttrArn(),
	})

	url := rest.Url()
	if props.Domain != "" {
		url = jsii.String("https://" + props.Domain + "/")
	}
	return API{Construct: c, RestAPI: rest, WebACL: acl, URL: url}
}

// webACL is the regional web ACL: a per-IP rate-based rule first, then AWS's
// managed rule groups. Sampled requests are off: they would keep client IPs
// and headers (tokens included) for operators to read.
func webACL(scope constructs.Construct, rate int) awswafv2.CfnWebACL {
	visibility := func(name string) *awswafv2.CfnWebACL_VisibilityConfigProperty {
		return &awswafv2.CfnWebACL_VisibilityConfigProperty{
			CloudWatchMetricsEnabled: jsii.Bool(true),
			MetricName:               jsii.String("alto-" + name),
			SampledRequestsEnabled:   jsii.Bool(false),
		}
	}
	managed := func(priority int, name string, overrides ...string) *awswafv2.CfnWebACL_RuleProperty {
		var count []interface{}
		for _, o := range overrides {
			count = append(count, &awswafv2.CfnWebACL_RuleActionOverrideProperty{
				Name:        jsii.String(o),
				ActionToUse: &awswafv2.CfnWebACL_RuleActionProperty{Count: &awswafv2.CfnWebACL_CountActionProperty{}},
			})
		}
		stmt := &awswafv2.CfnWebACL_ManagedRuleGroupStatementProperty{VendorName: jsii.String("AWS"), Name: jsii.String(name)}
		if len(count) > 0 {
			stmt.RuleActionOverrides = &count
		}
		return &awswafv2.CfnWebACL_RuleProperty{
			Name:             jsii.String(name),
			Priority:         jsii.Number(priority),
			OverrideAction:   &awswafv2.CfnWebACL_OverrideActionProperty{None: map[string]interface{}{}},
			Statement:        &awswafv2.CfnWebACL_StatementProperty{ManagedRuleGroupStatement: stmt},
			VisibilityConfig: visibility(name),
		}
	}
	return awswafv2.NewCfnWebACL(scope, jsii.String("WebACL"), &awswafv2.CfnWebACLProps{
		Scope:            jsii.String("REGIONAL"),
		Description:      jsii.String("Alto API: per-IP rate limit and AWS managed rules"),
		DefaultAction:    &awswafv2.CfnWebACL_DefaultActionProperty{Allow: &awswafv2.CfnWebACL_AllowActionProperty{}},
		VisibilityConfig: visibility("api"),
		Rules: &[]interface{}{
			&awswafv2.CfnWebACL_RuleProperty{
				Name:     jsii.String("RatePerIP"),
				Priority: jsii.Number(0),
				Action:   &awswafv2.CfnWebACL_RuleActionProperty{Block: &awswafv2.CfnWebACL_BlockActionProperty{}},
				Statement: &awswafv2.CfnWebACL_StatementProperty{RateBasedStatement: &awswafv2.CfnWebACL_RateBasedStatementProperty{
					Limit:               jsii.Number(rate),
					AggregateKeyType:    jsii.String("IP"),
					EvaluationWindowSec: jsii.Number(300),
				}},
				VisibilityConfig: visibility("rate-per-ip"),
			},
			managed(1, "AWSManagedRulesAmazonIpReputationList"),
			// Batches of up to 500 contacts exceed the common rule set's 8 KB
			// body limit; API Gateway and the function bound body size instead.
			managed(2, "AWSManagedRulesCommonRuleSet", "SizeRestrictions_BODY"),
			managed(3, "AWSManagedRulesKnownBadInputsRuleSet"),
		},
	})
}

func orDefault(v, d int) int {
	if v == 0 {
		return d
	}
	return v
}
