// Package nag carries cdk-nag suppressions from the Go app to the
// best-practice check: each suppression becomes the resource's
// Metadata.cdk_nag.rules_to_suppress entry in the synthesized template, where
// cdk-nag (run by nag.js in this folder on the template) honours it.
//
// Every suppression carries a written reason; cdk-nag refuses reasons shorter
// than ten characters, and Suppress refuses them first.
package nag

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// MinReason is the shortest reason cdk-nag accepts, in characters.
const MinReason = 10

// Rule suppresses one cdk-nag rule on one resource.
type Rule struct {
	ID     string // e.g. "AwsSolutions-IAM5"
	Reason string // why the finding does not apply here; at least MinReason characters
	// AppliesTo narrows the suppression to these findings of a rule that
	// reports several (e.g. "Action::s3:GetObject*"); a value written as
	// "/regexp/" is matched as a regular expression. Empty suppresses all.
	AppliesTo []string
}

// Suppress attaches rules to the CloudFormation resource of c (c itself, or
// its default child). It panics, as construct code does, when c has no
// CloudFormation resource or a rule has no ID or too short a reason: those are
// mistakes in the app, not inputs.
func Suppress(c constructs.IConstruct, rules ...Rule) {
	res := resource(c)
	var list []interface{}
	if old, ok := res.GetMetadata(jsii.String("cdk_nag")).(map[string]interface{}); ok {
		if prev, ok := old["rules_to_suppress"].([]interface{}); ok {
			list = append(list, prev...)
		}
	}
	for _, r := range rules {
		if r.ID == "" || len([]rune(r.Reason)) < MinReason {
			panic(fmt.Sprintf("nag: suppression %q on %s needs an ID and a reason of at least %d characters", r.ID, *c.Node().Path(), MinReason))
		}
		entry := map[string]interface{}{"id": r.ID, "reason": r.Reason}
		if len(r.AppliesTo) > 0 {
			var applies []interface{}
			for _, a := range r.AppliesTo {
				if len(a) > 1 && a[0] == '/' && a[len(a)-1] == '/' {
					applies = append(applies, map[string]interface{}{"regex": a + "g"})
				} else {
					applies = append(applies, a)
				}
			}
			entry["applies_to"] = applies
		}
		list = append(list, entry)
	}
	res.AddMetadata(jsii.String("cdk_nag"), map[string]interface{}{"rules_to_suppress": list})
}

func resource(c constructs.IConstruct) awscdk.CfnResource {
	if r, ok := c.(awscdk.CfnResource); ok {
		return r
	}
	if child := c.Node().DefaultChild(); child != nil {
		if r, ok := child.(awscdk.CfnResource); ok {
			return r
		}
	}
	panic(fmt.Sprintf("nag: %s has no CloudFormation resource to carry a suppression", *c.Node().Path()))
}
